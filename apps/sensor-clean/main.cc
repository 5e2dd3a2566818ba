// sensor-clean: the first Runnel pipeline.
//
// Reads JSON sensor readings {"sensor": "s-17", "temp_f": 71.2} from
// `sensor-readings`, drops readings that are out of physical range,
// converts Fahrenheit to Celsius and writes {"sensor", "temp_c"} to
// `sensor-clean`, keyed by sensor. Malformed JSON goes to the configured
// deserialization handler (the demo uses the dead-letter topic).
//
//   sensor-clean --config app.properties [--set key=value ...]
//                [--input sensor-readings] [--output sensor-clean]
//
// A bad flag, config key or value exits with code 2 and a message naming it.

#include <cmath>

#include "common/app.h"
#include "common/sensor.h"

int main(int argc, char** argv) {
  using runnel::serdes::JsonValue;
  return runnel_apps::RunApp(
      "sensor-clean", argc, argv, {.input = "sensor-readings", .output = "sensor-clean"},
      [](const runnel_apps::AppArgs& args) {
        runnel::StreamsBuilder builder;
        builder.Stream(args.input, runnel::Consumed(runnel::serdes::String(), runnel::serdes::Json()))
            .Filter([](const std::string&, const JsonValue& v) { return runnel_apps::CelsiusOf(v).has_value(); },
                    runnel::Named("valid-readings"))
            .MapValues(
                [](const std::string& key, const JsonValue& v) {
                  JsonValue out;
                  auto* fields = out.mutable_struct_value()->mutable_fields();
                  (*fields)["sensor"].set_string_value(key);
                  (*fields)["temp_c"].set_number_value(std::round(*runnel_apps::CelsiusOf(v) * 100.0) / 100.0);
                  return out;
                },
                runnel::Named("to-celsius"))
            .To(args.output, runnel::Produced(runnel::serdes::String(), runnel::serdes::Json()));
        return builder.Build();
      });
}
