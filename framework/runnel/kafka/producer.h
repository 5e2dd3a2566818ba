#ifndef RUNNEL_KAFKA_PRODUCER_H_
#define RUNNEL_KAFKA_PRODUCER_H_

// Producer: RAII over a librdkafka producer.
//
// Defaults (overridable through the config): enable.idempotence=true
// (ordered, no duplicates on retry), partitioner=murmur2_random (the Java
// client's choice for keyed records), acks=all.
//
// Delivery: Send() enqueues and returns at once; delivery reports are served
// by a background thread owned by the Producer, or, with
// ProducerOptions::deliveries_ready, by the owner's thread calling
// ServeDeliveries() when told to. Flush() waits for every record
// sent so far and returns the first delivery error since the previous Flush(),
// so "Flush OK" means "everything sent before is durable in Kafka".
//
// Transactions (EOS v2): InitTransactions once, then Begin / SendOffsets /
// Commit or Abort. Errors come back as: kUnavailable (retriable),
// kAborted (abort the transaction, rewind to the last commit), kInternal with
// "fatal" (recreate the producer), kFailedPrecondition (fenced: another
// instance owns the transactional.id).
//
// Thread-safety: Send() and Flush() may be called from any thread; the
// transactional calls from one thread at a time.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/types.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/record.h"

struct rd_kafka_s;
struct rd_kafka_consumer_group_metadata_s;

namespace runnel::kafka {

// Where a record was delivered, or why it was not.
struct DeliveryReport {
  absl::Status status;
  // Valid only during the callback (it points into librdkafka's topic).
  std::string_view topic;
  Partition partition;
  Offset offset;
  // The record's OutgoingRecord::tag.
  uint64_t tag = 0;
};

struct ProducerOptions {
  // When set, called exactly once for every record Send accepted, from the
  // thread serving reports (must be quick and thread-safe).
  std::function<void(const DeliveryReport&)> on_delivery;
  // Send's queue-full wait, Flush's deadline and the error-log rate limit
  // run on this clock. Not owned; must outlive the Producer. The runtime
  // passes its own; the default is for applications and tools.
  const Clock* clock = &Clock::System();
  // Unset: delivery reports are served by the Producer's own poller thread.
  // Set: the Producer has no poller thread; the owner serves the reports by
  // calling ServeDeliveries() on a thread of its own (an event loop), and
  // this is called, from a librdkafka thread (or inside Create), whenever
  // reports start waiting on an empty queue. It must only schedule that call: never wait,
  // never call into this Producer. Saves a thread hop per report batch.
  std::function<void()> deliveries_ready;
};

class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const ClientConfig& config,
                                                          ProducerOptions options = {});
  ~Producer();  // Flushes for up to 10 s, then closes.

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues a record. When librdkafka's queue is full it waits up to
  // `queue_full_wait` for delivery reports to free space, then returns
  // kUnavailable (with deliveries_ready, the thread that serves them must
  // pass no wait).
  // An unknown topic or a too-large record is an error here.
  absl::Status Send(const OutgoingRecord& record,
                    absl::Duration queue_full_wait = absl::Seconds(30));
  // Waits until everything sent is delivered or failed; returns the first
  // delivery error since the last Flush (then clears it), or
  // kDeadlineExceeded if records are still in flight at the timeout.
  absl::Status Flush(absl::Duration timeout);
  // Records sent but not yet delivered or failed.
  int64_t InFlight() const;
  // With ProducerOptions::deliveries_ready only: runs on_delivery for every
  // report waiting now, on the calling thread; never waits. Call it after
  // each deliveries_ready (late or extra calls are harmless).
  void ServeDeliveries();

  absl::Status InitTransactions(absl::Duration timeout);
  absl::Status BeginTransaction();
  absl::Status SendOffsetsToTransaction(const std::vector<std::pair<TopicPartition, Offset>>& offsets,
                                        const rd_kafka_consumer_group_metadata_s* group_metadata,
                                        absl::Duration timeout);
  absl::Status CommitTransaction(absl::Duration timeout);
  absl::Status AbortTransaction(absl::Duration timeout);

  // The partition count of `topic` from cluster metadata.
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic, absl::Duration timeout);

  rd_kafka_s* raw() const { return rk_; }

 private:
  class Impl;
  explicit Producer(rd_kafka_s* rk, std::unique_ptr<Impl> impl);
  rd_kafka_s* rk_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_PRODUCER_H_
