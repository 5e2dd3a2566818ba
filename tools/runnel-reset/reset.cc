#include "reset.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "local_state.h"
#include "runnel/common/status.h"

namespace runnel::reset {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
// Topic deletion completes asynchronously on the controller.
constexpr absl::Duration kDeletionWait = absl::Seconds(120);

// A group coordinator still loading its partition (a broker that has just
// started: COORDINATOR_LOAD_IN_PROGRESS) answers Unavailable: asked again,
// every 200 ms for up to 30 s, before the tool gives up.
template <typename Call>
auto RetryUnavailable(Call call) {
  auto result = call();
  for (int attempt = 1; absl::IsUnavailable(result.status()) && attempt < 150; ++attempt) {
    absl::SleepFor(absl::Milliseconds(200));
    result = call();
  }
  return result;
}

}  // namespace

absl::StatusOr<Plan> MakePlan(const ResetOptions& options, kafka::Admin& admin, const Clock& clock) {
  Plan plan{.application_id = options.application_id,
            .target = options.target,
            .now_ms = clock.NowMillis().value(),
            .inputs_named = !options.input_topics.empty()};
  const std::string& app = options.application_id;
  // A group that never committed may be unknown to the coordinator
  // (GROUP_ID_NOT_FOUND): no members, no offsets.
  auto group = RetryUnavailable([&] { return admin.DescribeGroup(app, kTimeout); });
  if (absl::IsNotFound(group.status())) group = kafka::GroupDescription{.state = "Dead"};
  if (!group.ok()) return Annotate(group.status(), absl::StrCat("describing consumer group '", app, "'"));
  plan.group = *std::move(group);
  auto committed = RetryUnavailable([&] { return admin.ListGroupOffsets(app, kTimeout); });
  if (absl::IsNotFound(committed.status())) committed = std::map<TopicPartition, Offset>{};
  if (!committed.ok()) {
    return Annotate(committed.status(), absl::StrCat("committed offsets of consumer group '", app, "'"));
  }
  auto topics = admin.ListTopics(kTimeout);
  if (!topics.ok()) return Annotate(topics.status(), "listing topics");

  if (options.internal_topics.empty()) {
    plan.internal_topics = SelectInternalTopics(app, *topics);
  } else {
    const std::set<std::string> existing(topics->begin(), topics->end());
    for (const std::string& t : options.internal_topics) {
      if (!existing.contains(t)) return absl::NotFoundError(absl::StrCat("--internal-topics: '", t, "' does not exist"));
    }
    plan.internal_topics = options.internal_topics;
  }
  const std::set<std::string> internal(plan.internal_topics.begin(), plan.internal_topics.end());
  for (const auto& [tp, offset] : *committed) {
    if (internal.contains(tp.topic) || IsInternalTopic(app, tp.topic)) plan.internal_offsets.push_back(tp);
  }

  const std::vector<std::string> inputs =
      plan.inputs_named ? options.input_topics : DefaultInputTopics(app, *committed);
  std::map<TopicPartition, PartitionFacts> facts;
  for (const std::string& topic : inputs) {
    auto description = admin.DescribeTopic(topic, kTimeout);
    if (!description.ok()) return Annotate(description.status(), absl::StrCat("input topic '", topic, "'"));
    for (int32_t p = 0; p < description->partitions; ++p) {
      const TopicPartition tp{topic, Partition(p)};
      auto it = committed->find(tp);
      facts[tp].committed = it != committed->end() ? std::optional<Offset>(it->second) : std::nullopt;
    }
  }
  auto ask = [&](auto spec_of) -> absl::StatusOr<std::map<TopicPartition, std::optional<Offset>>> {
    std::map<TopicPartition, int64_t> specs;
    for (const auto& [tp, f] : facts) specs[tp] = spec_of(tp);
    return admin.ListOffsets(specs, kTimeout);
  };
  auto lows = ask([](const TopicPartition&) { return kafka::Admin::kEarliestOffset; });
  if (!lows.ok()) return lows.status();
  auto highs = ask([](const TopicPartition&) { return kafka::Admin::kLatestOffset; });
  if (!highs.ok()) return highs.status();
  for (auto& [tp, f] : facts) {
    const std::optional<Offset> low = lows->at(tp), high = highs->at(tp);
    if (!low || !high) return absl::InternalError(absl::StrCat("no log start or end for ", tp.ToString()));
    f.low = *low;
    f.high = *high;
  }
  if (options.target.kind == OffsetTarget::Kind::kTime || options.target.kind == OffsetTarget::Kind::kDuration) {
    const int64_t at = options.target.kind == OffsetTarget::Kind::kTime ? options.target.millis
                                                                         : plan.now_ms - options.target.millis;
    auto found = ask([at](const TopicPartition&) { return at; });
    if (!found.ok()) return found.status();
    for (auto& [tp, f] : facts) f.at_time = found->at(tp);
  }
  plan.inputs = PlanOffsets(options.target, facts);

  if (!options.state_dir.empty()) {
    auto local = InspectLocalState(options.state_dir, app);
    if (!local.ok()) return local.status();
    plan.local_state = *std::move(local);
  }
  return plan;
}

absl::Status ExecutePlan(const Plan& plan, bool force_wipe_state, kafka::Admin& admin, const Clock& clock,
                         std::string& log) {
  if (auto why = RefusalReason(plan, force_wipe_state)) return absl::FailedPreconditionError(*why);
  const std::string& app = plan.application_id;
  if (!plan.inputs.empty()) {
    std::map<TopicPartition, Offset> offsets;
    for (const auto& r : plan.inputs) offsets[r.partition] = r.target;
    RUNNEL_RETURN_IF_ERROR(Annotate(admin.AlterGroupOffsets(app, offsets, kTimeout),
                                    absl::StrCat("setting the offsets of consumer group '", app, "'")));
    absl::StrAppend(&log, "set ", offsets.size(), " input partition offset(s)\n");
  }
  if (!plan.internal_offsets.empty()) {
    RUNNEL_RETURN_IF_ERROR(admin.DeleteGroupOffsets(app, plan.internal_offsets, kTimeout));
    absl::StrAppend(&log, "removed the group's offsets on ", plan.internal_offsets.size(),
                    " internal topic partition(s)\n");
  }
  if (!plan.internal_topics.empty()) {
    RUNNEL_RETURN_IF_ERROR(admin.DeleteTopics(plan.internal_topics, kTimeout));
    const absl::Time deadline = clock.Now() + kDeletionWait;
    std::vector<std::string> left = plan.internal_topics;
    while (true) {
      auto topics = admin.ListTopics(kTimeout);
      if (!topics.ok()) return Annotate(topics.status(), "listing topics after deleting the internal ones");
      const std::set<std::string> existing(topics->begin(), topics->end());
      std::erase_if(left, [&](const std::string& t) { return !existing.contains(t); });
      if (left.empty()) break;
      if (clock.Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("internal topics still listed ",
                                                        absl::FormatDuration(kDeletionWait),
                                                        " after deleting them: ", absl::StrJoin(left, ", ")));
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    absl::StrAppend(&log, "deleted ", plan.internal_topics.size(), " internal topic(s)\n");
  }
  if (plan.local_state) {
    auto removed = WipeLocalState(*plan.local_state, force_wipe_state);
    if (!removed.ok()) return removed.status();
    absl::StrAppend(&log, "wiped ", plan.local_state->dir, " (", *removed, " entr", *removed == 1 ? "y" : "ies",
                    " removed)\n");
  }
  absl::StrAppend(&log, "reset of '", app, "' done: start the application to process its input again\n");
  return absl::OkStatus();
}

}  // namespace runnel::reset
