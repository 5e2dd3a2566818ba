#include "reading.h"

#include <cmath>
#include <cstdio>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"

namespace runnel_apps::gateway {
namespace {

using runnel::ToAbsl;

constexpr size_t kMaxStringBytes = 256;
// 9999-12-31T23:59:59.999Z
constexpr int64_t kMaxMillis = 253'402'300'799'999;

bool Fail(ReadingError& error, std::string message, std::string field, std::optional<size_t> index) {
  error = ReadingError{std::move(message), std::move(field), index};
  return false;
}

std::string_view View(const boost::json::string& s) { return std::string_view(s.data(), s.size()); }

// At most `max` bytes of `s` (valid UTF-8, as Boost.JSON checked), cut on a
// character boundary so that an error quoting it stays valid JSON.
std::string_view Excerpt(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xc0) == 0x80) --max;
  return s.substr(0, max);
}

// Validates one reading object and appends its record.
bool ConvertReading(const boost::json::value& v, std::optional<size_t> index, std::vector<ReadingRecord>& out,
                    ReadingError& error) {
  const boost::json::object* object = v.if_object();
  if (object == nullptr) return Fail(error, "a reading must be a JSON object", "", index);
  // Checked in the seed's field order, so the first error is the first
  // field a reader of the body would look at.
  std::string_view strings[4];  // sensor_id, type, unit, location
  auto string_field = [&](const char* name, std::string_view& out) {
    const boost::json::value* field = object->if_contains(name);
    if (field == nullptr) return Fail(error, absl::StrCat("missing field '", name, "'"), name, index);
    const boost::json::string* s = field->if_string();
    if (s == nullptr) return Fail(error, absl::StrCat("field '", name, "' must be a string"), name, index);
    if (s->empty() || s->size() > kMaxStringBytes) {
      return Fail(error, absl::StrCat("field '", name, "' must be 1..", kMaxStringBytes, " bytes"), name, index);
    }
    out = View(*s);
    return true;
  };
  if (!string_field("sensor_id", strings[0])) return false;
  const boost::json::value* ts = object->if_contains("timestamp");
  if (ts == nullptr) return Fail(error, "missing field 'timestamp'", "timestamp", index);
  if (!ts->is_string()) {
    return Fail(error, "field 'timestamp' must be an ISO-8601 string like 2025-11-17T14:20:00Z", "timestamp",
                index);
  }
  std::optional<int64_t> millis = ParseTimestampMillis(View(ts->get_string()));
  if (!millis) {
    return Fail(error,
                absl::StrCat("field 'timestamp' is not an ISO-8601 date-time with a zone (like "
                             "2025-11-17T14:20:00Z) between 1970 and 9999: '",
                             ToAbsl(Excerpt(View(ts->get_string()), 64)), "'"),
                "timestamp", index);
  }
  if (!string_field("type", strings[1])) return false;
  const boost::json::value* value = object->if_contains("value");
  if (value == nullptr) return Fail(error, "missing field 'value'", "value", index);
  if (!value->is_number()) return Fail(error, "field 'value' must be a number", "value", index);
  const double number = value->to_number<double>();
  if (!std::isfinite(number)) return Fail(error, "field 'value' must be a finite number", "value", index);
  if (!string_field("unit", strings[2])) return false;
  if (!string_field("location", strings[3])) return false;

  ReadingRecord record;
  record.key = std::string(strings[0]);
  record.timestamp_ms = *millis;
  std::string& json = record.value;
  json.reserve(160);
  json += "{\"sensor_id\":";
  runnel::http::AppendJsonString(strings[0], json);
  json += ",\"timestamp\":\"";
  json += FormatTimestampMillis(*millis);
  json += "\",\"type\":";
  runnel::http::AppendJsonString(strings[1], json);
  json += ",\"value\":";
  // Integers stay integers (as sent); other numbers in shortest form.
  if (value->is_int64()) {
    absl::StrAppend(&json, value->get_int64());
  } else if (value->is_uint64()) {
    absl::StrAppend(&json, value->get_uint64());
  } else {
    runnel::http::AppendJsonNumber(number, json);
  }
  json += ",\"unit\":";
  runnel::http::AppendJsonString(strings[2], json);
  json += ",\"location\":";
  runnel::http::AppendJsonString(strings[3], json);
  json += "}";
  out.push_back(std::move(record));
  return true;
}

// Parses `body` with a stack-backed arena (readings are small).
template <typename Fn>
bool WithParsed(std::string_view body, ReadingError& error, Fn&& fn) {
  unsigned char stack[8192];
  boost::json::monotonic_resource arena(stack, sizeof(stack));
  boost::json::parse_options options;
  options.max_depth = 16;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(body.data(), body.size()), ec, &arena, options);
  if (ec) return Fail(error, absl::StrCat("body is not valid JSON: ", ec.message()), "", std::nullopt);
  return fn(v);
}

}  // namespace

std::string ReadingError::ToJson() const {
  std::string out = "{\"error\":";
  runnel::http::AppendJsonString(message, out);
  if (!field.empty()) {
    out += ",\"field\":";
    runnel::http::AppendJsonString(field, out);
  }
  if (index) absl::StrAppend(&out, ",\"index\":", *index);
  out += "}";
  return out;
}

std::optional<int64_t> ParseTimestampMillis(std::string_view text) {
  absl::Time t;
  std::string err;
  // RFC3339_full: %Y-%m-%d%ET%H:%M:%E*S%Ez ('T' or 't'; 'Z' or an offset).
  if (!absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &t, &err)) return std::nullopt;
  const int64_t millis = absl::ToUnixMillis(t);
  if (millis < 0 || millis > kMaxMillis) return std::nullopt;
  return millis;
}

std::string FormatTimestampMillis(int64_t millis) {
  const absl::CivilSecond s = absl::ToCivilSecond(absl::FromUnixMillis(millis), absl::UTCTimeZone());
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", static_cast<int>(s.year()), s.month(),
                s.day(), s.hour(), s.minute(), s.second(), static_cast<int>(millis % 1000));
  return buf;
}

std::optional<ReadingRecord> ParseReading(std::string_view body, ReadingError& error) {
  std::vector<ReadingRecord> out;
  const bool ok = WithParsed(body, error, [&](const boost::json::value& v) {
    if (v.is_array()) {
      return Fail(error, "POST /sensor takes one reading (a JSON object); send arrays to POST /sensors", "",
                  std::nullopt);
    }
    return ConvertReading(v, std::nullopt, out, error);
  });
  if (!ok) return std::nullopt;
  return std::move(out.front());
}

std::optional<std::vector<ReadingRecord>> ParseReadings(std::string_view body, size_t max_readings,
                                                        ReadingError& error) {
  std::vector<ReadingRecord> out;
  const bool ok = WithParsed(body, error, [&](const boost::json::value& v) {
    const boost::json::array* array = v.if_array();
    if (array == nullptr) return Fail(error, "POST /sensors takes a JSON array of readings", "", std::nullopt);
    if (array->empty()) return Fail(error, "the array holds no reading", "", std::nullopt);
    if (array->size() > max_readings) {
      return Fail(error, absl::StrCat(array->size(), " readings in one request; at most ", max_readings),
                  "", max_readings);
    }
    out.reserve(array->size());
    for (size_t i = 0; i < array->size(); ++i) {
      if (!ConvertReading((*array)[i], i, out, error)) return false;
    }
    return true;
  });
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace runnel_apps::gateway
