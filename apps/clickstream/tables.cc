#include "tables.h"

#include <libpq-fe.h>

#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aggregates.h"
#include "clickstream_schema_sql.h"
#include "event.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/serde/serdes.h"

namespace runnel_apps::clickstream {
namespace {

using runnel::Windowed;
using runnel::sink::MapRecords;
using runnel::sink::SinkRoute;
using runnel::sink::SqlColumn;
using runnel::sink::SqlValue;
using runnel::sink::TableMapping;
namespace serdes = runnel::serdes;

const SqlColumn kWindowStart{"window_start", "timestamptz"};

std::string Text(int64_t v) { return absl::StrCat(v); }

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

absl::StatusOr<Connection> Connect(const std::string& conninfo) {
  Connection conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL (postgres.conninfo): ", PQerrorMessage(conn.get())));
  }
  return conn;
}

absl::Status Failed(PGconn* conn, const PGresult* result, std::string_view what) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string message =
      absl::StrCat(runnel::ToAbsl(what), ": SQLSTATE ", state != nullptr ? state : "?", ": ", PQerrorMessage(conn));
  // Class 08: connection exceptions, 57P: the server shutting down.
  if (state == nullptr || std::string_view(state).starts_with("08") || std::string_view(state).starts_with("57P")) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

// Runs `sql` and calls row(get) for every row, get(i) reading column i as
// an int64 (every column but the text ones is a bigint here).
absl::Status ForEachRow(PGconn* conn, const char* sql,
                        const std::function<void(const std::function<std::string(int)>&)>& row) {
  Result result(PQexec(conn, sql), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) return Failed(conn, result.get(), sql);
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    row([&](int c) { return std::string(PQgetvalue(result.get(), r, c)); });
  }
  return absl::OkStatus();
}

int64_t Int(const std::string& text) { return std::stoll(text); }

}  // namespace

std::string_view SchemaSql() { return kClickstreamSchemaSql; }

std::string IsoMillis(int64_t epoch_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(epoch_ms), absl::UTCTimeZone());
}

absl::Status CreateSchema(const std::string& conninfo) {
  auto conn = Connect(conninfo);
  if (!conn.ok()) return conn.status();
  Result result(PQexec(conn->get(), kClickstreamSchemaSql), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Failed(conn->get(), result.get(), "creating the clickstream schema (sql/schema.sql)");
  }
  return absl::OkStatus();
}

absl::StatusOr<Tables> ReadTables(const std::string& conninfo) {
  auto conn = Connect(conninfo);
  if (!conn.ok()) return conn.status();
  PGconn* c = conn->get();
  Tables t;
  RUNNEL_RETURN_IF_ERROR(ForEachRow(
      c, "SELECT (extract(epoch FROM window_start) * 1000)::bigint, event_type, events FROM clickstream.events_per_minute",
      [&](const auto& get) { t.events_per_minute[{Int(get(0)), get(1)}] = Int(get(2)); }));
  RUNNEL_RETURN_IF_ERROR(ForEachRow(c,
                                    "SELECT (extract(epoch FROM window_start) * 1000)::bigint, (revenue * 100)::bigint, "
                                    "purchases FROM clickstream.revenue_per_minute",
                                    [&](const auto& get) {
                                      t.revenue_per_minute[Int(get(0))] = Revenue{Int(get(1)), Int(get(2))};
                                    }));
  RUNNEL_RETURN_IF_ERROR(ForEachRow(
      c, "SELECT (extract(epoch FROM window_start) * 1000)::bigint, users FROM clickstream.active_users_5m",
      [&](const auto& get) { t.active_users_5m[Int(get(0))] = Int(get(1)); }));
  RUNNEL_RETURN_IF_ERROR(ForEachRow(
      c,
      "SELECT user_id, (extract(epoch FROM session_start) * 1000)::bigint, (extract(epoch FROM session_end) * "
      "1000)::bigint, page_views, events, (revenue * 100)::bigint FROM clickstream.user_sessions",
      [&](const auto& get) {
        t.user_sessions[{get(0), Int(get(1))}] = Session{.end_ms = Int(get(2)),
                                                         .page_views = Int(get(3)),
                                                         .events = Int(get(4)),
                                                         .revenue_cents = Int(get(5))};
      }));
  return t;
}

std::vector<SinkRoute> SinkRoutes(const TopologyOptions& topics) {
  std::vector<SinkRoute> routes;
  routes.push_back(SinkRoute{
      .topic = topics.events_per_minute,
      .mapping = TableMapping{.table = "clickstream.events_per_minute",
                              .key_columns = {kWindowStart, {"event_type", "text"}},
                              .value_columns = {{"events", "bigint"}}},
      .mapper = MapRecords<Windowed<std::string>, int64_t>(
          EventsPerMinuteKeySerde(), serdes::Int64(),
          [](const Windowed<std::string>& k) {
            return std::vector<SqlValue>{IsoMillis(k.window.start.value()), k.key};
          },
          [](const Windowed<std::string>&, const int64_t& events) { return std::vector<SqlValue>{Text(events)}; })});
  routes.push_back(SinkRoute{
      .topic = topics.revenue_per_minute,
      .mapping = TableMapping{.table = "clickstream.revenue_per_minute",
                              .key_columns = {kWindowStart},
                              .value_columns = {{"revenue", "numeric(18,2)"}, {"purchases", "bigint"}}},
      .mapper = MapRecords<int64_t, MinuteTotals>(
          serdes::Int64(), RevenueJsonSerde(),
          [](const int64_t& start) { return std::vector<SqlValue>{IsoMillis(start)}; },
          [](const int64_t&, const MinuteTotals& t) {
            return std::vector<SqlValue>{FormatCents(t.revenue_cents), Text(t.purchases)};
          })});
  routes.push_back(SinkRoute{
      .topic = topics.active_users_5m,
      .mapping = TableMapping{.table = "clickstream.active_users_5m",
                              .key_columns = {kWindowStart},
                              .value_columns = {{"users", "bigint"}}},
      .mapper = MapRecords<int64_t, int64_t>(
          serdes::Int64(), serdes::Int64(),
          [](const int64_t& start) { return std::vector<SqlValue>{IsoMillis(start)}; },
          [](const int64_t&, const int64_t& users) { return std::vector<SqlValue>{Text(users)}; })});
  routes.push_back(SinkRoute{
      .topic = topics.user_sessions,
      .mapping = TableMapping{.table = "clickstream.user_sessions",
                              .key_columns = {{"user_id", "text"}, {"session_start", "timestamptz"}},
                              .value_columns = {{"session_end", "timestamptz"},
                                                {"page_views", "bigint"},
                                                {"events", "bigint"},
                                                {"revenue", "numeric(18,2)"}}},
      .mapper = MapRecords<Windowed<std::string>, SessionTotals>(
          UserSessionKeySerde(), SessionJsonSerde(),
          [](const Windowed<std::string>& k) {
            return std::vector<SqlValue>{k.key, IsoMillis(k.window.start.value())};
          },
          [](const Windowed<std::string>& k, const SessionTotals& s) {
            return std::vector<SqlValue>{IsoMillis(k.window.end.value()), Text(s.page_views), Text(s.events),
                                         FormatCents(s.revenue_cents)};
          })});
  return routes;
}

}  // namespace runnel_apps::clickstream
