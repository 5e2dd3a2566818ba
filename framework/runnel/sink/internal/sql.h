#ifndef RUNNEL_SINK_INTERNAL_SQL_H_
#define RUNNEL_SINK_INTERNAL_SQL_H_

// The SQL text the sink sends: identifier validation and quoting, and the
// statements for one table mapping. Values never appear in the text: every
// statement takes them as $n parameters.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "runnel/sink/postgres_sink.h"

namespace runnel::sink::internal {

// PostgreSQL's limit on the parameters of one statement.
inline constexpr size_t kMaxStatementParams = 65535;
// Rows per multi-row statement: bounded by the parameter limit and kept
// moderate so one statement's text stays small.
inline constexpr size_t kMaxRowsPerStatement = 1000;

// A column or table-part name: 1..63 bytes (PostgreSQL's NAMEDATALEN - 1),
// no NUL, no '.'. InvalidArgument naming `field` otherwise.
absl::Status ValidateName(std::string_view name, std::string_view field);
// "table" or "schema.table", each part a valid name.
absl::Status ValidateTableName(std::string_view table, std::string_view field);
// A column's SQL type as written in CREATE TABLE and casts: non-empty, and
// nothing that could end the statement (';', comments).
absl::Status ValidateSqlType(std::string_view type, std::string_view field);

// "name" with embedded quotes doubled; case is kept as written.
std::string QuoteName(std::string_view name);
// "schema"."table" or "table".
std::string QuoteTableName(std::string_view table);

// CREATE SCHEMA IF NOT EXISTS (for a qualified name) and CREATE TABLE IF
// NOT EXISTS with the key columns as the primary key.
std::string CreateTableSql(const TableMapping& mapping);
// INSERT INTO t (keys, values) VALUES ($1, ...), ... ON CONFLICT (keys)
// DO UPDATE SET v = EXCLUDED.v, ... (DO NOTHING without value columns).
std::string UpsertSql(const TableMapping& mapping, size_t rows);
// DELETE FROM t WHERE (keys) IN ((...), ...); keys cast to their type when
// one is given.
std::string DeleteSql(const TableMapping& mapping, size_t rows);
// Rows per statement for this mapping (>= 1).
size_t RowsPerStatement(size_t params_per_row);

// The offsets table and its statements. Parameters: $1 sink, $2 topic,
// $3 partition, then as named.
inline constexpr std::string_view kCreateOffsetsTableSql =
    "CREATE TABLE IF NOT EXISTS runnel_sink_offsets (sink text NOT NULL, topic text NOT NULL, "
    "partition int NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (sink, topic, partition))";
// $1 sink, $2 topic, $3 partition.
inline constexpr std::string_view kReadOffsetSql =
    "SELECT next_offset FROM runnel_sink_offsets WHERE sink = $1 AND topic = $2 AND partition = $3";
// $4 new next_offset, $5 the next_offset this owner read (fencing).
inline constexpr std::string_view kAdvanceOffsetSql =
    "UPDATE runnel_sink_offsets SET next_offset = $4 WHERE sink = $1 AND topic = $2 AND partition = $3 "
    "AND next_offset = $5";
// $4 next_offset; affects no row when another owner inserted first.
inline constexpr std::string_view kInsertOffsetSql =
    "INSERT INTO runnel_sink_offsets (sink, topic, partition, next_offset) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING";

}  // namespace runnel::sink::internal

#endif  // RUNNEL_SINK_INTERNAL_SQL_H_
