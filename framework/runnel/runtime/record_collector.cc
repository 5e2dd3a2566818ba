#include "runnel/runtime/record_collector.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/partitioner.h"

namespace runnel {

RecordCollector::RecordCollector(std::string name, bool exactly_once,
                                 absl::flat_hash_set<std::string> changelog_topics, const Clock& clock,
                                 const std::atomic<bool>& stop)
    : name_(std::move(name)),
      exactly_once_(exactly_once),
      changelog_topics_(std::move(changelog_topics)),
      clock_(clock),
      stop_(stop) {}

void RecordCollector::Attach(CollectorProducer* producer) {
  producer_ = producer;
  in_transaction_ = false;
  transaction_error_ = absl::OkStatus();
  in_flight_.store(0, std::memory_order_release);
  absl::MutexLock lock(&delivery_mu_);
  delivery_error_ = absl::OkStatus();
  delivered_.clear();
}

void RecordCollector::OnDelivery(const kafka::DeliveryReport& report) {
  if (report.status.ok() && !changelog_topics_.contains(ToAbsl(report.topic))) {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  {
    absl::MutexLock lock(&delivery_mu_);
    if (!report.status.ok()) {
      if (delivery_error_.ok()) {
        delivery_error_ =
            Annotate(report.status, absl::StrCat("delivery to ", ToAbsl(report.topic), "-", report.partition.value()));
      }
    } else {
      // Where each changelog partition ends: what the stores' offsets
      // (exactly-once) or checkpoints (at-least-once) record.
      const Offset next(report.offset.value() + 1);
      auto [it, inserted] = delivered_.try_emplace(TopicPartition{std::string(report.topic), report.partition}, next);
      if (!inserted && it->second < next) it->second = next;
    }
  }
  // Last: Flush may return once nothing is in flight.
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

absl::Status RecordCollector::KeepTransactionError(absl::Status s) {
  if (!s.ok() && exactly_once_ && transaction_error_.ok()) transaction_error_ = s;
  return s;
}

absl::Status RecordCollector::Send(const SerializedRecord& record) {
  if (exactly_once_) {
    if (absl::Status s = BeginTransactionIfNeeded(); !s.ok()) return KeepTransactionError(s);
  }
  std::optional<Partition> partition = record.partition;
  if (!partition && record.partition_key) {
    auto count = CachedPartitionCount(record.topic);
    if (!count.ok()) return count.status();
    partition = kafka::PartitionForKey(*record.partition_key, *count);
  }
  kafka::OutgoingRecord out{.topic = record.topic,
                            .partition = partition,
                            .key = record.key,
                            .value = record.value,
                            .timestamp = record.timestamp,
                            .headers = record.headers};
  while (true) {
    // Counted before the send: its delivery report may come before Send
    // returns.
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
    absl::Status s = producer_->Send(out, absl::Seconds(1));
    if (s.ok()) return s;
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    if (!absl::IsUnavailable(s)) return KeepTransactionError(s);
    // The producer's queue is full: the broker is slow or down. Keep the
    // record and wait; a stop request gives up (nothing after the last
    // commit is committed, so the records are processed again on restart).
    if (stop_.load()) return absl::CancelledError("stopping while the producer queue is full");
    int64_t suppressed;
    if (queue_full_log_.Allow(clock_.NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("{}: producer queue full ({} in flight); waiting for the broker", name_, in_flight());
    }
  }
}

absl::Status RecordCollector::Send(std::string_view topic, Partition partition, std::string_view key,
                                   std::optional<std::string_view> value, Timestamp timestamp) {
  return Send(SerializedRecord{.topic = topic, .partition = partition, .key = key, .value = value,
                               .timestamp = timestamp});
}

absl::StatusOr<int32_t> RecordCollector::PartitionCount(std::string_view topic) {
  return producer_->PartitionCount(std::string(topic), absl::Seconds(30));
}

absl::StatusOr<int32_t> RecordCollector::CachedPartitionCount(std::string_view topic) {
  auto it = partition_counts_.find(ToAbsl(topic));
  if (it != partition_counts_.end()) return it->second;
  auto count = PartitionCount(topic);
  if (!count.ok()) return count.status();
  partition_counts_.emplace(std::string(topic), *count);
  return *count;
}

absl::Status RecordCollector::Flush(absl::Duration timeout) {
  absl::Status flushed = producer_->Flush(timeout);
  if (absl::IsDeadlineExceeded(flushed)) return flushed;
  absl::Status first;
  {
    absl::MutexLock lock(&delivery_mu_);
    first.Update(std::exchange(delivery_error_, absl::OkStatus()));
  }
  // The producer's own first delivery error is the same one.
  return flushed.ok() ? first : flushed;
}

absl::flat_hash_map<TopicPartition, Offset> RecordCollector::TakeDeliveredChangelogOffsets() {
  absl::flat_hash_map<TopicPartition, Offset> delivered;
  absl::MutexLock lock(&delivery_mu_);
  delivered.swap(delivered_);
  return delivered;
}

absl::Status RecordCollector::BeginTransactionIfNeeded() {
  if (in_transaction_) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(producer_->BeginTransaction());
  in_transaction_ = true;
  return absl::OkStatus();
}

void RecordCollector::TransactionCommitted() {
  in_transaction_ = false;
  transaction_error_ = absl::OkStatus();
}

void RecordCollector::TransactionAborted() {
  in_transaction_ = false;
  transaction_error_ = absl::OkStatus();
  absl::MutexLock lock(&delivery_mu_);
  delivered_.clear();
}

}  // namespace runnel
