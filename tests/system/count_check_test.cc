#include "count_check.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace runnel_system {
namespace {

using Output = std::vector<std::pair<std::string, int64_t>>;

// a has 3 input records, b has 2.
absl::flat_hash_map<std::string, int64_t> Oracle() { return {{"a", 3}, {"b", 2}}; }

CountCheck::Result Check(Guarantee guarantee, const Output& output) {
  CountCheck check(Oracle(), guarantee);
  for (const auto& [key, count] : output) check.Add(key, absl::StrCat(count));
  return check.Finish();
}

const Output kExact = {{"a", 1}, {"b", 1}, {"a", 2}, {"b", 2}, {"a", 3}};
// A restart after a kill: b's update 2 replayed, a counted once too often.
const Output kDuplicated = {{"a", 1}, {"b", 1}, {"a", 2}, {"b", 2}, {"a", 3}, {"b", 2}, {"a", 4}};
// kExact with one record removed: a's last update never came, so one of
// a's input records is not counted.
const Output kLost = {{"a", 1}, {"b", 1}, {"a", 2}, {"b", 2}};
// A loss hidden in the middle of a key's updates, with its last count right:
// no input is missing from the count (a replay counted past a cut-off send).
const Output kGap = {{"a", 1}, {"b", 1}, {"b", 2}, {"a", 3}};

TEST(CountCheckTest, ExactlyOnceAcceptsOnlyTheOracle) {
  EXPECT_TRUE(Check(Guarantee::kExactlyOnce, kExact).passed);
  EXPECT_FALSE(Check(Guarantee::kExactlyOnce, kDuplicated).passed);
  EXPECT_FALSE(Check(Guarantee::kExactlyOnce, kLost).passed);
}

TEST(CountCheckTest, AtLeastOnceToleratesDuplicatesAndReportsThem) {
  const auto r = Check(Guarantee::kAtLeastOnce, kDuplicated);
  EXPECT_TRUE(r.passed);
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.repeated_outputs, 1);
  EXPECT_EQ(r.overcounted, 1);
  EXPECT_EQ(r.keys_short, 0);
  EXPECT_TRUE(Check(Guarantee::kAtLeastOnce, kExact).passed);
  EXPECT_TRUE(Check(Guarantee::kAtLeastOnce, kGap).passed);
}

// The check system_alo_kill used to skip (--report-only): at-least-once
// must still fail when an input record is lost.
TEST(CountCheckTest, AtLeastOnceFailsOnALostRecord) {
  const auto r = Check(Guarantee::kAtLeastOnce, kLost);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.keys_short, 1);
  EXPECT_EQ(r.undercounted, 1);
  // Also when duplicates elsewhere make the total come out right.
  EXPECT_FALSE(Check(Guarantee::kAtLeastOnce, {{"a", 1}, {"a", 2}, {"b", 1}, {"b", 2}, {"b", 3}}).passed);
  // And when a key has no output at all.
  EXPECT_FALSE(Check(Guarantee::kAtLeastOnce, {{"a", 1}, {"a", 2}, {"a", 3}}).passed);
}

TEST(CountCheckTest, CompleteWhenEveryKeyReachedItsCount) {
  CountCheck exactly(Oracle(), Guarantee::kExactlyOnce), at_least(Oracle(), Guarantee::kAtLeastOnce);
  for (const auto& [key, count] : kDuplicated) {
    exactly.Add(key, absl::StrCat(count));
    at_least.Add(key, absl::StrCat(count));
  }
  EXPECT_FALSE(exactly.Complete());  // a ended at 4
  EXPECT_TRUE(at_least.Complete());
  CountCheck lost(Oracle(), Guarantee::kAtLeastOnce);
  for (const auto& [key, count] : kLost) lost.Add(key, absl::StrCat(count));
  EXPECT_FALSE(lost.Complete());
}

TEST(CountCheckTest, AValueThatIsNotACountFails) {
  CountCheck check(Oracle(), Guarantee::kAtLeastOnce);
  for (const auto& [key, count] : kExact) check.Add(key, absl::StrCat(count));
  check.Add("a", "three");
  EXPECT_FALSE(check.Finish().passed);
  EXPECT_NE(check.Json().find("\"bad_values\": 1"), std::string::npos) << check.Json();
}

}  // namespace
}  // namespace runnel_system
