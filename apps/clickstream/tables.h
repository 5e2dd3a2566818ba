#ifndef RUNNEL_APPS_CLICKSTREAM_TABLES_H_
#define RUNNEL_APPS_CLICKSTREAM_TABLES_H_

// The PostgreSQL side of the app: the schema (sql/schema.sql, embedded at
// build time: the one source of truth, run by the app at start) and the
// four PostgresSink routes from the topology's output topics to the tables.
//
// Thread-safety: pure functions; the routes' mappers are stateless.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "oracle.h"
#include "runnel/sink/postgres_sink.h"
#include "topology.h"

namespace runnel_apps::clickstream {

// sql/schema.sql.
std::string_view SchemaSql();

// Runs SchemaSql() on a fresh connection to `conninfo`; Unavailable (with
// libpq's reason) when PostgreSQL cannot be reached, the error of the
// failing statement otherwise.
absl::Status CreateSchema(const std::string& conninfo);

// topics -> clickstream.events_per_minute, revenue_per_minute,
// active_users_5m, user_sessions.
std::vector<runnel::sink::SinkRoute> SinkRoutes(const TopologyOptions& topics);

// The four tables as they are in PostgreSQL now (for `oracle --check` and
// the system test). Unavailable when PostgreSQL cannot be reached.
absl::StatusOr<Tables> ReadTables(const std::string& conninfo);

// "2026-12-07T14:00:00.000Z": a timestamptz PostgreSQL parses exactly.
std::string IsoMillis(int64_t epoch_ms);

}  // namespace runnel_apps::clickstream

#endif  // RUNNEL_APPS_CLICKSTREAM_TABLES_H_
