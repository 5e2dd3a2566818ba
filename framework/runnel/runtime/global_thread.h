#ifndef RUNNEL_RUNTIME_GLOBAL_THREAD_H_
#define RUNNEL_RUNTIME_GLOBAL_THREAD_H_

// GlobalStreamThread: keeps an instance's global stores (GlobalStores) up
// to date from every partition of their topics, as Kafka Streams'
// GlobalStreamThread does.
//
// Its consumer has no group: it is assigned every partition of every global
// topic by hand, so every instance reads all of them. isolation.level is
// read_committed under exactly_once_v2 and read_uncommitted otherwise.
//
// Both phases read through one ChangelogReader (changelog_reader.h).
//
// Bootstrap (KafkaStreams::Start, before any stream thread starts): each
// partition is read from its checkpointed offset (or its beginning) to the
// end it had when bootstrap began: the high watermark, or under
// read_committed the last stable offset, finished by the position where
// the consumer reports the partition's end (past a trailing transaction
// marker). Then the stores are flushed and checkpointed. A missing global topic fails
// Start, naming it. A checkpoint outside a partition's offsets (the topic
// was recreated, or retention deleted records the store never saw) resets
// the stores: wiped and read from the beginning.
//
// Running: its own thread polls the same consumer and applies every record
// as it arrives; every commit.interval.ms (and on a clean stop) it flushes
// the stores and writes the checkpoint. An error ends the thread and is
// handed to `on_exit`, which stops the application (KafkaStreams).
//
// Metrics (this instance's registry): runnel_global_restored_records_total
// (records read by bootstrap), runnel_global_records_total (records applied
// while running).
//
// Ownership: KafkaStreams owns it; GlobalStores, config, metrics and clock
// outlive it. Threading: Bootstrap, Start, RequestStop and Join from the
// owner; the loop on its own thread. Lifecycle: created -> Bootstrap ->
// Start -> running -> RequestStop -> (final checkpoint) -> Join.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/runtime/changelog_reader.h"
#include "runnel/runtime/global_stores.h"
#include "runnel/runtime/streams_config.h"

namespace runnel {

class GlobalStreamThread {
 public:
  // `client_id_prefix` names the consumer (<prefix>-global-consumer).
  GlobalStreamThread(const StreamsConfig& config, std::string client_id_prefix, GlobalStores* stores,
                     MetricsRegistry* metrics, const Clock& clock);
  ~GlobalStreamThread();

  // Reads every global topic up to its current end into the stores, then
  // checkpoints. NotFound names a missing topic.
  absl::Status Bootstrap();
  // Starts following the topics. `on_exit` runs on the thread as it ends,
  // with its final status (OK after RequestStop).
  absl::Status Start(std::function<void(const absl::Status&)> on_exit);
  void RequestStop() { stop_.store(true); }
  void Join();

  // Records read by Bootstrap.
  int64_t restored_records() const { return restored_->value(); }

 private:
  void Run();
  absl::Status RunLoop();
  // ChangelogSink for the global stores: each record through its store's
  // processor.
  class Sink final : public ChangelogSink {
   public:
    explicit Sink(GlobalStores* stores) : stores_(stores) {}
    absl::Status Apply(const TopicPartition& tp, const std::vector<const kafka::ConsumedRecord*>& records,
                       Offset next) override;

   private:
    GlobalStores* stores_;
  };

  const StreamsConfig& config_;
  const std::string client_id_;
  GlobalStores* stores_;
  const Clock& clock_;
  Counter* restored_;
  Counter* applied_;
  Sink sink_;
  std::unique_ptr<ChangelogConsumer> consumer_;
  // Every partition of every global topic; its positions are what the
  // stores hold (thread-only once started).
  std::unique_ptr<ChangelogReader> reader_;
  std::map<TopicPartition, Offset> checkpointed_;
  std::function<void(const absl::Status&)> on_exit_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_GLOBAL_THREAD_H_
