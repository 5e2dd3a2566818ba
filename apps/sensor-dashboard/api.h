#ifndef RUNNEL_APPS_SENSOR_DASHBOARD_API_H_
#define RUNNEL_APPS_SENSOR_DASHBOARD_API_H_

// The REST/JSON API over the interactive queries (README.md has every field
// and unit). Each call asks the query service through a query::Client,
// which sends keyed lookups to the key's owner and fans whole-store reads
// out to every instance: any instance answers for all of them.
//
//   GET /api/sensors                      200 {"sensors":[SensorStats...]}
//   GET /api/sensors/{id}                 200 SensorStats | 404
//   GET /api/sensors/{id}/windows?...     200 {"sensor_id","window","from_ms","to_ms","windows":[...]} | 404 | 400
//   GET /api/top?by=&n=                   200 {"by","n","sensors":[...]} | 400
//   GET /api/locations/{loc}              200 {"location","sensors":[...],"latest_1m","latest_5m"} | 404
//   GET /api/pipeline                     200 {"instance","state","records_processed_total","records_per_second"}
//
// A query the stores cannot answer in time (rebalance, restore) is 503 with
// Retry-After: 1; a bad parameter 400 {"error","parameter"}; an unknown
// sensor or location 404 {"error"}.
//
// Thread-safety: every method may be called from any thread at once (the
// client is thread-safe); the methods block on gRPC, so the HTTP server
// calls them from the dashboard's worker threads, never its I/O threads.
// Ownership: the Dashboard owns the DashboardApi; the client and clock are
// not owned and must outlive it.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "runnel/common/clock.h"
#include "runnel/http/message.h"
#include "runnel/query/client.h"
#include "stats.h"

namespace runnel_apps::dashboard {

// What GET /api/pipeline reports (filled by the dashboard's sampler).
struct PipelineStats {
  std::string instance;
  std::string state;
  int64_t records_processed_total = 0;
  double records_per_second = 0;
};
boost::json::object PipelineJson(const PipelineStats& stats);

class DashboardApi {
 public:
  DashboardApi(runnel::query::Client& client, const runnel::Clock& clock,
               std::function<PipelineStats()> pipeline);

  runnel::http::Response Sensors();
  runnel::http::Response Sensor(std::string_view id);
  runnel::http::Response Windows(std::string_view id, const runnel::http::Request& request);
  runnel::http::Response Top(const runnel::http::Request& request);
  runnel::http::Response Location(std::string_view location);
  runnel::http::Response Pipeline();

  // Every sensor's statistics in sensor order (what /api/sensors and the
  // live stream send).
  absl::StatusOr<std::vector<SensorStats>> AllSensors();

 private:
  absl::StatusOr<std::optional<SensorStats>> GetSensor(std::string_view id);
  // Windows of `key` in `store` with start in [from, to], oldest first.
  absl::StatusOr<boost::json::array> FetchWindows(const std::string& store, std::string_view key, int64_t from_ms,
                                                  int64_t to_ms);

  runnel::query::Client& client_;
  const runnel::Clock& clock_;
  std::function<PipelineStats()> pipeline_;
};

// The answer for a failed query or bad parameter (400 / 503 / 500).
runnel::http::Response ErrorResponse(const absl::Status& status);

}  // namespace runnel_apps::dashboard

#endif  // RUNNEL_APPS_SENSOR_DASHBOARD_API_H_
