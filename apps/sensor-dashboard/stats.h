#ifndef RUNNEL_APPS_SENSOR_DASHBOARD_STATS_H_
#define RUNNEL_APPS_SENSOR_DASHBOARD_STATS_H_

// The dashboard's values: readings as the gateway writes them, and the
// statistics folded from them, with their serdes (JSON, the same text the
// REST API serves; field names and units in README.md).
//
//   Reading       {"sensor_id","timestamp","type","value","unit","location"}
//   WindowStats   one window of one sensor or location:
//                 {"count","sum","mean","min","max"}
//   SensorStats   everything a sensor sent since the application started:
//                 {"sensor_id","type","unit","location","count","sum","mean",
//                  "min","max","last_value","last_timestamp","last_timestamp_ms"}
//
// Folding is plain arithmetic on doubles in the order records are processed
// (per key, offset order): sum += value, min/max compared, mean = sum/count.
//
// Thread-safety: value types and pure functions; the serdes are stateless
// and shared by every stream thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "runnel/serde/serde.h"

namespace runnel_apps::dashboard {

struct Reading {
  std::string sensor_id;
  std::string timestamp;  // as the gateway normalized it: "2025-11-17T14:20:00.000Z"
  int64_t timestamp_ms = 0;
  std::string type;
  double value = 0;
  std::string unit;
  std::string location;
};

// Parses a reading (the gateway's record value). InvalidArgument naming the
// field that is missing or mistyped, or the JSON error.
absl::StatusOr<Reading> ParseReading(std::string_view json);
std::string ReadingToJson(const Reading& reading);

struct WindowStats {
  int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double mean() const { return count == 0 ? 0 : sum / static_cast<double>(count); }
  bool operator==(const WindowStats&) const = default;
};

// Adds one value to a window's statistics (the first value sets min/max).
WindowStats FoldWindow(WindowStats stats, double value);

struct SensorStats {
  std::string sensor_id;
  std::string type;
  std::string unit;
  std::string location;
  WindowStats all;  // every reading since the start
  double last_value = 0;
  std::string last_timestamp;
  int64_t last_timestamp_ms = 0;
};

// Adds a reading. The "last" fields (and type, unit, location) follow the
// reading with the latest timestamp seen so far (a late reading counts in
// the statistics but does not replace the latest value).
SensorStats FoldSensor(SensorStats stats, const Reading& reading);

// The JSON objects the store holds and the API serves.
boost::json::object WindowStatsJson(const WindowStats& stats);
boost::json::object SensorStatsJson(const SensorStats& stats);
absl::StatusOr<WindowStats> ParseWindowStats(std::string_view json);
absl::StatusOr<SensorStats> ParseSensorStats(std::string_view json);

// Serdes over the JSON forms above. A malformed payload is InvalidArgument
// (on the input topic: the deserialization handler's business).
runnel::SerdePtr<Reading> ReadingSerde();
runnel::SerdePtr<WindowStats> WindowStatsSerde();
runnel::SerdePtr<SensorStats> SensorStatsSerde();

}  // namespace runnel_apps::dashboard

#endif  // RUNNEL_APPS_SENSOR_DASHBOARD_STATS_H_
