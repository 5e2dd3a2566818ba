#ifndef RUNNEL_APPS_SENSOR_DASHBOARD_PARAMS_H_
#define RUNNEL_APPS_SENSOR_DASHBOARD_PARAMS_H_

// Query parameters of the REST API, checked. A bad parameter is an
// InvalidArgument status whose message names it and that carries the
// parameter's name as payload (BadParameter): the API answers 400
// {"error": ..., "parameter": ...}.
//
//   /api/sensors/{id}/windows?from=&to=&window=   from, to: ISO-8601 / RFC 3339
//       date-times ("2025-11-17T14:20:00Z", "...T16:20:00.5+02:00") or ms since
//       the epoch ("1763389200000"); defaults: to = now, from = to - 1 h;
//       from <= to; window: "1m" (default) or "5m"
//   /api/top?by=&n=      by: count | mean | min | max (default max); n: 1..1000 (default 10)
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runnel/http/message.h"

namespace runnel_apps::dashboard {

// The parameter a status from this file names; empty for other statuses.
std::string BadParameter(const absl::Status& status);

// A time parameter: ISO-8601 (RFC 3339, with a zone) or epoch milliseconds.
absl::StatusOr<int64_t> ParseTimeParam(std::string_view name, std::string_view text);

enum class WindowKind { kOneMinute, kFiveMinutes };
std::string_view WindowKindName(WindowKind kind);  // "1m", "5m"

struct WindowQuery {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  WindowKind window = WindowKind::kOneMinute;
};
absl::StatusOr<WindowQuery> ParseWindowQuery(const runnel::http::Request& request, int64_t now_ms);

enum class StatField { kCount, kMean, kMin, kMax };
std::string_view StatFieldName(StatField field);

struct TopQuery {
  StatField by = StatField::kMax;
  int n = 10;
};
absl::StatusOr<TopQuery> ParseTopQuery(const runnel::http::Request& request);

}  // namespace runnel_apps::dashboard

#endif  // RUNNEL_APPS_SENSOR_DASHBOARD_PARAMS_H_
