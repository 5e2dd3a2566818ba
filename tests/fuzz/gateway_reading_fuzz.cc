// The sensor gateway's request bodies (apps/sensor-gateway/reading.h): one
// reading (POST /sensor) and an array of them (POST /sensors), parsed with
// Boost.JSON and validated field by field; and the stream apps' reading
// check (apps/common/sensor.h, CelsiusOf) on the same bytes as JSON.
// Properties: a refused body says why (a message, the field, the index in
// an array) as valid JSON; an accepted reading's record is normalized: its
// value is itself a reading that parses to the same record, its timestamp
// in range and printed in a form that parses back to the same instant.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/sensor.h"
#include "fuzz_check.h"
#include "reading.h"
#include "runnel/http/json.h"
#include "runnel/serde/json_serde.h"

namespace {

namespace gw = runnel_apps::gateway;

constexpr int64_t kMaxMillis = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
constexpr size_t kMaxReadings = 100;

void CheckRefusal(const gw::ReadingError& error) {
  FUZZ_CHECK(!error.message.empty(), "a refusal without a reason");
  const std::string json = error.ToJson();
  FUZZ_CHECK(runnel::http::ParseJson(json).ok(), "the error body is not JSON: " + json);
}

void CheckRecord(const gw::ReadingRecord& record) {
  FUZZ_CHECK(!record.key.empty() && record.key.size() <= 256, "sensor_id out of bounds");
  FUZZ_CHECK(record.timestamp_ms >= 0 && record.timestamp_ms <= kMaxMillis, "timestamp out of range");
  const std::string printed = gw::FormatTimestampMillis(record.timestamp_ms);
  FUZZ_CHECK(gw::ParseTimestampMillis(printed) == record.timestamp_ms, "timestamp does not round-trip: " + printed);
  gw::ReadingError error;
  auto again = gw::ParseReading(record.value, error);
  FUZZ_CHECK(again.has_value(), "the record's value is refused: " + record.value + ": " + error.message);
  FUZZ_CHECK(again->key == record.key && again->value == record.value && again->timestamp_ms == record.timestamp_ms,
             "the record's value is not normalized: " + record.value + " vs " + again->value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = runnel::fuzz::AsView(data, size);
  gw::ReadingError error;
  if (auto record = gw::ParseReading(body, error)) {
    CheckRecord(*record);
  } else {
    CheckRefusal(error);
  }
  gw::ReadingError array_error;
  if (auto records = gw::ParseReadings(body, kMaxReadings, array_error)) {
    FUZZ_CHECK(!records->empty() && records->size() <= kMaxReadings, "array size out of bounds");
    for (const auto& r : *records) CheckRecord(r);
  } else {
    CheckRefusal(array_error);
  }
  if (auto millis = gw::ParseTimestampMillis(body)) {
    FUZZ_CHECK(*millis >= 0 && *millis <= kMaxMillis, "timestamp out of range");
  }
  // The stream apps' readings ({"sensor": ..., "temp_f": ...}), parsed as the
  // JSON serde parses a record value.
  if (auto json = runnel::serdes::ParseJson(body); json.ok()) {
    if (auto celsius = runnel_apps::CelsiusOf(*json)) {
      FUZZ_CHECK(std::isfinite(*celsius) && *celsius > -100.1 && *celsius < 125.1, "celsius out of range");
    }
  }
  return 0;
}
