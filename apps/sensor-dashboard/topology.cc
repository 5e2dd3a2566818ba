#include "topology.h"

#include "boost/json/object.hpp"
#include "runnel/http/json.h"
#include "runnel/runnel.h"
#include "stats.h"

namespace runnel_apps::dashboard {
namespace {

using runnel::EmitStrategy;
using runnel::Materialized;
using runnel::Named;
using runnel::TimeWindows;
using runnel::Windowed;
namespace serdes = runnel::serdes;

std::string IsoMillis(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// The output record of one closed window.
runnel::KeyValue<std::string, std::string> WindowRecord(std::string_view scope, std::string_view window,
                                                        const Windowed<std::string>& key,
                                                        const WindowStats& stats) {
  boost::json::object o = WindowStatsJson(stats);
  o["scope"] = scope;
  o["id"] = key.key;
  o["window"] = window;
  o["start_ms"] = key.window.start.value();
  o["end_ms"] = key.window.end.value();
  o["start"] = IsoMillis(key.window.start.value());
  return {key.key, runnel::http::SerializeJson(o)};
}

// Windows the grouped stream by `windows` into the store `store`, and sends
// each closed window to `output`.
template <typename Grouped>
void WindowedStats(Grouped grouped, const TimeWindows& windows, const TopologyOptions& options,
                   const std::string& store, std::string scope, std::string window) {
  EmitStrategy emit = EmitStrategy::OnWindowClose();
  if (options.idle_advance_ms > 0) emit = emit.AdvanceWhenIdle(absl::Milliseconds(options.idle_advance_ms));
  grouped.WindowedBy(windows)
      .Emit(emit)
      .Aggregate([] { return WindowStats(); },
                 [](const std::string&, const Reading& r, WindowStats s) { return FoldWindow(s, r.value); },
                 Materialized<std::string, WindowStats>::As(store, serdes::String(), WindowStatsSerde())
                     .WithRetention(absl::Milliseconds(options.retention_ms)),
                 Named(store + "-stats"))
      .ToStream(Named(store + "-closed"))
      .Map(
          [scope, window](const Windowed<std::string>& key, const WindowStats& stats) {
            return WindowRecord(scope, window, key, stats);
          },
          Named(store + "-to-output"))
      .To(options.output, runnel::Produced(serdes::String(), serdes::String()));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const runnel::Topology>> BuildDashboardTopology(const TopologyOptions& options) {
  const auto grace = absl::Milliseconds(options.grace_ms);
  const TimeWindows one_minute = TimeWindows::OfSizeAndGrace(absl::Minutes(1), grace);
  const TimeWindows five_minutes = TimeWindows::OfSizeAndGrace(absl::Minutes(5), grace).AdvanceBy(absl::Minutes(1));

  runnel::StreamsBuilder builder;
  auto readings = builder.Stream(options.input, runnel::Consumed(serdes::String(), ReadingSerde()));

  auto by_sensor = readings.GroupByKey();
  by_sensor.Aggregate([] { return SensorStats(); },
                      [](const std::string&, const Reading& r, SensorStats s) { return FoldSensor(std::move(s), r); },
                      Materialized<std::string, SensorStats>::As(kLatestStore, serdes::String(), SensorStatsSerde()),
                      Named("sensor-latest-stats"));
  WindowedStats(by_sensor, one_minute, options, kSensor1mStore, "sensor", "1m");
  WindowedStats(by_sensor, five_minutes, options, kSensor5mStore, "sensor", "5m");

  auto by_location = readings.GroupBy([](const std::string&, const Reading& r) { return r.location; },
                                      runnel::Grouped<std::string, Reading>(serdes::String(), ReadingSerde(),
                                                                            "readings-by-location"));
  WindowedStats(by_location, one_minute, options, kLocation1mStore, "location", "1m");
  WindowedStats(by_location, five_minutes, options, kLocation5mStore, "location", "5m");
  return builder.Build();
}

}  // namespace runnel_apps::dashboard
