#include "row_mapper.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "runnel/http/json.h"

namespace runnel::replay {
namespace {

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(absl::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

absl::StatusOr<int64_t> ParseEpoch(absl::string_view text, bool seconds) {
  int64_t whole = 0;
  if (!seconds) {
    if (!absl::SimpleAtoi(text, &whole)) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not epoch milliseconds"));
    }
    return whole;
  }
  double value = 0;
  if (!IsJsonNumber(text) || !absl::SimpleAtod(text, &value) || !std::isfinite(value) ||
      std::fabs(value) > 9.2e15) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not epoch seconds"));
  }
  return static_cast<int64_t>(std::llround(value * 1000.0));
}

absl::StatusOr<int64_t> ParseIso(absl::string_view text) {
  // With a zone (Z or +hh:mm), then without one (UTC); 'T' or a space.
  static constexpr const char* kFormats[] = {
      "%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S%Ez", "%Y-%m-%d%ET%H:%M%Ez",
      "%Y-%m-%d%ET%H:%M:%E*S",    "%Y-%m-%d %H:%M:%E*S",    "%Y-%m-%d%ET%H:%M",
      "%Y-%m-%d %H:%M",           "%Y-%m-%d",
  };
  std::string trimmed(absl::StripAsciiWhitespace(text));
  for (const char* format : kFormats) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, trimmed, absl::UTCTimeZone(), &t, &err)) {
      return absl::ToUnixMillis(t);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not an ISO-8601 time (like 2026-03-01T12:00:00Z)"));
}

}  // namespace

absl::StatusOr<TimeFormat> ParseTimeFormat(absl::string_view name) {
  if (name == "iso") return TimeFormat::kIso;
  if (name == "epoch-ms") return TimeFormat::kEpochMillis;
  if (name == "epoch-s") return TimeFormat::kEpochSeconds;
  if (name == "auto") return TimeFormat::kAuto;
  return absl::InvalidArgumentError(
      absl::StrCat("--time-format: '", name, "' is not one of iso, epoch-ms, epoch-s, auto"));
}

absl::StatusOr<int64_t> ParseTime(absl::string_view text, TimeFormat format) {
  switch (format) {
    case TimeFormat::kIso:
      return ParseIso(text);
    case TimeFormat::kEpochMillis:
      return ParseEpoch(text, /*seconds=*/false);
    case TimeFormat::kEpochSeconds:
      return ParseEpoch(text, /*seconds=*/true);
    case TimeFormat::kAuto:
      break;
  }
  if (IsJsonNumber(text)) {
    absl::string_view integer = text.substr(absl::StartsWith(text, "-") ? 1 : 0);
    integer = integer.substr(0, integer.find_first_of(".eE"));
    const bool millis = AllDigits(integer) && integer.size() >= 12 &&
                        text.find_first_of(".eE") == absl::string_view::npos;
    return ParseEpoch(text, /*seconds=*/!millis);
  }
  return ParseIso(text);
}

std::string JsonScalar(absl::string_view field) {
  double value = 0;
  if (IsJsonNumber(field) && absl::SimpleAtod(field, &value) && std::isfinite(value)) {
    return std::string(field);
  }
  std::string out;
  http::AppendJsonString(std::string_view(field.data(), field.size()), out);
  return out;
}

absl::StatusOr<RowMapper> RowMapper::Create(const std::vector<std::string>& header, ColumnRoles roles) {
  RowMapper m;
  m.header_ = header;
  m.time_format_ = roles.time_format;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("CSV header: column ", i + 1, " has no name"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (header[j] == header[i]) {
        return absl::InvalidArgumentError(absl::StrCat("CSV header: column '", header[i], "' appears twice"));
      }
    }
  }
  auto resolve = [&](const std::string& name, absl::string_view flag) -> absl::StatusOr<std::optional<size_t>> {
    if (name.empty()) return std::optional<size_t>();
    std::optional<size_t> index = m.ColumnIndex(name);
    if (!index) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": no column '", name,
                                                     "' in the CSV header (", absl::StrJoin(header, ","), ")"));
    }
    return index;
  };
  auto key = resolve(roles.key_column, "--key-column");
  if (!key.ok()) return key.status();
  auto time = resolve(roles.time_column, "--time-column");
  if (!time.ok()) return time.status();
  auto value = resolve(roles.value_column, "--value-column");
  if (!value.ok()) return value.status();
  m.key_ = *key;
  m.time_ = *time;
  m.value_ = *value;
  for (const std::string& name : roles.header_columns) {
    auto index = resolve(name, "--header-columns");
    if (!index.ok()) return index.status();
    m.headers_.push_back(**index);
  }
  for (size_t i = 0; i < header.size(); ++i) {
    bool used = i == m.key_ || i == m.time_;
    for (size_t h : m.headers_) used = used || h == i;
    if (!used) m.value_fields_.push_back(i);
  }
  return m;
}

std::optional<size_t> RowMapper::ColumnIndex(absl::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == name) return i;
  }
  return std::nullopt;
}

absl::StatusOr<MappedRecord> RowMapper::Map(const std::vector<std::string>& fields) const {
  if (fields.size() != header_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(fields.size(), " columns where the header has ", header_.size()));
  }
  MappedRecord r;
  if (key_) {
    if (fields[*key_].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty key in column '", header_[*key_], "'"));
    }
    r.key = fields[*key_];
  }
  if (time_) {
    auto ts = ParseTime(fields[*time_], time_format_);
    if (!ts.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column '", header_[*time_], "': ", ts.status().message()));
    }
    r.timestamp_ms = *ts;
  }
  for (size_t h : headers_) r.headers.push_back({header_[h], fields[h]});
  if (value_) {
    r.value = fields[*value_];
    return r;
  }
  std::string json(1, '{');
  for (size_t i : value_fields_) {
    if (json.size() > 1) json.push_back(',');
    http::AppendJsonString(header_[i], json);
    json.push_back(':');
    json.append(JsonScalar(fields[i]));
  }
  json.push_back('}');
  r.value = std::move(json);
  return r;
}

}  // namespace runnel::replay
