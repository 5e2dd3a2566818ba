#ifndef RUNNEL_SINK_POSTGRES_SINK_H_
#define RUNNEL_SINK_POSTGRES_SINK_H_

// PostgresSink: writes Kafka topics (a KTable's or KStream's output topic)
// into PostgreSQL tables, exactly once.
//
// Each route maps one topic to one table. The sink consumes its topics with
// read_committed (so it sees only what an exactly_once_v2 application
// committed), maps every record to a row and writes batches in one
// PostgreSQL transaction per batch:
//   INSERT ... ON CONFLICT (key columns) DO UPDATE   for a record with a value,
//   DELETE ... WHERE key columns = ...               for a tombstone,
//   and the next offset of every partition of the batch into the offsets
//   table (runnel_sink_offsets), in the same transaction.
// On (re)assignment it resumes from the offsets in PostgreSQL, so a crash or
// a restart neither loses nor repeats a row; a replay of the topic rewrites
// the same rows. Kafka offsets are committed too, after PostgreSQL has
// committed, for lag monitoring only.
//
// PostgreSQL down or unreachable: the batch is retried with exponential
// backoff, each failure logged; the sink pauses its partitions meanwhile
// (memory stays bounded by one batch) and stays in its consumer group.
// A record the mapper rejects, or a row PostgreSQL rejects for its data
// (SQLSTATE classes 22 and 23), goes to the error policy: kFail stops the
// sink with the error, kDeadLetter writes the record to the dead-letter topic
// and goes on. Either way the log names the sink, the table, the topic,
// partition and offset.
//
// Threading: the sink runs one thread of its own, from Start() to Close().
// Start/Close/WaitCaughtUp/state may be called from any thread.
//
// See docs/architecture.md (sinks) and docs/postgres-sink.md.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/record.h"
#include "runnel/serde/serde.h"

namespace runnel::sink {

// A column of a mapped table. `type` is the SQL type the sink uses when it
// creates the table ("bigint", "text", "timestamptz", "numeric(18,2)", ...).
struct SqlColumn {
  std::string name;
  std::string type;
};

// Where a topic's records go. The key columns are the table's primary key
// and the ON CONFLICT target.
struct TableMapping {
  std::string table;  // may be schema-qualified: "clickstream.revenue_per_minute"
  std::vector<SqlColumn> key_columns;
  std::vector<SqlColumn> value_columns;
};

// A value in the text form PostgreSQL parses for the column's type;
// std::nullopt is SQL NULL.
using SqlValue = std::optional<std::string>;

// One row to upsert or delete.
struct Row {
  std::vector<SqlValue> key;    // one per key column
  std::vector<SqlValue> value;  // one per value column; unused by a delete
  bool is_delete = false;       // a tombstone: DELETE the row with this key
};

// Maps a consumed record to its row. An error status sends the record to
// the error policy (it is never silently dropped).
using RowMapper = std::function<absl::StatusOr<Row>(const kafka::ConsumedRecord&)>;

// A RowMapper from serdes: deserializes the key, and the value unless the
// record is a tombstone (null value -> delete by key).
template <typename K, typename V>
RowMapper MapRecords(SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                     std::function<std::vector<SqlValue>(const K&)> key_columns,
                     std::function<std::vector<SqlValue>(const K&, const V&)> value_columns) {
  return [key_serde, value_serde, key_columns, value_columns](
             const kafka::ConsumedRecord& record) -> absl::StatusOr<Row> {
    absl::StatusOr<K> key = key_serde->Deserialize(record.key());
    if (!key.ok()) return key.status();
    Row row;
    row.key = key_columns(*key);
    if (!record.value().has_value()) {
      row.is_delete = true;
      return row;
    }
    absl::StatusOr<V> value = value_serde->Deserialize(record.value());
    if (!value.ok()) return value.status();
    row.value = value_columns(*key, *value);
    return row;
  };
}

struct SinkRoute {
  std::string topic;
  TableMapping mapping;
  RowMapper mapper;
};

enum class SinkErrorPolicy { kFail, kDeadLetter };

struct PostgresSinkOptions {
  // Names the consumer group ("<name>"), the rows of the offsets table and
  // the `sink` label of the metrics.
  std::string name;
  // A libpq connection string: "host=127.0.0.1 port=5432 dbname=app user=app".
  std::string conninfo;
  // The consumer's (and the dead-letter producer's) librdkafka properties;
  // at least bootstrap.servers. The sink sets group.id, isolation.level and
  // enable.auto.commit itself.
  kafka::ClientConfig kafka;
  std::vector<SinkRoute> routes;
  // CREATE TABLE IF NOT EXISTS for every mapped table (primary key = the key
  // columns) and the offsets table. Off: the tables must exist (the offsets
  // table is still created).
  bool create_tables = true;
  // A batch is written when it holds this many records or is this old.
  size_t max_batch_records = 5000;
  absl::Duration max_batch_delay = absl::Milliseconds(200);
  // Backoff between retries while PostgreSQL is unavailable.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  SinkErrorPolicy on_error = SinkErrorPolicy::kFail;
  std::string dead_letter_topic;  // required with kDeadLetter
  // Injected; both must outlive the sink. The metrics registry may be a
  // KafkaStreams instance's, so one /metrics shows both.
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
};

// The checks Create makes; InvalidArgument naming the field
// ("PostgresSinkOptions.routes[0].mapping.key_columns[1].name: ...").
absl::Status ValidatePostgresSinkOptions(const PostgresSinkOptions& options);

class PostgresSink {
 public:
  enum class State { kCreated, kRunning, kFailed, kClosed };

  // Validates the options (InvalidArgument naming the field); no I/O.
  static absl::StatusOr<std::unique_ptr<PostgresSink>> Create(PostgresSinkOptions options);
  virtual ~PostgresSink() = default;

  // Starts the sink's thread. Connection problems are retried there, not
  // reported here.
  virtual absl::Status Start() = 0;
  // Writes and commits what it holds (within `timeout`), then stops. What
  // it could not write stays uncommitted in Kafka and is written next time.
  virtual absl::Status Close(absl::Duration timeout = absl::Seconds(30)) = 0;
  // Waits until every record below the topics' end offsets as of the call
  // is committed in PostgreSQL, or the sink failed (its error), or timeout
  // (DeadlineExceeded). For tests and tools.
  virtual absl::Status WaitCaughtUp(absl::Duration timeout) = 0;
  virtual State state() const = 0;
  // The error that failed the sink (OK unless state() is kFailed).
  virtual absl::Status error() const = 0;
};

}  // namespace runnel::sink

#endif  // RUNNEL_SINK_POSTGRES_SINK_H_
