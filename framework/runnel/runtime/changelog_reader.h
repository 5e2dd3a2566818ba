#ifndef RUNNEL_RUNTIME_CHANGELOG_READER_H_
#define RUNNEL_RUNTIME_CHANGELOG_READER_H_

// ChangelogReader: the one loop that reads changelog (or global topic)
// partitions and hands their records to stores. Three owners use it:
//   - a task's restore (TaskStores::BeginRestore / RestoreSome): each
//     logged store's changelog partition from its checkpoint to its end;
//   - the global stores' bootstrap, then their following
//     (GlobalStreamThread): every partition to its end, then on;
//   - standby replicas (StandbyManager): following, with no end.
// See docs/architecture.md, "Local state and its changelog".
//
// It reads through ChangelogConsumer (manual assignment, poll, end of
// partition, watermarks), so that unit tests can give it an in-memory one,
// and applies through ChangelogSink, one per partition. It keeps each
// partition's position (the next offset it has not applied), skips records
// before it (a refetch), and takes the end-of-partition position as the
// position when it is further on (up to the end of a partition that stops
// there): under read_committed a changelog ends
// with a commit marker no record has, and the end the watermarks report is
// the last stable offset, so "last record + 1" can fall short of it.
//
// A partition with an end is restoring until its position reaches the end:
// progress is logged every 5 s (records, MB/s, ETA) and once at the end,
// which also counts runnel_restored_* (when given), and `patience` without
// progress fails the restore with Unavailable. Time comes from the
// injected Clock.
//
// Ownership: the reader's owner also owns the consumer and the sinks, which
// outlive it (or its Assign/Forget of their partitions). Threading: one
// thread calls everything. Lifecycle: created -> Assign -> (Restore |
// Follow)... -> Assign({}) or destroyed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/common/types.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/record.h"
#include "runnel/state/kv_store.h"

namespace runnel {

// What a ChangelogReader reads through: a consumer with no group whose
// partitions are assigned by hand. One thread calls it.
class ChangelogConsumer {
 public:
  virtual ~ChangelogConsumer() = default;
  // Replaces the assignment; each partition is read from its offset
  // (Offset(-2): from the first record there is).
  virtual absl::Status AssignAt(const std::vector<std::pair<TopicPartition, Offset>>& partitions) = 0;
  // Appends up to `max_records` records to `out`, waiting at most `timeout`
  // for the first, and appends to `eof` each assigned partition that
  // reached its end, with the consumer's position there (under
  // read_committed: past a trailing transaction marker).
  virtual absl::Status Poll(absl::Duration timeout, size_t max_records, std::vector<kafka::ConsumedRecord>& out,
                            std::vector<std::pair<TopicPartition, Offset>>& eof) = 0;
  // The partition's offsets now: the first, and the end (the high
  // watermark; under read_committed the last stable offset).
  virtual absl::StatusOr<std::pair<Offset, Offset>> Watermarks(const TopicPartition& tp, absl::Duration timeout) = 0;
  // The end as the last fetch saw it, without asking the broker; nullopt
  // before the partition's first fetch.
  virtual std::optional<Offset> CachedEnd(const TopicPartition& tp) const = 0;
  // Closes the consumer. Idempotent (also on destruction).
  virtual absl::Status Close() = 0;
};

// A Kafka consumer as a ChangelogConsumer. `config` is a consumer config;
// group.instance.id is dropped (no group membership) and
// enable.partition.eof set (ends are reported).
// The error-log limits run on `clock`, which must outlive the consumer.
absl::StatusOr<std::unique_ptr<ChangelogConsumer>> CreateChangelogConsumer(kafka::ClientConfig config,
                                                                          const Clock& clock);

// Where a partition's records go.
class ChangelogSink {
 public:
  virtual ~ChangelogSink() = default;
  // `records` are the partition's next records in offset order (none when
  // only the position moved on, past a transaction marker); `next` is the
  // position after them. A failure stops the reader's Restore or Follow
  // and is returned by it; the position stays where it was.
  virtual absl::Status Apply(const TopicPartition& tp, const std::vector<const kafka::ConsumedRecord*>& records,
                             Offset next) = 0;
};

// The key-value writes of changelog records (a null value deletes); a
// record without a key (never written to a changelog) is left out.
std::vector<KeyValueStore::Write> ChangelogWrites(const std::vector<const kafka::ConsumedRecord*>& records);

// One partition to read.
struct ChangelogPartition {
  TopicPartition tp;
  // The next offset to read; Offset(-2) reads from the first one there is.
  Offset start{-2};
  // The end a restore reads to (exclusive), measured before it began;
  // nullopt follows the partition with no end.
  std::optional<Offset> end;
  // At the end: false stops reading the partition (records from the end on
  // are not applied); true follows it on (the global stores).
  bool follow_after_end = false;
  // Not owned.
  ChangelogSink* sink = nullptr;
  // For log lines: who reads it ("task 0_1") and what for ("store 's'").
  std::string owner;
  std::string store;
  // Optional, not owned: counts the records applied to `sink`, as each
  // poll applies them (runnel_store_restored_records_total{store,task}).
  Counter* restored_records = nullptr;
};

struct ChangelogReaderOptions {
  // Required.
  const Clock* clock = nullptr;
  // Records per poll, and the longest wait of one poll while restoring.
  size_t max_batch = 10'000;
  absl::Duration poll_wait = absl::Milliseconds(50);
  // A restoring partition whose position does not move this long fails
  // the restore (Unavailable): the broker is gone, or the partition has no
  // leader.
  absl::Duration patience = absl::Seconds(60);
  absl::Duration progress_interval = absl::Seconds(5);
  // Optional: counted as each partition's restore completes.
  Counter* restored_records = nullptr;
  Counter* restored_bytes = nullptr;
  Counter* restore_micros = nullptr;
};

class ChangelogReader {
 public:
  // `consumer` outlives the reader.
  ChangelogReader(ChangelogConsumer& consumer, ChangelogReaderOptions options);

  // Replaces what is read by `partitions` and assigns the consumer every
  // one with something to read (a partition with an end that does not
  // follow on is done already when it starts at or past its end).
  absl::Status Assign(std::vector<ChangelogPartition> partitions);
  // Stops applying `partitions` (their sinks may go away); records of them
  // that still arrive are dropped. The consumer keeps them until the next
  // Assign.
  void Forget(const std::vector<TopicPartition>& partitions);

  // Reads while a partition with an end has not reached it, for up to
  // `budget` (but at least one poll), and answers whether all have. Fails with
  // Unavailable when one has not moved for `patience`, and with a sink's
  // error.
  absl::StatusOr<bool> Restore(absl::Duration budget);
  // One poll, waiting at most `wait`: applies what arrived (ends are not
  // checked). Answers the number of records applied.
  absl::StatusOr<int64_t> Follow(absl::Duration wait);

  // Whether a partition with an end has not reached it yet.
  bool restoring() const;
  // Per partition read, the next offset not applied yet (the start until
  // something was).
  std::map<TopicPartition, Offset> Positions() const;
  // Records applied since construction.
  int64_t records_applied() const { return records_applied_; }

 private:
  struct State {
    ChangelogPartition spec;
    Offset position;
    bool done = false;
    absl::Time began, last_log, last_progress;
    int64_t records = 0, bytes = 0;
    // This poll's records (pointers into batch_), reused.
    std::vector<const kafka::ConsumedRecord*> pending;
  };

  // One poll: applies each partition's records and end-of-partition
  // positions, and finishes partitions that reached their end.
  absl::StatusOr<int64_t> PollOnce(absl::Duration wait);
  void Finish(State& state, absl::Time now);
  void LogProgress(State& state, absl::Time now);

  ChangelogConsumer& consumer_;
  ChangelogReaderOptions options_;
  std::map<TopicPartition, State> partitions_;
  std::vector<kafka::ConsumedRecord> batch_;
  std::vector<std::pair<TopicPartition, Offset>> eof_;
  int64_t records_applied_ = 0;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_CHANGELOG_READER_H_
