#include "window_check.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace runnel_chaos {

WindowCheck::WindowCheck(absl::flat_hash_map<std::string, int64_t> oracle, Guarantee guarantee)
    : oracle_(std::move(oracle)), guarantee_(guarantee) {}

void WindowCheck::Add(std::string_view window_view, std::string_view value) {
  ++outputs_;
  int64_t count = 0;
  if (!absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &count)) {
    ++bad_values_;
    return;
  }
  std::string window(window_view);
  auto want = oracle_.find(window);
  Seen& seen = seen_[window];
  const bool was = want != oracle_.end() && seen.times > 0 && Reached(seen, want->second);
  if (seen.times == 0) seen.first = count;
  seen.highest = seen.times == 0 ? count : std::max(seen.highest, count);
  ++seen.times;
  if (want != oracle_.end()) {
    seen.any_wrong = seen.any_wrong || count != want->second;
    const bool is = Reached(seen, want->second);
    complete_ += static_cast<int64_t>(is) - static_cast<int64_t>(was);
  }
}

WindowCheck::Result WindowCheck::Finish() const {
  Result r;
  r.windows = static_cast<int64_t>(oracle_.size());
  r.output_records = outputs_;
  r.bad_values = bad_values_;
  for (const auto& [window, seen] : seen_) {
    r.duplicates += seen.times - 1;
    if (!oracle_.contains(window)) ++r.unexpected;
  }
  for (const auto& [window, want] : oracle_) {
    auto it = seen_.find(window);
    if (it == seen_.end()) {
      ++r.missing;
      continue;
    }
    if (it->second.any_wrong) ++r.wrong;
    if (it->second.highest < want) ++r.short_windows;
    if (it->second.highest > want) ++r.overcounted;
  }
  const bool clean = r.missing == 0 && r.unexpected == 0 && r.bad_values == 0;
  r.exact = clean && r.wrong == 0 && r.duplicates == 0;
  r.no_loss = clean && r.short_windows == 0;
  r.passed = guarantee_ == Guarantee::kExactlyOnce ? r.exact : r.no_loss;
  return r;
}

std::string WindowCheck::Json() const {
  const Result r = Finish();
  return absl::StrCat(
      "{\"check\": \"", guarantee_ == Guarantee::kExactlyOnce ? "exactly_once" : "at_least_once",
      "\", \"windows\": ", r.windows, ", \"output_records\": ", r.output_records, ", \"missing\": ", r.missing,
      ", \"wrong\": ", r.wrong, ", \"duplicates\": ", r.duplicates, ", \"short\": ", r.short_windows,
      ", \"overcounted\": ", r.overcounted, ", \"unexpected\": ", r.unexpected, ", \"bad_values\": ", r.bad_values,
      ", \"exact\": ", r.exact ? "true" : "false", ", \"no_loss\": ", r.no_loss ? "true" : "false",
      ", \"passed\": ", r.passed ? "true" : "false", "}");
}

std::string WindowCheck::Examples(int limit) const {
  std::string out;
  int missing = 0, wrong = 0;
  for (const auto& [window, want] : oracle_) {
    auto it = seen_.find(window);
    if (it == seen_.end()) {
      if (missing++ < limit) absl::StrAppend(&out, "missing: ", window, " (count ", want, ")\n");
    } else if ((it->second.any_wrong || it->second.times > 1) && wrong++ < limit) {
      absl::StrAppend(&out, "wrong or repeated: ", window, " first ", it->second.first, ", highest ",
                      it->second.highest, ", ", it->second.times, " time(s), want ", want, "\n");
    }
  }
  return out;
}

}  // namespace runnel_chaos
