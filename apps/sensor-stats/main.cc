// sensor-stats: a keyed aggregation over sensor readings.
//
// Reads JSON readings {"sensor": "s-17", "temp_f": 71.2} keyed by sensor
// from `sensor-readings`, and keeps per sensor, in the RocksDB store
// `sensor-stats` (changelogged, restored after a restart):
//   {"sensor": "s-17", "count": 42, "mean_c": 21.3, "min_c": 18.0, "max_c": 24.9}
// Every update of a sensor's statistics (merged per commit by the record
// cache) goes to `sensor-stats`, keyed by sensor. Malformed readings go to
// the configured deserialization handler; out-of-range ones are dropped.
//
//   sensor-stats --config app.properties [--set key=value ...]
//                [--input sensor-readings] [--output sensor-stats]
//
// Prints its topology at start. A bad flag, config key or value exits with
// code 2 and a message naming it.

#include <algorithm>
#include <cmath>

#include "common/app.h"
#include "common/sensor.h"

namespace {

using runnel::serdes::JsonValue;

double Round2(double v) { return std::round(v * 100.0) / 100.0; }

// Folds one Celsius reading into a sensor's statistics.
JsonValue Fold(const std::string& sensor, double celsius, JsonValue stats) {
  auto* f = stats.mutable_struct_value()->mutable_fields();
  const double count = f->contains("count") ? (*f)["count"].number_value() : 0;
  const double sum = f->contains("sum_c") ? (*f)["sum_c"].number_value() : 0;
  (*f)["sensor"].set_string_value(sensor);
  (*f)["count"].set_number_value(count + 1);
  (*f)["sum_c"].set_number_value(sum + celsius);
  (*f)["mean_c"].set_number_value(Round2((sum + celsius) / (count + 1)));
  (*f)["min_c"].set_number_value(count == 0 ? Round2(celsius) : std::min((*f)["min_c"].number_value(), Round2(celsius)));
  (*f)["max_c"].set_number_value(count == 0 ? Round2(celsius) : std::max((*f)["max_c"].number_value(), Round2(celsius)));
  return stats;
}

}  // namespace

int main(int argc, char** argv) {
  return runnel_apps::RunApp(
      "sensor-stats", argc, argv, {.input = "sensor-readings", .output = "sensor-stats"},
      [](const runnel_apps::AppArgs& args) {
        runnel::StreamsBuilder builder;
        builder.Stream(args.input, runnel::Consumed(runnel::serdes::String(), runnel::serdes::Json()))
            .Filter([](const std::string&, const JsonValue& v) { return runnel_apps::CelsiusOf(v).has_value(); },
                    runnel::Named("valid-readings"))
            .MapValues([](const JsonValue& v) { return *runnel_apps::CelsiusOf(v); }, runnel::Named("to-celsius"))
            .GroupByKey()
            .Aggregate([] { return JsonValue(); },
                       [](const std::string& sensor, double celsius, JsonValue stats) {
                         return Fold(sensor, celsius, std::move(stats));
                       },
                       runnel::Materialized<std::string, JsonValue>::As("sensor-stats", runnel::serdes::String(),
                                                                        runnel::serdes::Json()),
                       runnel::Named("stats-per-sensor"))
            .ToStream()
            .To(args.output, runnel::Produced(runnel::serdes::String(), runnel::serdes::Json()));
        return builder.Build();
      });
}
