#include "count_check.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace runnel_system {

CountCheck::CountCheck(absl::flat_hash_map<std::string, int64_t> oracle, Guarantee guarantee)
    : oracle_(std::move(oracle)), guarantee_(guarantee) {
  // A key with no input is never in the oracle; one with input starts at 0.
  for (const auto& [key, want] : oracle_) {
    if (Reached(0, want)) ++complete_keys_;
  }
}

void CountCheck::Add(std::string_view key_view, std::string_view value) {
  ++outputs_;
  int64_t count = 0;
  if (!absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &count)) {
    ++bad_values_;
    return;
  }
  std::string key(key_view);
  auto [it, inserted] = last_.try_emplace(key, 0);
  if (!inserted && count <= it->second) ++repeated_;
  if (auto want = oracle_.find(key); want != oracle_.end()) {
    if (Reached(it->second, want->second)) --complete_keys_;
    if (Reached(count, want->second)) ++complete_keys_;
  }
  it->second = count;
}

CountCheck::Result CountCheck::Finish() const {
  Result r;
  r.keys = static_cast<int64_t>(oracle_.size());
  r.output_records = outputs_;
  r.repeated_outputs = repeated_;
  r.bad_values = bad_values_;
  for (const auto& [key, want] : oracle_) {
    auto it = last_.find(key);
    const int64_t got = it == last_.end() ? 0 : it->second;
    if (got != want) ++r.keys_wrong;
    if (got < want) ++r.keys_short;
    r.overcounted += std::max<int64_t>(0, got - want);
    r.undercounted += std::max<int64_t>(0, want - got);
  }
  r.exact = r.keys_wrong == 0 && r.repeated_outputs == 0 && r.bad_values == 0;
  r.no_loss = r.keys_short == 0 && r.bad_values == 0;
  r.passed = guarantee_ == Guarantee::kExactlyOnce ? r.exact : r.no_loss;
  return r;
}

std::string CountCheck::Json() const {
  const Result r = Finish();
  return absl::StrCat(
      "{\"check\": \"", guarantee_ == Guarantee::kExactlyOnce ? "exactly_once" : "at_least_once",
      "\", \"keys\": ", r.keys, ", \"output_records\": ", r.output_records, ", \"keys_wrong\": ", r.keys_wrong,
      ", \"keys_short\": ", r.keys_short, ", \"overcounted\": ", r.overcounted, ", \"undercounted\": ",
      r.undercounted, ", \"repeated_outputs\": ", r.repeated_outputs, ", \"bad_values\": ", r.bad_values,
      ", \"exact\": ", r.exact ? "true" : "false", ", \"no_loss\": ", r.no_loss ? "true" : "false",
      ", \"passed\": ", r.passed ? "true" : "false", "}");
}

}  // namespace runnel_system
