#include "window_check.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chaos_input.h"
#include "gtest/gtest.h"

namespace runnel_chaos {
namespace {

using Output = std::vector<std::pair<std::string, int64_t>>;

// Window a@0 has 3 input records, b@0 has 2.
absl::flat_hash_map<std::string, int64_t> TwoWindows() { return {{"a@0", 3}, {"b@0", 2}}; }

WindowCheck::Result Check(Guarantee guarantee, const Output& output) {
  WindowCheck check(TwoWindows(), guarantee);
  for (const auto& [window, count] : output) check.Add(window, absl::StrCat(count));
  return check.Finish();
}

TEST(WindowCheckTest, ExactlyOnceAcceptsOnlyEachWindowOnceWithItsCount) {
  EXPECT_TRUE(Check(Guarantee::kExactlyOnce, {{"a@0", 3}, {"b@0", 2}}).passed);
  const auto missing = Check(Guarantee::kExactlyOnce, {{"a@0", 3}});
  EXPECT_FALSE(missing.passed);
  EXPECT_EQ(missing.missing, 1);
  const auto wrong = Check(Guarantee::kExactlyOnce, {{"a@0", 2}, {"b@0", 2}});
  EXPECT_FALSE(wrong.passed);
  EXPECT_EQ(wrong.wrong, 1);
  const auto twice = Check(Guarantee::kExactlyOnce, {{"a@0", 3}, {"b@0", 2}, {"a@0", 3}});
  EXPECT_FALSE(twice.passed);
  EXPECT_EQ(twice.duplicates, 1);
  EXPECT_FALSE(Check(Guarantee::kExactlyOnce, {{"a@0", 3}, {"b@0", 2}, {"c@0", 1}}).passed);
}

TEST(WindowCheckTest, AtLeastOnceReportsDuplicatesAndFailsOnlyOnLoss) {
  const auto replayed = Check(Guarantee::kAtLeastOnce, {{"a@0", 3}, {"b@0", 2}, {"a@0", 4}});
  EXPECT_TRUE(replayed.passed);
  EXPECT_FALSE(replayed.exact);
  EXPECT_EQ(replayed.duplicates, 1);
  EXPECT_EQ(replayed.overcounted, 1);
  const auto lost = Check(Guarantee::kAtLeastOnce, {{"a@0", 2}, {"b@0", 2}});
  EXPECT_FALSE(lost.passed);
  EXPECT_EQ(lost.short_windows, 1);
  EXPECT_FALSE(Check(Guarantee::kAtLeastOnce, {{"b@0", 2}}).passed);
}

TEST(WindowCheckTest, CompleteOnlyOnceEveryWindowIsRight) {
  WindowCheck check(TwoWindows(), Guarantee::kExactlyOnce);
  check.Add("a@0", "3");
  EXPECT_FALSE(check.Complete());
  check.Add("b@0", "2");
  EXPECT_TRUE(check.Complete());
  check.Add("b@0", "2");  // a duplicate undoes it
  EXPECT_FALSE(check.Complete());
}

TEST(WindowCheckTest, NonNumericValueFails) {
  WindowCheck check(TwoWindows(), Guarantee::kAtLeastOnce);
  check.Add("a@0", "3");
  check.Add("b@0", "two");
  EXPECT_FALSE(check.Finish().passed);
  EXPECT_EQ(check.Finish().bad_values, 1);
}

// The input is a function of the seed: the producer and the oracle agree
// without sharing state, and another seed gives another input.
TEST(ChaosInputTest, RecordsAreAFunctionOfSeedAndIndex) {
  InputSpec spec{.seed = 42, .count = 1000, .keys = 50, .base_ms = 60'000 * 1000, .span_ms = 3'600'000};
  int64_t differ = 0;
  for (int64_t i = 0; i < spec.count; ++i) {
    const InputRecord a = RecordAt(spec, i), b = RecordAt(spec, i);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.timestamp_ms, b.timestamp_ms);
    EXPECT_GE(a.timestamp_ms, spec.base_ms);
    EXPECT_LT(a.timestamp_ms, spec.base_ms + spec.span_ms);
    InputSpec other = spec;
    other.seed = 43;
    if (RecordAt(other, i).key != a.key) ++differ;
  }
  EXPECT_GT(differ, 900);
  int64_t total = 0;
  for (const auto& [window, n] : Oracle(spec)) total += n;
  EXPECT_EQ(total, spec.count);
}

// No record is later than the grace behind any earlier one: none is dropped
// as late by the windowed count, so the oracle may count every record.
TEST(ChaosInputTest, NoRecordIsLaterThanTheGrace) {
  InputSpec spec{.seed = 7, .count = 100000, .keys = 100, .base_ms = 60'000 * 1000, .span_ms = 3'600'000};
  int64_t stream_time = 0;
  for (int64_t i = 0; i < spec.count; ++i) {
    const int64_t ts = RecordAt(spec, i).timestamp_ms;
    ASSERT_GT(ts / kWindowMs * kWindowMs + kWindowMs + kGraceMs, stream_time) << "record " << i;
    stream_time = std::max(stream_time, ts);
  }
  EXPECT_GE(CloseTimestamp(spec), stream_time + kWindowMs + kGraceMs);
}

}  // namespace
}  // namespace runnel_chaos
