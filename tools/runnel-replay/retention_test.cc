#include "retention.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::replay {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 1'800'000'000'000;

TEST(RetentionTest, RefusesWhenTheOldestRowIsPastTheTopicsRetention) {
  RetentionInput in{.topic = "t", .oldest_ms = kNow - 365 * kDay, .now_ms = kNow,
                    .existing_configs = std::map<std::string, std::string>{{"retention.ms", "604800000"},
                                                                           {"cleanup.policy", "delete"}}};
  RetentionDecision d = DecideRetention(in);
  EXPECT_FALSE(d.ok);
  EXPECT_THAT(d.message, HasSubstr("retention.ms is 604800000 (7.0 days)"));
  EXPECT_THAT(d.message, HasSubstr("--create-topic"));
  EXPECT_THAT(d.message, HasSubstr("retention.ms=-1"));
}

TEST(RetentionTest, RefusesWithinTheMarginToo) {
  RetentionInput in{.topic = "t", .oldest_ms = kNow - 7 * kDay + 30 * 60'000, .now_ms = kNow,
                    .existing_configs = std::map<std::string, std::string>{{"retention.ms", "604800000"}}};
  EXPECT_FALSE(DecideRetention(in).ok);
  in.oldest_ms = kNow - 6 * kDay;
  EXPECT_TRUE(DecideRetention(in).ok);
}

TEST(RetentionTest, AcceptsUnlimitedRetentionCompactedTopicsAndSendTimeStamps) {
  RetentionInput in{.topic = "t", .oldest_ms = kNow - 365 * kDay, .now_ms = kNow,
                    .existing_configs = std::map<std::string, std::string>{{"retention.ms", "-1"}}};
  EXPECT_TRUE(DecideRetention(in).ok);
  in.existing_configs = {{{"retention.ms", "604800000"}, {"cleanup.policy", "compact"}}};
  EXPECT_TRUE(DecideRetention(in).ok);
  in.existing_configs = {{{"retention.ms", "604800000"}}};
  in.oldest_ms.reset();
  EXPECT_TRUE(DecideRetention(in).ok);
}

TEST(RetentionTest, ANewTopicForOldDataGetsUnlimitedRetention) {
  RetentionDecision d = DecideRetention({.topic = "t", .oldest_ms = kNow - 30 * kDay, .now_ms = kNow});
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.create_retention_ms, "-1");
  EXPECT_THAT(d.message, HasSubstr("retention.ms=-1"));
  d = DecideRetention({.topic = "t", .oldest_ms = kNow - 60'000, .now_ms = kNow});
  EXPECT_FALSE(d.create_retention_ms.has_value());
}

TEST(RetentionTest, WarnsWhenRetentionBytesIsSmallerThanTheReplay) {
  RetentionInput in{.topic = "t", .now_ms = kNow,
                    .existing_configs = std::map<std::string, std::string>{{"retention.ms", "-1"},
                                                                           {"retention.bytes", "1000"}},
                    .bytes = 5000};
  RetentionDecision d = DecideRetention(in);
  EXPECT_TRUE(d.ok);
  EXPECT_THAT(d.message, HasSubstr("retention.bytes=1000"));
}

}  // namespace
}  // namespace runnel::replay
