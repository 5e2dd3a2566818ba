#ifndef RUNNEL_APPS_SENSOR_DASHBOARD_TOPOLOGY_H_
#define RUNNEL_APPS_SENSOR_DASHBOARD_TOPOLOGY_H_

// The dashboard's stream processing, over the gateway's topic (key =
// sensor_id, value = reading JSON, record timestamp = reading time):
//
//   input ─┬─ per sensor ─┬─ all-time statistics      -> store sensor-latest (key-value)
//          │              ├─ 1-minute tumbling windows -> store sensor-1m  ─┐
//          │              └─ 5-minute windows every 1m -> store sensor-5m  ─┤ emit-final
//          └─ by location (repartition <app>-readings-by-location-repartition)
//                         ├─ 1-minute tumbling windows -> store location-1m ┤ (OnWindowClose)
//                         └─ 5-minute windows every 1m -> store location-5m ┴─> output topic
//
// Each window store keeps `retention` of windows (>= 1 h) for the history
// endpoint. Every closed window goes to the output topic once, keyed by the
// sensor id or location, value (JSON):
//   {"scope":"sensor"|"location","id":...,"window":"1m"|"5m","start_ms":...,
//    "end_ms":...,"start":"<ISO-8601>","count":...,"sum":...,"mean":...,"min":...,"max":...}
//
// Thread-safety: BuildDashboardTopology is pure; the Topology is immutable.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runnel/topology/topology.h"

namespace runnel_apps::dashboard {

inline constexpr char kLatestStore[] = "sensor-latest";
inline constexpr char kSensor1mStore[] = "sensor-1m";
inline constexpr char kSensor5mStore[] = "sensor-5m";
inline constexpr char kLocation1mStore[] = "location-1m";
inline constexpr char kLocation5mStore[] = "location-5m";

struct TopologyOptions {
  std::string input = "sensor_data";
  std::string output = "sensor_stats";
  // How late (event time) a reading may be and still count in its window.
  int64_t grace_ms = 10'000;
  // How long closed windows stay queryable.
  int64_t retention_ms = 2 * 3'600'000;
  // > 0: with no reading for this long (wall clock), stream time follows the
  // wall clock so the last windows of an idle input still close.
  int64_t idle_advance_ms = 0;
};

absl::StatusOr<std::shared_ptr<const runnel::Topology>> BuildDashboardTopology(const TopologyOptions& options);

}  // namespace runnel_apps::dashboard

#endif  // RUNNEL_APPS_SENSOR_DASHBOARD_TOPOLOGY_H_
