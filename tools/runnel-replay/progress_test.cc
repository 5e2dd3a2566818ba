#include "progress.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::replay {
namespace {

using ::testing::HasSubstr;

// What was written to `file` so far.
std::string Contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) out.append(buffer, n);
  return out;
}

TEST(ProgressTest, LineShowsRowsRateAndEta) {
  ManualClock clock;
  Progress bar(clock, stderr, /*terminal=*/true, 1000);
  EXPECT_EQ(bar.Line(250, absl::Seconds(5)), "[#######.......................] 250/1000 rows (25%)  50 rows/s  ETA 15s");
  Progress plain(clock, stderr, /*terminal=*/false, 1000);
  EXPECT_EQ(plain.Line(0, absl::ZeroDuration()), "0/1000 rows (0%)  0 rows/s  ETA ?");
  EXPECT_EQ(ShortDuration(absl::Seconds(3725)), "1h02m");
}

TEST(ProgressTest, PlainOutputIsALineEveryFiveSeconds) {
  ManualClock clock;
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  Progress progress(clock, file, /*terminal=*/false, 100);
  for (int i = 1; i <= 100; ++i) {
    clock.Advance(absl::Milliseconds(200));  // 20 s in all
    progress.Update(i);
  }
  progress.Finish();
  const std::string out = Contents(file);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  EXPECT_THAT(out, HasSubstr("progress: 25/100 rows (25%)  5 rows/s  ETA 15s\n"));
  EXPECT_EQ(out.find('\r'), std::string::npos);
  std::fclose(file);
}

TEST(ProgressTest, TerminalRedrawsOneLineAtMostTenTimesASecond) {
  ManualClock clock;
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  Progress progress(clock, file, /*terminal=*/true, 50);
  for (int i = 1; i <= 50; ++i) {
    clock.Advance(absl::Milliseconds(20));  // 1 s in all
    progress.Update(i);
  }
  progress.Finish();
  const std::string out = Contents(file);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\r'), 11) << out;  // 10 redraws + the final one
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_THAT(out, HasSubstr("[##############################] 50/50 rows (100%)  50 rows/s  ETA 0s"));
  std::fclose(file);
}

}  // namespace
}  // namespace runnel::replay
