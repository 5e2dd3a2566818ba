#include "plot.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::replay {
namespace {

TEST(PlotTest, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_THAT(NiceTicks(11.5, 31.5, 8), ::testing::ElementsAre(12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
  EXPECT_THAT(NiceTicks(18.3, 27.9, 4), ::testing::ElementsAre(20, 22, 24, 26));
  EXPECT_THAT(NiceTicks(0, 1, 5), ::testing::ElementsAre(0, 0.2, 0.4, 0.6000000000000001, 0.8, 1));
}

TEST(PlotTest, TimeTicksUseClockTimesForHoursAndDatesForMonths) {
  std::string format;
  constexpr int64_t kHour = 3'600'000;
  auto ticks = TimeTicks(1772366400000 + 10 * 60'000, 1772366400000 + 4 * kHour, 10, &format);
  EXPECT_EQ(format, "%H:%M");
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(ticks[1] - ticks[0], 30 * 60'000);
  EXPECT_EQ(ticks[0] % (30 * 60'000), 0);
  TimeTicks(0, 90LL * 24 * kHour, 10, &format);
  EXPECT_EQ(format, "%Y-%m-%d");
}

TEST(PlotTest, WritesAPngAndRefusesAnEmptyPlot) {
  const std::string path = ::testing::TempDir() + "/plot_test_" + std::to_string(getpid()) + ".png";
  PlotData data{.title = "t", .field = "temp_c", .unit = "°C"};
  EXPECT_FALSE(WritePlot(data, path).ok());
  data.series["a"] = {{0, 1.0}, {60'000, 2.0}};
  data.series["b"] = {{30'000, 1.5}};
  ASSERT_TRUE(WritePlot(data, path).ok());
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  std::remove(path.c_str());
  EXPECT_FALSE(WritePlot(data, "/nonexistent-dir/x.png").ok());
}

}  // namespace
}  // namespace runnel::replay
