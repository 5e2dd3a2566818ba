#include "runnel/common/clock.h"

#include "gtest/gtest.h"

namespace runnel {
namespace {

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(absl::FromUnixMillis(1000));
  EXPECT_EQ(clock.NowMillis(), Timestamp(1000));
  clock.Advance(absl::Milliseconds(250));
  EXPECT_EQ(clock.NowMillis(), Timestamp(1250));
  clock.Set(absl::FromUnixMillis(5));
  EXPECT_EQ(clock.NowMillis(), Timestamp(5));
}

TEST(ClockTest, SystemClockIsNearNow) {
  int64_t ms = Clock::System().NowMillis().value();
  EXPECT_GT(ms, 1'600'000'000'000);  // after 2020
}

}  // namespace
}  // namespace runnel
