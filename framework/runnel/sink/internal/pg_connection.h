#ifndef RUNNEL_SINK_INTERNAL_PG_CONNECTION_H_
#define RUNNEL_SINK_INTERNAL_PG_CONNECTION_H_

// PgConnection: the narrow slice of libpq the sink uses, so the batch
// writer's logic reads without libpq's C API (and could run against another
// implementation). Errors carry the SQLSTATE:
//   kUnavailable          the server is unreachable or went away (class 08,
//                         57P0x shutdowns, 53 resources, 40001/40P01):
//                         retry, reconnecting if IsBad()
//   kInvalidArgument      the data was rejected (class 22 data exception,
//                         23 integrity constraint): the row's fault
//   kFailedPrecondition   anything else (undefined table, syntax, privilege):
//                         the sink's setup is wrong; retrying will not help
//
// Ownership: one owner; not thread-safe (the sink's thread uses it).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel::sink::internal {

using SqlParam = std::optional<std::string>;  // text form; nullopt is NULL

struct PgResult {
  // Rows of text values (nullopt for NULL); empty for a command.
  std::vector<std::vector<std::optional<std::string>>> rows;
  // Rows a command affected (INSERT/UPDATE/DELETE), else 0.
  int64_t affected = 0;
};

class PgConnection {
 public:
  virtual ~PgConnection() = default;
  // One statement with $1.. parameters in text form; without parameters,
  // one or more statements (the result is the last one's).
  virtual absl::StatusOr<PgResult> Exec(const std::string& sql, const std::vector<SqlParam>& params = {}) = 0;
  // True when the connection is broken and must be replaced.
  virtual bool IsBad() const = 0;

  absl::Status Begin() { return Exec("BEGIN").status(); }
  absl::Status Commit() { return Exec("COMMIT").status(); }
  // Best effort: a rollback on a broken connection has nothing to undo.
  void Rollback() {
    if (!IsBad()) (void)Exec("ROLLBACK");
  }
};

// Connects with libpq (blocking, bounded by the conninfo's connect_timeout
// or `connect_timeout_seconds` when the conninfo has none).
absl::StatusOr<std::unique_ptr<PgConnection>> ConnectPostgres(const std::string& conninfo,
                                                              int connect_timeout_seconds = 10);

// The SQLSTATE ("23505") an error of PgConnection carries, if any.
std::optional<std::string> SqlStateOf(const absl::Status& status);
// The status kind for a SQLSTATE, as above.
absl::StatusCode CodeForSqlState(std::string_view sqlstate);

}  // namespace runnel::sink::internal

#endif  // RUNNEL_SINK_INTERNAL_PG_CONNECTION_H_
