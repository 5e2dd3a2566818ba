#include "runnel/runtime/global_thread.h"

#include "absl/strings/str_cat.h"
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
      applied_(metrics->GetCounter("runnel_global_records_total")),
      sink_(stores) {}

GlobalStreamThread::~GlobalStreamThread() {
  RequestStop();
  Join();
}

absl::Status GlobalStreamThread::Bootstrap() {
  auto log = Logger("runnel");
  kafka::ClientConfig consumer_config = config_.ConsumerConfig(client_id_);
  consumer_config["isolation.level"] =
      config_.processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2 ? "read_committed" : "read_uncommitted";
  // An idle global topic answers a fetch after 100 ms instead of 500 ms.
  consumer_config["fetch.wait.max.ms"] = "100";
  auto consumer = CreateChangelogConsumer(consumer_config, clock_);
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
        if (auto why = runtime::internal::PositionOutsideLog(it->second, marks->first, marks->second)) {
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
  // Each partition from the checkpoint (or its start) to its end now, and
  // then on: bootstrap applies records past the end too, since the
  // consumer will not read them again.
  std::vector<ChangelogPartition> partitions;
  for (const auto& range : ranges) {
    auto it = stores_->checkpointed().find(range.tp);
    partitions.push_back(ChangelogPartition{
        .tp = range.tp,
        .start = it != stores_->checkpointed().end() ? it->second : range.low,
        .end = range.high,
        .follow_after_end = true,
        .sink = &sink_,
        .owner = "global thread",
        .store = range.store});
  }
  reader_ = std::make_unique<ChangelogReader>(
      *consumer_, ChangelogReaderOptions{.clock = &clock_,
                                         .max_batch = kMaxBatch,
                                         .poll_wait = absl::Milliseconds(100),
                                         .patience = kBootstrapPatience});
  RUNNEL_RETURN_IF_ERROR(Annotate(reader_->Assign(std::move(partitions)), "assigning the global topics"));

  const absl::Time began = clock_.Now();
  for (;;) {
    if (stop_.load()) return absl::CancelledError("stopped during the global stores' bootstrap");
    auto done = reader_->Restore(absl::Milliseconds(500));
    if (!done.ok()) return Annotate(done.status(), "bootstrapping the global stores");
    if (*done) break;
  }
  restored_->Increment(reader_->records_applied());
  checkpointed_ = reader_->Positions();
  RUNNEL_RETURN_IF_ERROR(stores_->Checkpoint(checkpointed_));
  log->info("global stores bootstrapped: {} records in {}", reader_->records_applied(),
            absl::FormatDuration(clock_.Now() - began));
  return absl::OkStatus();
}

absl::Status GlobalStreamThread::Sink::Apply(const TopicPartition& /*tp*/,
                                             const std::vector<const kafka::ConsumedRecord*>& records,
                                             Offset /*next*/) {
  for (const kafka::ConsumedRecord* r : records) {
    RUNNEL_RETURN_IF_ERROR(stores_->Update(runtime::internal::ToRawRecord(*r)));
  }
  return absl::OkStatus();
}

absl::Status GlobalStreamThread::Start(std::function<void(const absl::Status&)> on_exit) {
  if (reader_ == nullptr) return absl::FailedPreconditionError("the global thread starts after Bootstrap");
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
    s = stores_->Checkpoint(reader_->Positions());
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
  absl::Time last_checkpoint = clock_.Now();
  while (!stop_.load(std::memory_order_relaxed)) {
    auto applied = reader_->Follow(config_.poll_timeout());
    if (!applied.ok()) return applied.status();
    applied_->Increment(*applied);
    if (clock_.Now() - last_checkpoint >= config_.commit_interval()) {
      last_checkpoint = clock_.Now();
      std::map<TopicPartition, Offset> positions = reader_->Positions();
      if (positions != checkpointed_) {
        RUNNEL_RETURN_IF_ERROR(stores_->Checkpoint(positions));
        checkpointed_ = std::move(positions);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace runnel
