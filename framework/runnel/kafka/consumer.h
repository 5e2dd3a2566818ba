#ifndef RUNNEL_KAFKA_CONSUMER_H_
#define RUNNEL_KAFKA_CONSUMER_H_

// Consumer: RAII over a librdkafka high-level (group) consumer.
//
// Defaults (overridable): enable.auto.commit=false (offsets are committed
// explicitly with Commit), enable.auto.offset.store=false,
// auto.offset.reset=earliest, isolation.level=read_committed,
// enable.partition.eof=true (Poll reports partition ends in its `eof`).
//
// Rebalances: a RebalanceListener, when given, is called from inside Poll()
// on the polling thread, before partitions are revoked (so the caller can
// flush and commit) and after partitions are assigned. The Consumer performs
// the assign/unassign itself (eager or cooperative, by protocol).
//
// Thread-safety: one thread (the owning stream thread) calls everything.
// Lifecycle: Create -> Subscribe or Assign -> Poll... -> Close (also on
// destruction; Close leaves the group).

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

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Called before `partitions` are taken away (not for a lost assignment).
  virtual void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) = 0;
  // Eager protocol only: given the partitions the group's assignor offered
  // this member, returns the ones to actually consume (the Consumer assigns
  // those and then calls OnPartitionsAssigned with them). Offsets may be
  // committed for any partition (the coordinator checks the member and
  // generation, not the assignment), which lets a listener run its own
  // assignment over the group's membership.
  virtual std::vector<TopicPartition> ChooseAssignment(const std::vector<TopicPartition>& offered) {
    return offered;
  }
  // Called after `partitions` are added to the assignment.
  virtual void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // Called when the assignment was lost (session timeout, fenced): the
  // partitions are already owned by someone else; do not commit them.
  virtual void OnPartitionsLost(const std::vector<TopicPartition>& partitions) = 0;
};

struct ConsumerOptions {
  // Called on rebalances (see above). Not owned; must outlive the Consumer.
  RebalanceListener* listener = nullptr;
  // The error-log rate limits run on this clock. Not owned; must outlive
  // the Consumer. The runtime passes its own; the default is for
  // applications and tools.
  const Clock* clock = &Clock::System();
};

class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const ClientConfig& config,
                                                          ConsumerOptions options = {});
  ~Consumer();

  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  absl::Status Subscribe(const std::vector<std::string>& topics);
  // Manual assignment (no group rebalancing), starting at the committed
  // offset or auto.offset.reset, or at the given offset.
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  absl::Status AssignAt(const std::vector<std::pair<TopicPartition, Offset>>& partitions);

  // Appends up to `max_records` records to `out`, waiting at most `timeout`
  // for the first one. Transport errors are logged (rate-limited) and are not
  // returned: librdkafka reconnects by itself. A fatal consumer error is
  // returned as kInternal. With enable.partition.eof=true (the default), a
  // partition reaching its end also ends the wait, and with `eof` given
  // every partition that reached its end is appended to `eof` with the
  // consumer's fetch position there: for read_committed that is the last
  // stable offset, past any trailing transaction marker (no record ever
  // has the marker's offset, so "last record + 1" can fall one short).
  absl::Status Poll(absl::Duration timeout, size_t max_records, std::vector<ConsumedRecord>& out,
                    std::vector<std::pair<TopicPartition, Offset>>* eof = nullptr);

  // Synchronous commit of "next offset to read" per partition.
  absl::Status Commit(const std::vector<std::pair<TopicPartition, Offset>>& offsets);
  // Committed offsets (std::nullopt-free: partitions with no commit are left out).
  absl::StatusOr<std::vector<std::pair<TopicPartition, Offset>>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout);
  absl::Status Seek(const TopicPartition& partition, Offset offset, absl::Duration timeout);
  absl::Status Pause(const std::vector<TopicPartition>& partitions);
  absl::Status Resume(const std::vector<TopicPartition>& partitions);
  absl::StatusOr<std::vector<TopicPartition>> Assignment() const;
  // Low and high watermark (high = offset after the last record; for a
  // read_committed consumer, use the last stable offset it can reach).
  absl::StatusOr<std::pair<Offset, Offset>> Watermarks(const TopicPartition& partition,
                                                       absl::Duration timeout);
  // The high watermark (last stable offset under read_committed) as the
  // last fetch response reported it, without asking the broker; nullopt
  // before any fetch of the partition.
  std::optional<Offset> CachedHighWatermark(const TopicPartition& partition) const;

  // Group metadata (generation, member id) for
  // Producer::SendOffsetsToTransaction: it is what fences a zombie.
  struct GroupMetadataDeleter {
    void operator()(rd_kafka_consumer_group_metadata_s* metadata) const;
  };
  using GroupMetadataPtr = std::unique_ptr<rd_kafka_consumer_group_metadata_s, GroupMetadataDeleter>;
  GroupMetadataPtr GroupMetadata() const;

  // Leaves the group (revoking through the listener) and closes. Idempotent.
  absl::Status Close();

  rd_kafka_s* raw() const { return rk_; }

 private:
  class Impl;
  Consumer(rd_kafka_s* rk, std::unique_ptr<Impl> impl);
  rd_kafka_s* rk_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_CONSUMER_H_
