#include "stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"

namespace runnel_apps::dashboard {
namespace {

namespace json = boost::json;
using runnel::ToAbsl;

absl::Status FieldError(std::string_view field, std::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("field '", ToAbsl(field), "' must be ", ToAbsl(want)));
}

absl::StatusOr<std::string> StringField(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || !v->is_string()) return FieldError(field, "a string");
  return std::string(v->get_string());
}

absl::StatusOr<double> NumberField(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || !v->is_number()) return FieldError(field, "a number");
  const double d = v->to_number<double>();
  if (!std::isfinite(d)) return FieldError(field, "finite");
  return d;
}

absl::StatusOr<int64_t> IntField(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v != nullptr && v->is_int64()) return v->get_int64();
  if (v != nullptr && v->is_uint64() && v->get_uint64() <= INT64_MAX) return static_cast<int64_t>(v->get_uint64());
  return FieldError(field, "an integer");
}

absl::StatusOr<json::object> ParseObject(std::string_view text) {
  auto parsed = runnel::http::ParseJson(text);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return absl::InvalidArgumentError("not a JSON object");
  return std::move(parsed->get_object());
}

// The reading's timestamp in ms since the epoch (RFC 3339, any zone).
absl::StatusOr<int64_t> TimestampMillis(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &t, &err)) {
    return FieldError("timestamp", "an RFC 3339 date-time");
  }
  return absl::ToUnixMillis(t);
}

absl::Status ReadWindowStats(const json::object& o, WindowStats& stats) {
  auto count = IntField(o, "count");
  if (!count.ok()) return count.status();
  stats.count = *count;
  for (auto [field, out] : {std::pair{"sum", &stats.sum}, {"min", &stats.min}, {"max", &stats.max}}) {
    auto v = NumberField(o, field);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  return absl::OkStatus();
}

template <typename T>
class JsonSerde final : public runnel::Serde<T> {
 public:
  using ToJson = std::string (*)(const T&);
  using FromJson = absl::StatusOr<T> (*)(std::string_view);
  JsonSerde(const char* name, ToJson to, FromJson from) : name_(name), to_(to), from_(from) {}
  absl::Status Serialize(const T& value, std::string& out) const override {
    out = to_(value);
    return absl::OkStatus();
  }
  absl::StatusOr<T> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return absl::InvalidArgumentError(absl::StrCat(name_, ": null payload"));
    return from_(*data);
  }
  std::string_view Name() const override { return name_; }

 private:
  const char* name_;
  ToJson to_;
  FromJson from_;
};

}  // namespace

absl::StatusOr<Reading> ParseReading(std::string_view text) {
  auto o = ParseObject(text);
  if (!o.ok()) return o.status();
  Reading r;
  for (auto [field, out] : {std::pair{"sensor_id", &r.sensor_id}, {"timestamp", &r.timestamp},
                            {"type", &r.type}, {"unit", &r.unit}, {"location", &r.location}}) {
    auto v = StringField(*o, field);
    if (!v.ok()) return v.status();
    *out = *std::move(v);
  }
  auto value = NumberField(*o, "value");
  if (!value.ok()) return value.status();
  r.value = *value;
  auto ts = TimestampMillis(r.timestamp);
  if (!ts.ok()) return ts.status();
  r.timestamp_ms = *ts;
  return r;
}

std::string ReadingToJson(const Reading& r) {
  json::object o;
  o["sensor_id"] = r.sensor_id;
  o["timestamp"] = r.timestamp;
  o["type"] = r.type;
  o["value"] = r.value;
  o["unit"] = r.unit;
  o["location"] = r.location;
  return runnel::http::SerializeJson(o);
}

WindowStats FoldWindow(WindowStats stats, double value) {
  stats.min = stats.count == 0 ? value : std::min(stats.min, value);
  stats.max = stats.count == 0 ? value : std::max(stats.max, value);
  stats.sum += value;
  ++stats.count;
  return stats;
}

SensorStats FoldSensor(SensorStats stats, const Reading& r) {
  const bool latest = stats.all.count == 0 || r.timestamp_ms >= stats.last_timestamp_ms;
  stats.all = FoldWindow(stats.all, r.value);
  stats.sensor_id = r.sensor_id;
  if (latest) {
    stats.type = r.type;
    stats.unit = r.unit;
    stats.location = r.location;
    stats.last_value = r.value;
    stats.last_timestamp = r.timestamp;
    stats.last_timestamp_ms = r.timestamp_ms;
  }
  return stats;
}

boost::json::object WindowStatsJson(const WindowStats& s) {
  json::object o;
  o["count"] = s.count;
  o["sum"] = s.sum;
  o["mean"] = s.mean();
  o["min"] = s.min;
  o["max"] = s.max;
  return o;
}

boost::json::object SensorStatsJson(const SensorStats& s) {
  json::object o;
  o["sensor_id"] = s.sensor_id;
  o["type"] = s.type;
  o["unit"] = s.unit;
  o["location"] = s.location;
  o["count"] = s.all.count;
  o["sum"] = s.all.sum;
  o["mean"] = s.all.mean();
  o["min"] = s.all.min;
  o["max"] = s.all.max;
  o["last_value"] = s.last_value;
  o["last_timestamp"] = s.last_timestamp;
  o["last_timestamp_ms"] = s.last_timestamp_ms;
  return o;
}

absl::StatusOr<WindowStats> ParseWindowStats(std::string_view text) {
  auto o = ParseObject(text);
  if (!o.ok()) return o.status();
  WindowStats s;
  if (absl::Status st = ReadWindowStats(*o, s); !st.ok()) return st;
  return s;
}

absl::StatusOr<SensorStats> ParseSensorStats(std::string_view text) {
  auto o = ParseObject(text);
  if (!o.ok()) return o.status();
  SensorStats s;
  if (absl::Status st = ReadWindowStats(*o, s.all); !st.ok()) return st;
  for (auto [field, out] : {std::pair{"sensor_id", &s.sensor_id}, {"type", &s.type}, {"unit", &s.unit},
                            {"location", &s.location}, {"last_timestamp", &s.last_timestamp}}) {
    auto v = StringField(*o, field);
    if (!v.ok()) return v.status();
    *out = *std::move(v);
  }
  auto last = NumberField(*o, "last_value");
  if (!last.ok()) return last.status();
  s.last_value = *last;
  auto last_ms = IntField(*o, "last_timestamp_ms");
  if (!last_ms.ok()) return last_ms.status();
  s.last_timestamp_ms = *last_ms;
  return s;
}

runnel::SerdePtr<Reading> ReadingSerde() {
  static const auto serde = std::make_shared<JsonSerde<Reading>>("sensor-reading-json", &ReadingToJson, &ParseReading);
  return serde;
}

runnel::SerdePtr<WindowStats> WindowStatsSerde() {
  static const auto serde = std::make_shared<JsonSerde<WindowStats>>(
      "window-stats-json", +[](const WindowStats& s) { return runnel::http::SerializeJson(WindowStatsJson(s)); },
      &ParseWindowStats);
  return serde;
}

runnel::SerdePtr<SensorStats> SensorStatsSerde() {
  static const auto serde = std::make_shared<JsonSerde<SensorStats>>(
      "sensor-stats-json", +[](const SensorStats& s) { return runnel::http::SerializeJson(SensorStatsJson(s)); },
      &ParseSensorStats);
  return serde;
}

}  // namespace runnel_apps::dashboard
