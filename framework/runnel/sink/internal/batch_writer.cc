#include "runnel/sink/internal/batch_writer.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/sink/internal/sql.h"

namespace runnel::sink::internal {
namespace {

void AppendParams(const Row& row, bool with_values, std::vector<SqlParam>& params) {
  params.insert(params.end(), row.key.begin(), row.key.end());
  if (with_values) params.insert(params.end(), row.value.begin(), row.value.end());
}

}  // namespace

absl::Status ValidateRow(const TableMapping& mapping, const Row& row) {
  if (row.key.size() != mapping.key_columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the mapper returned ", row.key.size(), " key values for table ",
                                                   mapping.table, ", which has ", mapping.key_columns.size(),
                                                   " key columns"));
  }
  for (size_t i = 0; i < row.key.size(); ++i) {
    if (!row.key[i].has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("the mapper returned NULL for key column ",
                                                     mapping.key_columns[i].name, " of table ", mapping.table));
    }
  }
  if (!row.is_delete && row.value.size() != mapping.value_columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the mapper returned ", row.value.size(),
                                                   " values for table ", mapping.table, ", which has ",
                                                   mapping.value_columns.size(), " value columns"));
  }
  return absl::OkStatus();
}

absl::Status BatchWriter::CreateTables(PgConnection& conn, bool mapped_tables) {
  RUNNEL_RETURN_IF_ERROR(conn.Exec(std::string(kCreateOffsetsTableSql)).status());
  if (!mapped_tables) return absl::OkStatus();
  for (const SinkRoute& route : *routes_) {
    // A concurrent CREATE of the same table (two sinks starting together)
    // can fail on the catalog's unique index; the table then exists.
    absl::Status s = conn.Exec(CreateTableSql(route.mapping)).status();
    if (!s.ok() && SqlStateOf(s) != "23505" && SqlStateOf(s) != "42P07") {
      return Annotate(s, absl::StrCat("creating table ", route.mapping.table));
    }
  }
  return absl::OkStatus();
}

absl::Status BatchWriter::ExecOps(PgConnection& conn, const TableMapping& mapping,
                                  const std::vector<const BatchOp*>& ops, bool deletes) {
  if (ops.empty()) return absl::OkStatus();
  const size_t per_row = mapping.key_columns.size() + (deletes ? 0 : mapping.value_columns.size());
  const size_t chunk = RowsPerStatement(per_row);
  std::vector<SqlParam> params;
  for (size_t start = 0; start < ops.size(); start += chunk) {
    const size_t n = std::min(chunk, ops.size() - start);
    params.clear();
    params.reserve(n * per_row);
    for (size_t i = start; i < start + n; ++i) AppendParams(ops[i]->row, !deletes, params);
    const std::string sql = deletes ? DeleteSql(mapping, n) : UpsertSql(mapping, n);
    RUNNEL_RETURN_IF_ERROR(conn.Exec(sql, params).status());
  }
  return absl::OkStatus();
}

absl::Status BatchWriter::WriteRows(PgConnection& conn, const Batch& batch) {
  for (size_t r = 0; r < batch.routes(); ++r) {
    std::vector<const BatchOp*> upserts;
    std::vector<const BatchOp*> deletes;
    for (const BatchOp& op : batch.ops(r)) (op.row.is_delete ? deletes : upserts).push_back(&op);
    const TableMapping& mapping = (*routes_)[r].mapping;
    RUNNEL_RETURN_IF_ERROR(ExecOps(conn, mapping, deletes, /*deletes=*/true));
    RUNNEL_RETURN_IF_ERROR(ExecOps(conn, mapping, upserts, /*deletes=*/false));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FailedRecord>> BatchWriter::WriteRowByRow(PgConnection& conn, const Batch& batch) {
  std::vector<FailedRecord> rejected;
  for (size_t r = 0; r < batch.routes(); ++r) {
    const TableMapping& mapping = (*routes_)[r].mapping;
    for (const BatchOp& op : batch.ops(r)) {
      RUNNEL_RETURN_IF_ERROR(conn.Exec("SAVEPOINT runnel_row").status());
      absl::Status s = ExecOps(conn, mapping, {&op}, op.row.is_delete);
      if (absl::IsInvalidArgument(s)) {
        RUNNEL_RETURN_IF_ERROR(conn.Exec("ROLLBACK TO SAVEPOINT runnel_row").status());
        rejected.push_back({r, op.record, s, "rejected"});
        continue;
      }
      RUNNEL_RETURN_IF_ERROR(s);
      RUNNEL_RETURN_IF_ERROR(conn.Exec("RELEASE SAVEPOINT runnel_row").status());
    }
  }
  return rejected;
}

absl::StatusOr<std::map<TopicPartition, Offset>> BatchWriter::ReadOffsets(
    PgConnection& conn, const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, Offset> out;
  for (const auto& tp : partitions) {
    RUNNEL_ASSIGN_OR_RETURN(PgResult result,
                            conn.Exec(std::string(kReadOffsetSql),
                                      {sink_, tp.topic, absl::StrCat(tp.partition.value())}));
    if (result.rows.empty() || !result.rows[0][0]) continue;
    int64_t next = 0;
    if (!absl::SimpleAtoi(*result.rows[0][0], &next)) {
      return absl::DataLossError(absl::StrCat("runnel_sink_offsets holds '", *result.rows[0][0], "' for ",
                                              tp.ToString()));
    }
    out.emplace(tp, Offset(next));
  }
  return out;
}

absl::Status BatchWriter::WriteOffsets(PgConnection& conn, const std::map<TopicPartition, Offset>& next,
                                       const std::map<TopicPartition, Offset>& expected) {
  for (const auto& [tp, offset] : next) {
    auto it = expected.find(tp);
    std::vector<SqlParam> params{sink_, tp.topic, absl::StrCat(tp.partition.value()),
                                 absl::StrCat(offset.value())};
    PgResult result;
    if (it == expected.end()) {
      RUNNEL_ASSIGN_OR_RETURN(result, conn.Exec(std::string(kInsertOffsetSql), params));
    } else {
      params.push_back(absl::StrCat(it->second.value()));
      RUNNEL_ASSIGN_OR_RETURN(result, conn.Exec(std::string(kAdvanceOffsetSql), params));
    }
    if (result.affected != 1) {
      return absl::AbortedError(absl::StrCat(
          "sink ", sink_, ": the offset of ", tp.ToString(), " in runnel_sink_offsets is no longer ",
          it == expected.end() ? std::string("absent") : absl::StrCat(it->second.value()),
          " (another owner moved it: this sink lost the partition)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace runnel::sink::internal
