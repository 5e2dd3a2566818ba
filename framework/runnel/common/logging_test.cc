#include "runnel/common/logging.h"

#include "gtest/gtest.h"

namespace runnel {
namespace {

TEST(LoggingTest, UnknownLevelIsRejected) {
  EXPECT_TRUE(SetLogLevel("warn").ok());
  EXPECT_EQ(Logger("x")->level(), spdlog::level::warn);
  EXPECT_EQ(SetLogLevel("loud").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(SetLogLevel("info").ok());
  EXPECT_EQ(Logger("x")->level(), spdlog::level::info);
}

TEST(LoggingTest, RateLimiterCountsSuppressed) {
  RateLimiter limiter(1000);
  int64_t suppressed = -1;
  EXPECT_TRUE(limiter.Allow(0, &suppressed));
  EXPECT_EQ(suppressed, 0);
  EXPECT_FALSE(limiter.Allow(10, &suppressed));
  EXPECT_FALSE(limiter.Allow(999, &suppressed));
  EXPECT_TRUE(limiter.Allow(1000, &suppressed));
  EXPECT_EQ(suppressed, 2);
}

}  // namespace
}  // namespace runnel
