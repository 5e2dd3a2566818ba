#include "pacing.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::replay {
namespace {

// Sleeping advances the manual clock and records the wait.
class ManualSleeper final : public Sleeper {
 public:
  explicit ManualSleeper(ManualClock& clock) : clock_(clock) {}
  void SleepFor(absl::Duration d) override {
    sleeps.push_back(d);
    clock_.Advance(d);
  }
  std::vector<absl::Duration> sleeps;

 private:
  ManualClock& clock_;
};

TEST(PacerTest, AsapNeverSleeps) {
  ManualClock clock;
  ManualSleeper sleeper(clock);
  Pacer pacer(clock, sleeper, *ParseSpeed("asap"));
  for (int64_t t : {0, 60'000, 120'000}) pacer.WaitFor(t);
  EXPECT_TRUE(sleeper.sleeps.empty());
}

TEST(PacerTest, OriginalPaceSleepsTheGapsBetweenRows) {
  ManualClock clock;
  ManualSleeper sleeper(clock);
  Pacer pacer(clock, sleeper, *ParseSpeed("original"));
  pacer.WaitFor(1'000'000);
  pacer.WaitFor(1'002'000);
  pacer.WaitFor(1'002'000);  // same time: no wait
  pacer.WaitFor(1'007'500);
  EXPECT_THAT(sleeper.sleeps, ::testing::ElementsAre(absl::Seconds(2), absl::Milliseconds(5500)));
}

TEST(PacerTest, SpeedFactorDividesTheGapsAndSendingTimeIsNotAddedOn) {
  ManualClock clock;
  ManualSleeper sleeper(clock);
  Pacer pacer(clock, sleeper, *ParseSpeed("10"));
  pacer.WaitFor(0);
  clock.Advance(absl::Milliseconds(300));  // sending took a while
  pacer.WaitFor(10'000);                   // due 1 s after the first
  clock.Advance(absl::Seconds(5));         // late: the next row is overdue
  pacer.WaitFor(20'000);
  pacer.WaitFor(70'000);                   // due at 7 s
  EXPECT_THAT(sleeper.sleeps, ::testing::ElementsAre(absl::Milliseconds(700), absl::Seconds(1)));
}

TEST(PacerTest, RowsOutOfOrderAreDueAtOnce) {
  ManualClock clock;
  ManualSleeper sleeper(clock);
  Pacer pacer(clock, sleeper, 1.0);
  pacer.WaitFor(10'000);
  pacer.WaitFor(5'000);
  EXPECT_TRUE(sleeper.sleeps.empty());
}

TEST(ParseSpeedTest, RejectsNonPositiveAndText) {
  EXPECT_FALSE(ParseSpeed("0").ok());
  EXPECT_FALSE(ParseSpeed("-2").ok());
  EXPECT_FALSE(ParseSpeed("fast").ok());
  EXPECT_EQ(*ParseSpeed("2.5"), 2.5);
}

}  // namespace
}  // namespace runnel::replay
