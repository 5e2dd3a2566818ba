#include "runnel/sink/postgres_sink.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/sink/internal/sink_worker.h"
#include "runnel/sink/internal/sql.h"

namespace runnel::sink {
namespace {

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("PostgresSinkOptions.", ToAbsl(field), ": ", ToAbsl(what)));
}

absl::Status ValidateColumns(const TableMapping& m, const std::string& field, bool types_required) {
  if (m.key_columns.empty()) return Invalid(absl::StrCat(field, ".key_columns"), "at least one key column");
  absl::flat_hash_set<std::string> seen;
  for (const char* part : {"key_columns", "value_columns"}) {
    const auto& columns = std::string_view(part) == "key_columns" ? m.key_columns : m.value_columns;
    for (size_t i = 0; i < columns.size(); ++i) {
      const std::string column_field = absl::StrCat("PostgresSinkOptions.", field, ".", part, "[", i, "]");
      RUNNEL_RETURN_IF_ERROR(internal::ValidateName(columns[i].name, absl::StrCat(column_field, ".name")));
      if (!seen.insert(columns[i].name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(column_field, ".name: duplicate column '", columns[i].name, "' in ", m.table));
      }
      if (types_required || !columns[i].type.empty()) {
        RUNNEL_RETURN_IF_ERROR(internal::ValidateSqlType(columns[i].type, absl::StrCat(column_field, ".type")));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePostgresSinkOptions(const PostgresSinkOptions& o) {
  if (o.name.empty()) return Invalid("name", "empty (it names the consumer group and the offsets rows)");
  if (o.conninfo.empty()) return Invalid("conninfo", "empty (a libpq connection string)");
  if (!o.kafka.contains("bootstrap.servers")) return Invalid("kafka", "bootstrap.servers is not set");
  if (o.routes.empty()) return Invalid("routes", "no route (topic -> table)");
  absl::flat_hash_set<std::string> topics;
  for (size_t i = 0; i < o.routes.size(); ++i) {
    const SinkRoute& r = o.routes[i];
    const std::string field = absl::StrCat("routes[", i, "]");
    if (r.topic.empty()) return Invalid(absl::StrCat(field, ".topic"), "empty");
    if (!topics.insert(r.topic).second) {
      return Invalid(absl::StrCat(field, ".topic"), absl::StrCat("'", r.topic, "' has another route already"));
    }
    if (!r.mapper) return Invalid(absl::StrCat(field, ".mapper"), "not set");
    RUNNEL_RETURN_IF_ERROR(internal::ValidateTableName(
        r.mapping.table, absl::StrCat("PostgresSinkOptions.", field, ".mapping.table")));
    RUNNEL_RETURN_IF_ERROR(ValidateColumns(r.mapping, absl::StrCat(field, ".mapping"), o.create_tables));
  }
  if (o.max_batch_records == 0) return Invalid("max_batch_records", "must be at least 1");
  if (o.max_batch_delay < absl::ZeroDuration()) return Invalid("max_batch_delay", "negative");
  if (o.initial_backoff <= absl::ZeroDuration()) return Invalid("initial_backoff", "must be positive");
  if (o.max_backoff < o.initial_backoff) return Invalid("max_backoff", "below initial_backoff");
  if (o.on_error == SinkErrorPolicy::kDeadLetter && o.dead_letter_topic.empty()) {
    return Invalid("dead_letter_topic", "required with SinkErrorPolicy::kDeadLetter");
  }
  if (o.clock == nullptr) return Invalid("clock", "null (inject the instance's clock)");
  if (o.metrics == nullptr) return Invalid("metrics", "null (inject a MetricsRegistry)");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PostgresSink>> PostgresSink::Create(PostgresSinkOptions options) {
  RUNNEL_RETURN_IF_ERROR(ValidatePostgresSinkOptions(options));
  return std::unique_ptr<PostgresSink>(new internal::SinkWorker(std::move(options)));
}

}  // namespace runnel::sink
