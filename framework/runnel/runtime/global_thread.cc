#include "runnel/runtime/global_thread.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/internal/local_state.h"
#include "runnel/runtime/internal/raw_record.h"

namespace runnel {
namespace {

// A bootstrap that reads nothing for this long while a partition is behind
// gives up (the broker is gone, or the partition has no leader).
constexpr absl::Duration kBootstrapPatience = absl::Minutes(5);
constexpr size_t kMaxBatch = 10'000;

}  // namespace

GlobalStreamThread::GlobalStreamThread(const StreamsConfig& config, std::string client_id_prefix,
                                       GlobalStores* stores, MetricsRegistry* metrics, const Clock& clock)
    : config_(config),
      client_id_(absl::StrCat(client_id_prefix, "-global-consumer")),
      stores_(stores),
      clock_(clock),
      restored_(metrics->GetCounter("runnel_global_restored_records_total")),
      applied_(metrics->GetCounter("runnel_global_records_total")) {}

GlobalStreamThread::~GlobalStreamThread() {
  RequestStop();
  Join();
}

absl::Status GlobalStreamThread::Bootstrap() {
  auto log = Logger("runnel");
  kafka::ClientConfig consumer_config = config_.ConsumerConfig(client_id_);
  consumer_config.erase("group.instance.id");
  consumer_config["enable.partition.eof"] = "true";
  consumer_config["isolation.level"] =
      config_.processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2 ? "read_committed" : "read_uncommitted";
  // An idle global topic answers a fetch after 100 ms instead of 500 ms.
  consumer_config["fetch.wait.max.ms"] = "100";
  auto consumer = kafka::Consumer::Create(consumer_config, {.clock = &clock_});
  if (!consumer.ok()) return Annotate(consumer.status(), "creating the global consumer");
  consumer_ = *std::move(consumer);
  auto admin = kafka::Admin::Create(config_.AdminConfig(), {.clock = &clock_});
  if (!admin.ok()) return Annotate(admin.status(), "creating the admin client of the global thread");

  // Every partition's range now, and whether the checkpoint fits in it.
  struct PartitionRange {
    TopicPartition tp;
    std::string store;
    Offset low, high;
  };
  std::vector<PartitionRange> ranges;
  bool contradicted = false;
  for (const auto& topic : stores_->Topics()) {
    auto store = stores_->StoreOfTopic(topic);
    if (!store.ok()) return store.status();
    auto description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
    if (absl::IsNotFound(description.status())) {
      return absl::NotFoundError(absl::StrCat("topic '", topic, "' of global store '", *store,
                                              "' does not exist; create it before starting"));
    }
    if (!description.ok()) return Annotate(description.status(), absl::StrCat("describing global topic ", topic));
    for (int32_t p = 0; p < description->partitions; ++p) {
      const TopicPartition tp{topic, Partition(p)};
      auto marks = consumer_->Watermarks(tp, absl::Seconds(30));
      if (!marks.ok()) return Annotate(marks.status(), absl::StrCat("global topic partition ", tp.ToString()));
      auto it = stores_->checkpointed().find(tp);
      if (it != stores_->checkpointed().end()) {
        if (auto why = runtime_internal::PositionOutsideLog(it->second, marks->first, marks->second)) {
          log->warn("global store '{}': {} of {}; wiping the global stores and reading their topics from the "
                    "beginning",
                    *store, *why, tp.ToString());
          contradicted = true;
        }
      }
      ranges.push_back({tp, *store, marks->first, marks->second});
    }
  }
  if (contradicted) RUNNEL_RETURN_IF_ERROR(stores_->Reset());
  // Where each partition starts and the end bootstrap reads to.
  std::vector<std::pair<TopicPartition, Offset>> assignment;
  std::map<TopicPartition, Offset> ends;
  for (const auto& range : ranges) {
    auto it = stores_->checkpointed().find(range.tp);
    const Offset start = it != stores_->checkpointed().end() ? it->second : range.low;
    positions_[range.tp] = start;
    assignment.emplace_back(range.tp, start);
    if (start < range.high) ends[range.tp] = range.high;
    log->info("global store '{}': {} from offset {} to {}", range.store, range.tp.ToString(), start.value(),
              range.high.value());
  }
  RUNNEL_RETURN_IF_ERROR(Annotate(consumer_->AssignAt(assignment), "assigning the global topics"));

  const absl::Time began = clock_.Now();
  absl::Time last_progress = began;
  int64_t total = 0;
  std::vector<kafka::ConsumedRecord> batch;
  std::vector<std::pair<TopicPartition, Offset>> eof;
  while (!ends.empty()) {
    if (stop_.load()) return absl::CancelledError("stopped during the global stores' bootstrap");
    batch.clear();
    eof.clear();
    RUNNEL_RETURN_IF_ERROR(consumer_->Poll(absl::Milliseconds(100), kMaxBatch, batch, &eof));
    int64_t applied = 0;
    RUNNEL_RETURN_IF_ERROR(Apply(batch, &applied));
    total += applied;
    const absl::Time now = clock_.Now();
    if (applied > 0) last_progress = now;
    // The end the consumer can reach: under read_committed the last stable
    // offset, which an open transaction may hold below the high watermark.
    for (const auto& [tp, position] : eof) {
      auto p = positions_.find(tp);
      if (p != positions_.end() && position > p->second) p->second = position;
      ends.erase(tp);
    }
    for (auto it = ends.begin(); it != ends.end();) {
      it = positions_[it->first] >= it->second ? ends.erase(it) : std::next(it);
    }
    if (!ends.empty() && now - last_progress > kBootstrapPatience) {
      std::vector<std::string> behind;
      for (const auto& [tp, end] : ends) {
        behind.push_back(absl::StrCat(tp.ToString(), " at ", positions_[tp].value(), " of ", end.value()));
      }
      return absl::UnavailableError(absl::StrCat("global stores' bootstrap read nothing for ",
                                                 absl::FormatDuration(kBootstrapPatience), ": ",
                                                 absl::StrJoin(behind, ", ")));
    }
  }
  restored_->Increment(total);
  RUNNEL_RETURN_IF_ERROR(stores_->Checkpoint(positions_));
  checkpointed_ = positions_;
  log->info("global stores bootstrapped: {} records in {}", total, absl::FormatDuration(clock_.Now() - began));
  return absl::OkStatus();
}

absl::Status GlobalStreamThread::Apply(std::vector<kafka::ConsumedRecord>& batch, int64_t* applied) {
  for (const auto& r : batch) {
    const TopicPartition tp{std::string(r.topic()), r.partition()};
    auto position = positions_.find(tp);
    // A record before the position was applied already (a refetch).
    if (position != positions_.end() && r.offset() < position->second) continue;
    RUNNEL_RETURN_IF_ERROR(stores_->Update(runtime_internal::ToRawRecord(r)));
    positions_[tp] = Offset(r.offset().value() + 1);
    ++*applied;
  }
  return absl::OkStatus();
}

absl::Status GlobalStreamThread::Start(std::function<void(const absl::Status&)> on_exit) {
  if (consumer_ == nullptr) return absl::FailedPreconditionError("the global thread starts after Bootstrap");
  on_exit_ = std::move(on_exit);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void GlobalStreamThread::Join() {
  if (thread_.joinable()) thread_.join();
}

void GlobalStreamThread::Run() {
  auto log = Logger("runnel");
  log->info("global thread started");
  absl::Status s = RunLoop();
  if (s.ok()) {
    // A clean stop: what the stores hold is checkpointed, so a restart
    // reads only what arrived since.
    s = stores_->Checkpoint(positions_);
    if (!s.ok()) log->error("global thread: final checkpoint failed: {}", s.ToString());
  } else {
    log->error("global thread stopping on error: {}", s.ToString());
  }
  absl::Status closed = consumer_->Close();
  if (!closed.ok()) log->warn("global thread: closing the consumer: {}", closed.ToString());
  log->info("global thread stopped ({} records applied)", applied_->value());
  if (on_exit_) on_exit_(s);
}

absl::Status GlobalStreamThread::RunLoop() {
  std::vector<kafka::ConsumedRecord> batch;
  absl::Time last_checkpoint = clock_.Now();
  while (!stop_.load(std::memory_order_relaxed)) {
    batch.clear();
    RUNNEL_RETURN_IF_ERROR(Annotate(consumer_->Poll(config_.poll_timeout(), kMaxBatch, batch), "global thread"));
    int64_t applied = 0;
    RUNNEL_RETURN_IF_ERROR(Apply(batch, &applied));
    applied_->Increment(applied);
    if (clock_.Now() - last_checkpoint >= config_.commit_interval()) {
      last_checkpoint = clock_.Now();
      if (positions_ != checkpointed_) {
        RUNNEL_RETURN_IF_ERROR(stores_->Checkpoint(positions_));
        checkpointed_ = positions_;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace runnel
