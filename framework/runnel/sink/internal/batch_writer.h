#ifndef RUNNEL_SINK_INTERNAL_BATCH_WRITER_H_
#define RUNNEL_SINK_INTERNAL_BATCH_WRITER_H_

// BatchWriter: the statements of one batch inside a transaction the caller
// opened (BEGIN) and will commit or roll back: the rows (multi-row upserts
// and deletes, or op by op under savepoints to find the rows PostgreSQL
// rejects), and the offsets, fenced: a row of runnel_sink_offsets is only
// moved from the value this owner last read or wrote, so a zombie that lost
// its partitions cannot overwrite the new owner's progress.
//
// Errors are PgConnection's (kUnavailable retry, kInvalidArgument data,
// kFailedPrecondition setup), plus kAborted when the offsets were fenced.
// Stateless apart from the routes it is given; used on the sink's thread.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runnel/sink/internal/batch.h"
#include "runnel/sink/internal/pg_connection.h"
#include "runnel/sink/postgres_sink.h"

namespace runnel::sink::internal {

// A mapped row has one value per key column, and one per value column
// unless it is a delete. InvalidArgument naming the table otherwise.
absl::Status ValidateRow(const TableMapping& mapping, const Row& row);

class BatchWriter {
 public:
  // `routes` must outlive the writer.
  BatchWriter(std::string sink, const std::vector<SinkRoute>* routes) : sink_(std::move(sink)), routes_(routes) {}

  // CREATE TABLE IF NOT EXISTS for the offsets table, and for every mapped
  // table with `mapped_tables`. Runs in its own statements (no transaction).
  absl::Status CreateTables(PgConnection& conn, bool mapped_tables);

  // Every op of `batch` as multi-row statements. A kInvalidArgument leaves
  // the transaction failed: roll back and call WriteRowByRow.
  absl::Status WriteRows(PgConnection& conn, const Batch& batch);
  // Op by op, each under a savepoint: the ops PostgreSQL rejected for their
  // data (undone; the others stay written in the transaction).
  absl::StatusOr<std::vector<FailedRecord>> WriteRowByRow(PgConnection& conn, const Batch& batch);

  // The next offsets stored for `partitions` (partitions without a row are
  // left out).
  absl::StatusOr<std::map<TopicPartition, Offset>> ReadOffsets(PgConnection& conn,
                                                               const std::vector<TopicPartition>& partitions);
  // Moves each partition's row to `next`, from `expected` (this owner's last
  // read or write; absent means there was no row). kAborted naming the
  // partition when a row no longer holds what this owner expects.
  absl::Status WriteOffsets(PgConnection& conn, const std::map<TopicPartition, Offset>& next,
                            const std::map<TopicPartition, Offset>& expected);

 private:
  absl::Status ExecOps(PgConnection& conn, const TableMapping& mapping, const std::vector<const BatchOp*>& ops,
                       bool deletes);

  std::string sink_;
  const std::vector<SinkRoute>* routes_;
};

}  // namespace runnel::sink::internal

#endif  // RUNNEL_SINK_INTERNAL_BATCH_WRITER_H_
