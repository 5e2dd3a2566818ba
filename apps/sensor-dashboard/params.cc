#include "params.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "runnel/common/strings.h"

namespace runnel_apps::dashboard {
namespace {

using runnel::ToAbsl;

constexpr char kParameterPayload[] = "runnel.dashboard/parameter";

absl::Status Bad(std::string_view name, std::string_view why) {
  absl::Status s = absl::InvalidArgumentError(absl::StrCat("parameter '", ToAbsl(name), "' ", ToAbsl(why)));
  s.SetPayload(kParameterPayload, absl::Cord(ToAbsl(name)));
  return s;
}

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string BadParameter(const absl::Status& status) {
  auto payload = status.GetPayload(kParameterPayload);
  return payload ? std::string(*payload) : std::string();
}

absl::StatusOr<int64_t> ParseTimeParam(std::string_view name, std::string_view text) {
  if (AllDigits(text)) {
    int64_t ms = 0;
    if (!absl::SimpleAtoi(ToAbsl(text), &ms) || ms > 253'402'300'799'999) {
      return Bad(name, "is out of range (epoch milliseconds up to year 9999)");
    }
    return ms;
  }
  absl::Time t;
  std::string err;
  if (text.size() < 20 || !absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &t, &err)) {
    return Bad(name, absl::StrCat("must be an ISO-8601 date-time with a zone (2025-11-17T14:20:00Z) or epoch "
                                  "milliseconds, got '",
                                  ToAbsl(text), "'"));
  }
  const int64_t ms = absl::ToUnixMillis(t);
  if (ms < 0) return Bad(name, "is before 1970-01-01");
  return ms;
}

std::string_view WindowKindName(WindowKind kind) { return kind == WindowKind::kOneMinute ? "1m" : "5m"; }

absl::StatusOr<WindowQuery> ParseWindowQuery(const runnel::http::Request& request, int64_t now_ms) {
  WindowQuery q;
  q.to_ms = now_ms;
  if (auto to = request.Query("to")) {
    auto ms = ParseTimeParam("to", *to);
    if (!ms.ok()) return ms.status();
    q.to_ms = *ms;
  }
  q.from_ms = std::max<int64_t>(0, q.to_ms - 3'600'000);
  if (auto from = request.Query("from")) {
    auto ms = ParseTimeParam("from", *from);
    if (!ms.ok()) return ms.status();
    q.from_ms = *ms;
  }
  if (q.from_ms > q.to_ms) return Bad("from", "must not be after 'to'");
  if (auto window = request.Query("window")) {
    if (*window == "1m") {
      q.window = WindowKind::kOneMinute;
    } else if (*window == "5m") {
      q.window = WindowKind::kFiveMinutes;
    } else {
      return Bad("window", absl::StrCat("must be 1m or 5m, got '", ToAbsl(*window), "'"));
    }
  }
  for (const auto& [key, value] : request.query()) {
    if (key != "from" && key != "to" && key != "window") return Bad(key, "is not known (from, to, window)");
  }
  return q;
}

std::string_view StatFieldName(StatField field) {
  switch (field) {
    case StatField::kCount: return "count";
    case StatField::kMean: return "mean";
    case StatField::kMin: return "min";
    case StatField::kMax: return "max";
  }
  return "?";
}

absl::StatusOr<TopQuery> ParseTopQuery(const runnel::http::Request& request) {
  TopQuery q;
  if (auto by = request.Query("by")) {
    bool found = false;
    for (StatField f : {StatField::kCount, StatField::kMean, StatField::kMin, StatField::kMax}) {
      if (*by == StatFieldName(f)) {
        q.by = f;
        found = true;
      }
    }
    if (!found) return Bad("by", absl::StrCat("must be count, mean, min or max, got '", ToAbsl(*by), "'"));
  }
  if (auto n = request.Query("n")) {
    int parsed = 0;
    if (!AllDigits(*n) || !absl::SimpleAtoi(ToAbsl(*n), &parsed) || parsed < 1 || parsed > 1000) {
      return Bad("n", absl::StrCat("must be an integer in 1..1000, got '", ToAbsl(*n), "'"));
    }
    q.n = parsed;
  }
  for (const auto& [key, value] : request.query()) {
    if (key != "by" && key != "n") return Bad(key, "is not known (by, n)");
  }
  return q;
}

}  // namespace runnel_apps::dashboard
