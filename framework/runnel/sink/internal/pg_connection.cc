#include "runnel/sink/internal/pg_connection.h"

#include <libpq-fe.h>

#include <cstdlib>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace runnel::sink::internal {
namespace {

constexpr char kSqlStatePayload[] = "runnel.sqlstate";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

class LibpqConnection final : public PgConnection {
 public:
  explicit LibpqConnection(PGconn* conn) : conn_(conn) {}
  ~LibpqConnection() override { PQfinish(conn_); }

  absl::StatusOr<PgResult> Exec(const std::string& sql, const std::vector<SqlParam>& params) override {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    // Without parameters PQexec, which also runs several statements.
    std::unique_ptr<PGresult, ResultDeleter> result(
        params.empty() ? PQexec(conn_, sql.c_str())
                       : PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                      nullptr, nullptr, 0));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      PgResult out;
      const char* affected = PQcmdTuples(result.get());
      if (affected != nullptr && *affected != '\0') out.affected = std::strtoll(affected, nullptr, 10);
      for (int r = 0; r < PQntuples(result.get()); ++r) {
        auto& row = out.rows.emplace_back();
        for (int c = 0; c < PQnfields(result.get()); ++c) {
          if (PQgetisnull(result.get(), r, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(PQgetvalue(result.get(), r, c), PQgetlength(result.get(), r, c)));
          }
        }
      }
      return out;
    }
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string message(absl::StripAsciiWhitespace(
        result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_)));
    if (message.empty()) message = std::string(absl::StripAsciiWhitespace(PQerrorMessage(conn_)));
    // No SQLSTATE: libpq lost the connection (it reports no server error).
    const std::string sqlstate = state != nullptr ? state : (IsBad() ? "08006" : "XX000");
    absl::Status error(CodeForSqlState(sqlstate), absl::StrCat(message, " (SQLSTATE ", sqlstate, ")"));
    error.SetPayload(kSqlStatePayload, absl::Cord(sqlstate));
    return error;
  }

  bool IsBad() const override { return PQstatus(conn_) != CONNECTION_OK; }

 private:
  PGconn* conn_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PgConnection>> ConnectPostgres(const std::string& conninfo,
                                                              int connect_timeout_seconds) {
  std::string full = conninfo;
  if (!absl::StrContains(conninfo, "connect_timeout")) {
    absl::StrAppend(&full, " connect_timeout=", connect_timeout_seconds);
  }
  PGconn* conn = PQconnectdb(full.c_str());
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message(absl::StripAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    absl::Status error = absl::UnavailableError(absl::StrCat("connecting to PostgreSQL: ", message));
    error.SetPayload(kSqlStatePayload, absl::Cord("08001"));
    return error;
  }
  // Notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new LibpqConnection(conn));
}

std::optional<std::string> SqlStateOf(const absl::Status& status) {
  auto payload = status.GetPayload(kSqlStatePayload);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

absl::StatusCode CodeForSqlState(std::string_view s) {
  if (s.size() != 5) return absl::StatusCode::kFailedPrecondition;
  const std::string_view cls = s.substr(0, 2);
  if (cls == "08" || cls == "53" || cls == "57" || s == "40001" || s == "40P01") {
    return absl::StatusCode::kUnavailable;
  }
  if (cls == "22" || cls == "23") return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kFailedPrecondition;
}

}  // namespace runnel::sink::internal
