// sensor-clean: the first Runnel pipeline.
//
// Reads JSON sensor readings {"sensor": "s-17", "temp_f": 71.2, "ts": ...}
// from `sensor-readings`, drops readings that are out of physical range,
// converts Fahrenheit to Celsius and writes {"sensor", "temp_c"} to
// `sensor-clean`, keyed by sensor. Malformed JSON goes to the configured
// deserialization handler (the demo uses the dead-letter topic).
//
//   sensor-clean --config app.properties [--set key=value ...]
//                [--input sensor-readings] [--output sensor-clean]
//
// Config layers: the file, then RUNNEL_CONF_* environment variables, then
// --set. A bad key or value exits with code 2 and a message naming it.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runnel/runnel.h"

namespace {

struct Args {
  std::string config_file;
  std::map<std::string, std::string> overrides;
  std::string input = "sensor-readings";
  std::string output = "sensor-clean";
  std::string log_level = "info";
};

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      return std::string(argv[++i]);
    };
    absl::StatusOr<std::string> v;
    if (flag == "--config") {
      if (!(v = value()).ok()) return v.status();
      args.config_file = *v;
    } else if (flag == "--set") {
      if (!(v = value()).ok()) return v.status();
      auto eq = v->find('=');
      if (eq == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("--set wants key=value, got '", *v, "'"));
      }
      args.overrides[v->substr(0, eq)] = v->substr(eq + 1);
    } else if (flag == "--input") {
      if (!(v = value()).ok()) return v.status();
      args.input = *v;
    } else if (flag == "--output") {
      if (!(v = value()).ok()) return v.status();
      args.output = *v;
    } else if (flag == "--log-level") {
      if (!(v = value()).ok()) return v.status();
      args.log_level = *v;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", flag, "'"));
    }
  }
  return args;
}

std::shared_ptr<const runnel::Topology> BuildTopology(const std::string& input,
                                                      const std::string& output) {
  using runnel::serdes::JsonValue;
  runnel::StreamsBuilder builder;
  builder.Stream(input, runnel::Consumed(runnel::serdes::String(), runnel::serdes::Json()))
      .Filter(
          [](const std::string&, const JsonValue& v) {
            if (v.kind_case() != JsonValue::kStructValue) return false;
            const auto& f = v.struct_value().fields();
            auto temp = f.find("temp_f");
            if (temp == f.end() || temp->second.kind_case() != JsonValue::kNumberValue) return false;
            double t = temp->second.number_value();
            return t > -148.0 && t < 257.0;  // -100 C .. 125 C: a sensor's physical range
          },
          runnel::Named("valid-readings"))
      .MapValues(
          [](const std::string& key, const JsonValue& v) {
            const auto& f = v.struct_value().fields();
            JsonValue out;
            auto* fields = out.mutable_struct_value()->mutable_fields();
            (*fields)["sensor"].set_string_value(key);
            double celsius = (f.at("temp_f").number_value() - 32.0) * 5.0 / 9.0;
            (*fields)["temp_c"].set_number_value(std::round(celsius * 100.0) / 100.0);
            return out;
          },
          runnel::Named("to-celsius"))
      .To(output, runnel::Produced(runnel::serdes::String(), runnel::serdes::Json()));
  auto topology = builder.Build();
  if (!topology.ok()) {
    std::fprintf(stderr, "sensor-clean: %s\n", std::string(topology.status().message()).c_str());
    std::exit(1);
  }
  return *topology;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "sensor-clean: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (absl::Status s = runnel::SetLogLevel(args->log_level); !s.ok()) {
    std::fprintf(stderr, "sensor-clean: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  runnel::ConfigLoader loader;
  if (!args->config_file.empty()) {
    if (absl::Status s = loader.AddFile(args->config_file); !s.ok()) {
      std::fprintf(stderr, "sensor-clean: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  loader.AddEnvironment().Add(args->overrides);
  auto config = runnel::StreamsConfig::Create(loader.values());
  if (!config.ok()) {
    std::fprintf(stderr, "sensor-clean: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  auto streams = runnel::KafkaStreams::Create(BuildTopology(args->input, args->output), *config);
  if (!streams.ok()) {
    std::fprintf(stderr, "sensor-clean: %s\n", std::string(streams.status().message()).c_str());
    return 2;
  }
  absl::Status s = runnel::RunUntilShutdownSignal(**streams);
  runnel::Logger("sensor-clean")
      ->info("processed {} records; deserialization errors {}", (*streams)->processed(),
             (*streams)->metrics().CounterTotal("runnel_deserialization_errors_total"));
  if (!s.ok()) {
    std::fprintf(stderr, "sensor-clean: %s\n", s.ToString().c_str());
    return absl::IsInvalidArgument(s) || absl::IsNotFound(s) ? 2 : 1;
  }
  return 0;
}
