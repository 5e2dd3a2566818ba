#include "generator.h"

#include <algorithm>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel_apps::clickstream {
namespace {

constexpr int64_t kStart = 1'765'000'000'000;

GeneratorOptions Options(uint64_t seed, int64_t count) {
  return GeneratorOptions{.seed = seed, .count = count, .users = 200, .malformed_share = 0.02, .start_ms = kStart};
}

TEST(GeneratorTest, SameSeedGivesTheSameEvents) {
  const auto a = GenerateAll(Options(7, 5000));
  const auto b = GenerateAll(Options(7, 5000));
  ASSERT_EQ(a.size(), 5000u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].value, b[i].value);
    EXPECT_EQ(a[i].timestamp_ms, b[i].timestamp_ms);
  }
  const auto c = GenerateAll(Options(8, 5000));
  int differing = 0;
  for (size_t i = 0; i < a.size(); ++i) differing += a[i].value != c[i].value;
  EXPECT_GT(differing, 4000);
}

TEST(GeneratorTest, MalformedShareIsAsConfiguredAndEveryMalformedEventFailsParsing) {
  const auto events = GenerateAll(Options(3, 20'000));
  int64_t malformed = 0;
  std::set<std::string> reasons;
  for (const GeneratedEvent& g : events) {
    auto parsed = ParseEvent(g.value);
    if (g.event) {
      ASSERT_TRUE(parsed.ok()) << g.value << ": " << parsed.status();
      EXPECT_EQ(*parsed, *g.event);
      EXPECT_EQ(g.key, g.event->user_id);
      EXPECT_EQ(g.timestamp_ms, g.event->ts_ms);
    } else {
      ++malformed;
      ASSERT_FALSE(parsed.ok()) << g.value;
      reasons.insert(std::string(parsed.status().message()).substr(0, 40));
      EXPECT_FALSE(g.key.empty());
    }
  }
  // 2% of 20000 = 400; the binomial's standard deviation is 20.
  EXPECT_GT(malformed, 320);
  EXPECT_LT(malformed, 480);
  EXPECT_GE(reasons.size(), 5u);  // broken JSON, missing and mistyped fields, unknown type

  GeneratorOptions none = Options(3, 2000);
  none.malformed_share = 0;
  for (const GeneratedEvent& g : GenerateAll(none)) EXPECT_TRUE(g.event.has_value());
}

TEST(GeneratorTest, EventsAreOutOfOrderOnlyWithinTheMaximumDelay) {
  GeneratorOptions o = Options(11, 20'000);
  o.max_delay_ms = 20'000;
  int64_t newest = 0;
  int64_t worst = 0;
  for (const GeneratedEvent& g : GenerateAll(o)) {
    EXPECT_GE(g.timestamp_ms, kStart);
    worst = std::max(worst, newest - g.timestamp_ms);
    newest = std::max(newest, g.timestamp_ms);
  }
  EXPECT_GT(worst, 0);  // really out of order
  EXPECT_LE(worst, o.max_delay_ms);
  // About count/users x 7 minutes of event time.
  EXPECT_GT(newest - kStart, 8 * 3'600'000);
  EXPECT_LT(newest - kStart, 16 * 3'600'000);
}

TEST(GeneratorTest, InvalidOptionsAreNamed) {
  GeneratorOptions o = Options(1, 10);
  o.users = 0;
  EXPECT_THAT(std::string(ValidateGeneratorOptions(o).message()), ::testing::HasSubstr("users"));
  o = Options(1, 10);
  o.malformed_share = 1.5;
  EXPECT_THAT(std::string(ValidateGeneratorOptions(o).message()), ::testing::HasSubstr("malformed-share"));
  EXPECT_TRUE(ValidateGeneratorOptions(Options(1, 10)).ok());
}

}  // namespace
}  // namespace runnel_apps::clickstream
