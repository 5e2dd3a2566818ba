#ifndef RUNNEL_APPS_SENSOR_GATEWAY_READING_H_
#define RUNNEL_APPS_SENSOR_GATEWAY_READING_H_

// Sensor readings as the gateway accepts them (the seed's JSON):
//
//   {"sensor_id": "sensor01", "timestamp": "2025-11-17T14:20:00Z",
//    "type": "temperature", "value": 25.3, "unit": "C", "location": "lab"}
//
// Validation, one rule per field, each failure naming the field (and, in
// an array, the index):
//   sensor_id, type, unit, location  strings of 1..256 bytes
//   timestamp  an RFC 3339 / ISO-8601 date-time with seconds and a zone
//              ("Z" or "+02:00"); fractions of a second allowed; between
//              1970-01-01 and 9999-12-31
//   value      a JSON number that is finite (1e999 reads as infinity: refused)
// Other fields are ignored (and not stored).
//
// The Kafka record: key = sensor_id, timestamp = the reading's timestamp in
// ms since the epoch, value = the reading as compact JSON with exactly the
// six fields, timestamp normalized to UTC with milliseconds
// ("2025-11-17T14:20:00.000Z").
//
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runnel_apps::gateway {

struct ReadingRecord {
  std::string key;
  std::string value;
  int64_t timestamp_ms = 0;
};

// Why a request body was refused: a message, the field at fault (empty for
// the body as a whole) and, for POST /sensors, the index in the array.
struct ReadingError {
  std::string message;
  std::string field;
  std::optional<size_t> index;
  // {"error": ..., "field": ..., "index": ...} (field and index left out
  // when they do not apply).
  std::string ToJson() const;
};

// Parses an RFC 3339 date-time into ms since the epoch (nullopt if not one).
std::optional<int64_t> ParseTimestampMillis(std::string_view text);
// "2025-11-17T14:20:00.000Z".
std::string FormatTimestampMillis(int64_t millis);

// One reading (POST /sensor's body) into one record. On error, `error` says
// why and nothing is returned.
std::optional<ReadingRecord> ParseReading(std::string_view body, ReadingError& error);
// An array of readings (POST /sensors' body): all or nothing. An empty
// array, or more than `max_readings`, is an error.
std::optional<std::vector<ReadingRecord>> ParseReadings(std::string_view body, size_t max_readings,
                                                        ReadingError& error);

}  // namespace runnel_apps::gateway

#endif  // RUNNEL_APPS_SENSOR_GATEWAY_READING_H_
