#ifndef RUNNEL_TOOLS_REPLAY_ROW_MAPPER_H_
#define RUNNEL_TOOLS_REPLAY_ROW_MAPPER_H_

// Turning CSV rows into Kafka records: which column is the key, the
// timestamp, the headers and the value, and how a time and a value are
// written. Pure functions and a value type: no I/O, any thread.

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "runnel/common/headers.h"

namespace runnel::replay {

enum class TimeFormat { kIso, kEpochMillis, kEpochSeconds, kAuto };

// "iso", "epoch-ms", "epoch-s" or "auto"; kInvalidArgument naming
// --time-format otherwise.
absl::StatusOr<TimeFormat> ParseTimeFormat(absl::string_view name);

// Epoch milliseconds of `text`:
//   iso       2026-03-01T12:00:00Z, 2026-03-01 12:00:00.250+01:00, ...;
//             fractions to the nanosecond (truncated to ms), no zone = UTC
//   epoch-ms  an integer; epoch-s  an integer or decimal (fraction -> ms)
//   auto      a number with 12 or more integer digits is epoch-ms, any other
//             number epoch-s, anything else ISO-8601
absl::StatusOr<int64_t> ParseTime(absl::string_view text, TimeFormat format);

// The JSON text of one CSV field: the field itself when it is a JSON number
// with a finite value (21.5, -3, 1e3), else a JSON string (with escapes).
std::string JsonScalar(absl::string_view field);

// Which columns play which part; names as in the CSV's header row.
struct ColumnRoles {
  std::string key_column;    // empty: records without key
  std::string time_column;   // empty: the producer stamps the send time
  TimeFormat time_format = TimeFormat::kAuto;
  std::vector<std::string> header_columns;
  std::string value_column;  // empty: the value is a JSON object of the rest
};

struct MappedRecord {
  std::optional<std::string> key;
  std::string value;
  std::optional<int64_t> timestamp_ms;
  Headers headers;
};

// Resolves column names against the header row once, then maps rows.
class RowMapper {
 public:
  // kInvalidArgument naming the flag whose column is not in `header`, or a
  // header row with a duplicate or empty column name.
  static absl::StatusOr<RowMapper> Create(const std::vector<std::string>& header, ColumnRoles roles);

  // The record of one well-formed row, or why the row is malformed (wrong
  // column count, unparsable time, empty key), as kInvalidArgument naming
  // the column; the caller adds the line number.
  absl::StatusOr<MappedRecord> Map(const std::vector<std::string>& fields) const;

  // Index of a column by name, if present.
  std::optional<size_t> ColumnIndex(absl::string_view name) const;
  const std::vector<std::string>& header() const { return header_; }

 private:
  RowMapper() = default;
  std::vector<std::string> header_;
  TimeFormat time_format_ = TimeFormat::kAuto;
  std::optional<size_t> key_, time_, value_;
  std::vector<size_t> headers_;
  std::vector<size_t> value_fields_;  // the object's members, in CSV order
};

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_ROW_MAPPER_H_
