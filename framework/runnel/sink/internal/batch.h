#ifndef RUNNEL_SINK_INTERNAL_BATCH_H_
#define RUNNEL_SINK_INTERNAL_BATCH_H_

// Batch: what the sink writes in one PostgreSQL transaction. It owns the
// consumed records (for the dead-letter topic and the log), the rows mapped
// from them per route, deduplicated by key (the last record of a key wins,
// whether an upsert or a delete, so the final upserts and deletes touch
// disjoint keys and their order no longer matters), and the next offset
// per partition.
//
// Ownership: the sink's thread owns it; not thread-safe. Memory is bounded
// by the sink's max_batch_records.

#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "runnel/common/types.h"
#include "runnel/kafka/record.h"
#include "runnel/sink/postgres_sink.h"

namespace runnel::sink::internal {

struct BatchOp {
  size_t record;  // index into Batch::records()
  Row row;
};

// A record that goes to the error policy instead of a table.
struct FailedRecord {
  size_t route;
  size_t record;
  absl::Status error;
  std::string kind;  // "mapper" or "rejected"
};

class Batch {
 public:
  explicit Batch(size_t routes) : routes_(routes) {}

  // Takes the record and advances its partition's next offset past it.
  size_t AddRecord(kafka::ConsumedRecord record);
  // The row of record `record` for route `route`; replaces an earlier row
  // with the same key.
  void AddRow(size_t route, size_t record, Row row);
  void AddFailure(FailedRecord failure) { failures_.push_back(std::move(failure)); }
  // Moves a partition's next offset forward (never back): a read_committed
  // end of partition lies past transaction markers no record occupies.
  void Advance(const TopicPartition& partition, Offset next);
  // Drops every record, row and offset of `partition` (revoked).
  void DropPartition(const TopicPartition& partition);
  void Clear();

  const std::vector<kafka::ConsumedRecord>& records() const { return records_; }
  const std::vector<BatchOp>& ops(size_t route) const { return routes_[route].ops; }
  size_t routes() const { return routes_.size(); }
  const std::vector<FailedRecord>& failures() const { return failures_; }
  const std::map<TopicPartition, Offset>& next_offsets() const { return next_offsets_; }
  size_t record_count() const { return records_.size(); }
  bool empty() const { return records_.empty() && next_offsets_.empty(); }

 private:
  struct RouteOps {
    std::vector<BatchOp> ops;
    absl::flat_hash_map<std::vector<SqlValue>, size_t> by_key;
  };
  std::vector<kafka::ConsumedRecord> records_;
  std::vector<RouteOps> routes_;
  std::vector<FailedRecord> failures_;
  std::map<TopicPartition, Offset> next_offsets_;
};

}  // namespace runnel::sink::internal

#endif  // RUNNEL_SINK_INTERNAL_BATCH_H_
