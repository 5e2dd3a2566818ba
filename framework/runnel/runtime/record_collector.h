#ifndef RUNNEL_RUNTIME_RECORD_COLLECTOR_H_
#define RUNNEL_RUNTIME_RECORD_COLLECTOR_H_

// RecordCollector: every record a stream thread's tasks write (sink and
// dead-letter records through RecordSink, changelog records through
// ChangelogWriter) goes out through it to the thread's producer. It keeps
// the delivery accounting a commit needs: records in flight, the first
// delivery error since the last Flush, and per changelog partition the
// offset after its last delivered record. Under exactly-once it opens the
// producer's transaction at the first send after a commit and keeps the
// first error of the open transaction's sends; under at-least-once a send
// error goes back to the task, and a delivery error comes back from Flush
// (the thread then rewinds to the last commit). See docs/architecture.md,
// "The processing loop" and "Exactly-once v2".
//
// Ownership: a StreamThread owns its collector and its producer; the
// producer is attached with Attach and outlives the attachment. Threading:
// everything on the stream thread, except OnDelivery, which the producer's
// delivery thread calls. Lifecycle: created -> Attach(producer) -> sends,
// flushes, transactions -> Attach(replacement) ... -> destroyed after the
// tasks that send through it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/types.h"
#include "runnel/kafka/producer.h"
#include "runnel/kafka/record.h"
#include "runnel/processor/record_sink.h"
#include "runnel/state/changelog.h"

namespace runnel {

// The producer as the collector uses it: kafka::Producer in the runtime
// (KafkaCollectorProducer), an in-memory fake in unit tests. Send enqueues;
// every record enqueued is later reported to the collector's OnDelivery.
class CollectorProducer {
 public:
  virtual ~CollectorProducer() = default;
  // kUnavailable: the queue stayed full for `queue_full_wait`.
  virtual absl::Status Send(const kafka::OutgoingRecord& record, absl::Duration queue_full_wait) = 0;
  // Waits for every record sent so far to be reported; kDeadlineExceeded
  // when some are still in flight at `timeout`.
  virtual absl::Status Flush(absl::Duration timeout) = 0;
  virtual absl::StatusOr<int32_t> PartitionCount(const std::string& topic, absl::Duration timeout) = 0;
  virtual absl::Status BeginTransaction() = 0;
};

// CollectorProducer over a kafka::Producer (not owned; must outlive this).
class KafkaCollectorProducer final : public CollectorProducer {
 public:
  explicit KafkaCollectorProducer(kafka::Producer* producer) : producer_(producer) {}
  absl::Status Send(const kafka::OutgoingRecord& record, absl::Duration queue_full_wait) override {
    return producer_->Send(record, queue_full_wait);
  }
  absl::Status Flush(absl::Duration timeout) override { return producer_->Flush(timeout); }
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic, absl::Duration timeout) override {
    return producer_->PartitionCount(topic, timeout);
  }
  absl::Status BeginTransaction() override { return producer_->BeginTransaction(); }

 private:
  kafka::Producer* producer_;
};

class RecordCollector final : public RecordSink, public ChangelogWriter {
 public:
  // `name` prefixes log lines (the thread's name). `changelog_topics` are
  // the topics whose delivered offsets are tracked. `stop` (outlives the
  // collector) set makes a send waiting on a full queue give up.
  RecordCollector(std::string name, bool exactly_once, absl::flat_hash_set<std::string> changelog_topics,
                  const Clock& clock, const std::atomic<bool>& stop);

  RecordCollector(const RecordCollector&) = delete;
  RecordCollector& operator=(const RecordCollector&) = delete;

  // Sends go to `producer` from now on (null: none may be sent). A new (or
  // replacing) producer starts with nothing in flight, no error, no open
  // transaction and no delivered offsets; attach it before its first send
  // and after the producer it replaces is destroyed (its last delivery
  // reports then have been counted against the old attachment).
  void Attach(CollectorProducer* producer);

  // The delivery reports of the attached producer (kafka::Producer's
  // on_delivery). Any thread.
  void OnDelivery(const kafka::DeliveryReport& report);

  // RecordSink: sink nodes and the dead-letter handler. Partitions by
  // `partition_key` when set (partition counts are remembered per topic).
  // Waits while the producer's queue is full; stopping gives up with
  // kCancelled (nothing after the last commit was committed).
  absl::Status Send(const SerializedRecord& record) override;
  absl::StatusOr<int32_t> PartitionCount(std::string_view topic) override;
  // ChangelogWriter: the tasks' logged stores.
  absl::Status Send(std::string_view topic, Partition partition, std::string_view key,
                    std::optional<std::string_view> value, Timestamp timestamp) override;

  // Records sent and not yet reported delivered or failed.
  int64_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }
  // Waits up to `timeout` for every record sent so far. kDeadlineExceeded
  // while records are still in flight (the delivery error, if any, stays
  // for the next Flush); otherwise the first delivery error since the last
  // Flush (then forgotten), or OK: everything sent before is durable.
  absl::Status Flush(absl::Duration timeout);

  // Per changelog partition, the offset after its last record delivered
  // since the previous call (the last commit); forgets them.
  absl::flat_hash_map<TopicPartition, Offset> TakeDeliveredChangelogOffsets();

  // Exactly-once. Opens the producer's transaction unless one is open.
  absl::Status BeginTransactionIfNeeded();
  bool in_transaction() const { return in_transaction_; }
  // The first error of a send (or of opening the transaction) since the
  // transaction opened: the transaction cannot commit. OK when none.
  const absl::Status& transaction_error() const { return transaction_error_; }
  // After the open transaction committed.
  void TransactionCommitted();
  // After the open transaction was aborted (or its producer is being
  // replaced): forgets its error and the changelog offsets its records
  // reached.
  void TransactionAborted();

 private:
  absl::StatusOr<int32_t> CachedPartitionCount(std::string_view topic);
  // Under exactly-once, remembers `s` as the transaction's first error.
  absl::Status KeepTransactionError(absl::Status s);

  const std::string name_;
  const bool exactly_once_;
  const absl::flat_hash_set<std::string> changelog_topics_;
  const Clock& clock_;
  const std::atomic<bool>& stop_;
  CollectorProducer* producer_ = nullptr;

  bool in_transaction_ = false;
  absl::Status transaction_error_;
  absl::flat_hash_map<std::string, int32_t> partition_counts_;
  RateLimiter queue_full_log_{10'000};

  std::atomic<int64_t> in_flight_{0};
  // Written by the producer's delivery thread.
  absl::Mutex delivery_mu_;
  absl::Status delivery_error_ ABSL_GUARDED_BY(delivery_mu_);
  absl::flat_hash_map<TopicPartition, Offset> delivered_ ABSL_GUARDED_BY(delivery_mu_);
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_RECORD_COLLECTOR_H_
