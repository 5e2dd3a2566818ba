#include "plan.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace runnel::reset {

bool IsInternalTopic(std::string_view app, std::string_view topic) {
  const std::string prefix = std::string(app) + "-";
  const absl::string_view t(topic.data(), topic.size());
  if (!absl::StartsWith(t, prefix)) return false;
  if (t == absl::StrCat(prefix, "topology")) return true;
  // Something must sit between the prefix and the suffix: the store or
  // operator name.
  for (absl::string_view suffix : {"-changelog", "-repartition"}) {
    if (absl::EndsWith(t, suffix) && t.size() > prefix.size() + suffix.size()) return true;
  }
  return false;
}

std::vector<std::string> SelectInternalTopics(std::string_view app, const std::vector<std::string>& existing) {
  std::set<std::string> out;
  for (const std::string& t : existing) {
    if (IsInternalTopic(app, t)) out.insert(t);
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> DefaultInputTopics(std::string_view app,
                                            const std::map<TopicPartition, Offset>& committed) {
  std::set<std::string> out;
  for (const auto& [tp, offset] : committed) {
    if (!IsInternalTopic(app, tp.topic)) out.insert(tp.topic);
  }
  return {out.begin(), out.end()};
}

std::vector<PartitionReset> PlanOffsets(const OffsetTarget& target,
                                        const std::map<TopicPartition, PartitionFacts>& facts) {
  std::vector<PartitionReset> out;
  for (const auto& [tp, f] : facts) {
    PartitionReset r{.partition = tp, .committed = f.committed};
    switch (target.kind) {
      case OffsetTarget::Kind::kEarliest:
        r.target = f.low;
        break;
      case OffsetTarget::Kind::kLatest:
        r.target = f.high;
        break;
      case OffsetTarget::Kind::kTime:
      case OffsetTarget::Kind::kDuration:
        if (f.at_time) {
          r.target = *f.at_time;
        } else {
          r.target = f.high;
          r.note = "no record that late: the end";
        }
        break;
      case OffsetTarget::Kind::kOffset:
        if (target.offset < f.low.value()) {
          r.target = f.low;
          r.note = absl::StrCat(target.offset, " is before the log start");
        } else if (target.offset > f.high.value()) {
          r.target = f.high;
          r.note = absl::StrCat(target.offset, " is past the end");
        } else {
          r.target = Offset(target.offset);
        }
        break;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> RefusalReason(const Plan& plan, bool force_wipe_state) {
  if (!plan.group.members.empty()) {
    std::vector<std::string> who;
    for (const auto& m : plan.group.members) {
      who.push_back(absl::StrCat(m.client_id.empty() ? m.member_id : m.client_id, " on ", m.host));
    }
    return absl::StrCat("the consumer group '", plan.application_id, "' has ", plan.group.members.size(),
                        " live member(s) (", absl::StrJoin(who, ", "),
                        "): stop every instance of the application first");
  }
  if (plan.local_state && plan.local_state->in_use) {
    return absl::StrCat("the state directory ", plan.local_state->dir,
                        " is locked by a running instance: stop it first");
  }
  if (plan.local_state && plan.local_state->exists && !plan.local_state->looks_like_state && !force_wipe_state) {
    return absl::StrCat(plan.local_state->dir,
                        " has no .lock or process.id file, so it does not look like a Runnel state directory; "
                        "check --state-dir, or add --force-wipe-state to wipe it anyway");
  }
  return std::nullopt;
}

std::string FormatPlan(const Plan& plan, bool execute, bool force_wipe_state) {
  std::string out;
  const std::string& app = plan.application_id;
  absl::StrAppend(&out, "application '", app, "' (consumer group '", app, "'): ", plan.group.state, ", ",
                  plan.group.members.size(), " live member(s)\n");
  std::string target = plan.target.describe;
  if (plan.target.kind == OffsetTarget::Kind::kTime) {
    absl::StrAppend(&target, " (", FormatMillis(plan.target.millis), ")");
  } else if (plan.target.kind == OffsetTarget::Kind::kDuration) {
    absl::StrAppend(&target, " (", FormatMillis(plan.now_ms - plan.target.millis), ")");
  }
  absl::StrAppend(&out, "input topics (",
                  plan.inputs_named ? "--input-topics" : "the group's committed offsets minus internal topics",
                  "), offsets ", target, ":\n");
  if (plan.inputs.empty()) {
    absl::StrAppend(&out, "  none",
                    plan.inputs_named ? "" : ": the group has no committed offsets; name them with --input-topics",
                    "\n");
  }
  for (const auto& r : plan.inputs) {
    absl::StrAppend(&out, "  ", r.partition.ToString(), "  committed ",
                    r.committed ? absl::StrCat(r.committed->value()) : std::string("none"), " -> ",
                    r.target.value(), r.note.empty() ? "" : absl::StrCat("  (", r.note, ")"), "\n");
  }
  absl::StrAppend(&out, "internal topics to delete (", plan.internal_topics.size(), "):\n");
  for (const auto& t : plan.internal_topics) absl::StrAppend(&out, "  ", t, "\n");
  if (!plan.internal_offsets.empty()) {
    absl::StrAppend(&out, "the group's offsets on internal topics to remove: ", plan.internal_offsets.size(),
                    " partition(s)\n");
  }
  if (plan.local_state) {
    const LocalState& s = *plan.local_state;
    if (!s.exists) {
      absl::StrAppend(&out, "local state: ", s.dir, " does not exist (nothing to wipe)\n");
    } else {
      absl::StrAppend(&out, "local state to wipe: ", s.dir, " (", s.entries.size(), " entr",
                      s.entries.size() == 1 ? "y" : "ies",
                      s.entries.empty() ? "" : absl::StrCat(": ", absl::StrJoin(s.entries, ", ")),
                      "; .lock and process.id stay)\n");
    }
  } else {
    absl::StrAppend(&out, "local state: no --state-dir given, nothing wiped here\n");
  }
  absl::StrAppend(&out, "other machines: delete <state.dir>/", app,
                  " on every other machine that ran an instance,\n  before it starts again "
                  "(docs/replay.md, \"Rebuilding state\")\n");
  absl::StrAppend(&out, "output topics are not touched: the rerun writes its results again\n");
  if (auto why = RefusalReason(plan, force_wipe_state)) {
    absl::StrAppend(&out, execute ? "refused: " : "--execute would refuse now: ", *why, "\n");
  } else if (!execute) {
    absl::StrAppend(&out, "dry run: nothing was changed; add --execute to do it\n");
  }
  return out;
}

}  // namespace runnel::reset
