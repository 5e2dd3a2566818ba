// The config parser (common/config.h): Java-style .properties text, then
// every value checked against a ConfigDef with each type, bounds, allowed
// values, a required key and pass-through prefixes (like StreamsConfig's).
// Properties: bad text or a bad value is InvalidArgument naming the line or
// key, never a crash; an accepted value is of its key's type and within
// its bounds, and the typed getters answer for every key.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "fuzz_check.h"
#include "runnel/common/config.h"

namespace {

using runnel::ConfigDef;
using runnel::ConfigKey;
using runnel::ConfigType;

const ConfigDef& Def() {
  static const ConfigDef* def = [] {
    auto* d = new ConfigDef();
    d->Define({.name = "application.id", .type = ConfigType::kString, .doc = "required"});
    d->Define({.name = "processing.guarantee",
               .type = ConfigType::kString,
               .default_value = "at_least_once",
               .allowed = {"at_least_once", "exactly_once_v2"}});
    d->Define({.name = "num.stream.threads", .type = ConfigType::kInt, .default_value = "1", .min = 1, .max = 1024});
    d->Define({.name = "commit.interval.ms", .type = ConfigType::kInt, .default_value = "30000", .min = 0});
    d->Define({.name = "ratio", .type = ConfigType::kDouble, .default_value = "0.5", .min = 0.0, .max = 1.0});
    d->Define({.name = "any.double", .type = ConfigType::kDouble, .default_value = "0"});
    d->Define({.name = "enable.metrics", .type = ConfigType::kBool, .default_value = "true"});
    d->Define({.name = "bootstrap.servers", .type = ConfigType::kList, .default_value = "localhost:9092"});
    d->PassThroughPrefix("consumer.").PassThroughPrefix("producer.");
    return d;
  }();
  return *def;
}

void CheckAccepted(const runnel::Config& config) {
  for (const auto& [name, key] : Def().keys()) {
    switch (key.type) {
      case ConfigType::kString: {
        const std::string& v = config.GetString(name);
        if (!key.allowed.empty()) {
          FUZZ_CHECK(std::find(key.allowed.begin(), key.allowed.end(), v) != key.allowed.end(),
                     name + " = '" + v + "' is not an allowed value");
        }
        break;
      }
      case ConfigType::kInt: {
        const int64_t v = config.GetInt(name);
        FUZZ_CHECK((!key.min || static_cast<double>(v) >= *key.min) && (!key.max || static_cast<double>(v) <= *key.max),
                   name + " is out of its bounds");
        break;
      }
      case ConfigType::kDouble: {
        const double v = config.GetDouble(name);
        FUZZ_CHECK(!std::isnan(v), name + " accepted NaN");
        FUZZ_CHECK((!key.min || v >= *key.min) && (!key.max || v <= *key.max), name + " is out of its bounds");
        break;
      }
      case ConfigType::kBool:
        (void)config.GetBool(name);
        break;
      case ConfigType::kList:
        for (const std::string& item : config.GetList(name)) FUZZ_CHECK(!item.empty(), name + " has an empty item");
        break;
    }
  }
  (void)config.WithPrefix("consumer.");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto values = runnel::ParseProperties(runnel::fuzz::AsView(data, size), "fuzz.properties");
  if (!values.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(values.status()), values.status().ToString());
    FUZZ_CHECK(absl::StrContains(values.status().message(), "fuzz.properties:"), "error does not name the line");
    return 0;
  }
  for (const auto& [key, value] : *values) FUZZ_CHECK(!key.empty(), "an empty key was accepted");
  auto config = runnel::Config::Parse(Def(), *values);
  if (!config.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(config.status()), config.status().ToString());
    FUZZ_CHECK(absl::StrContains(config.status().message(), "config key"), config.status().ToString());
    return 0;
  }
  CheckAccepted(*config);
  return 0;
}
