#include "runnel/processor/punctuation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;

TEST(PunctuationScheduleTest, StreamTimeStartsWithTheFirstRecordAndNeverBursts) {
  PunctuationSchedule schedule;
  std::vector<int64_t> fired;
  schedule.Add(PunctuationType::kStreamTime, absl::Milliseconds(10),
               [&](Timestamp t) { fired.push_back(t.value()); return absl::OkStatus(); }, Timestamp(-1));
  for (int64_t t : {5, 9, 15, 16, 100, 105, 110}) ASSERT_TRUE(schedule.Fire(PunctuationType::kStreamTime, Timestamp(t)).ok());
  // 5 (first record), 15 (5+10), then a jump to 100 runs once, next due 110.
  EXPECT_THAT(fired, ElementsAre(5, 15, 100, 110));
  ASSERT_TRUE(schedule.Fire(PunctuationType::kWallClockTime, Timestamp(1'000'000)).ok());
  EXPECT_EQ(fired.size(), 4u);  // the other type does not trigger it
}

TEST(PunctuationScheduleTest, WallClockWaitsOneIntervalAndCancelStops) {
  PunctuationSchedule schedule;
  int runs = 0;
  Cancellable handle = schedule.Add(PunctuationType::kWallClockTime, absl::Seconds(1),
                                    [&](Timestamp) { ++runs; return absl::OkStatus(); }, Timestamp(1000));
  ASSERT_TRUE(schedule.Fire(PunctuationType::kWallClockTime, Timestamp(1999)).ok());
  EXPECT_EQ(runs, 0);
  ASSERT_TRUE(schedule.Fire(PunctuationType::kWallClockTime, Timestamp(2000)).ok());
  EXPECT_EQ(runs, 1);
  handle.Cancel();
  ASSERT_TRUE(schedule.Fire(PunctuationType::kWallClockTime, Timestamp(9000)).ok());
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(schedule.empty());
}

TEST(PunctuationScheduleTest, AnErrorStopsAndIsReturned) {
  PunctuationSchedule schedule;
  schedule.Add(PunctuationType::kStreamTime, absl::Milliseconds(1),
               [](Timestamp) { return absl::InternalError("boom"); }, Timestamp(0));
  EXPECT_EQ(schedule.Fire(PunctuationType::kStreamTime, Timestamp(0)).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace runnel
