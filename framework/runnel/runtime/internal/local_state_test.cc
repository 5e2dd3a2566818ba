#include "runnel/runtime/internal/local_state.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::runtime::internal {
namespace {

using ::testing::HasSubstr;

TEST(PositionOutsideLogTest, OnlyPositionsWithinLowAndEndAreTrusted) {
  EXPECT_EQ(PositionOutsideLog(Offset(5), Offset(0), Offset(10)), std::nullopt);
  EXPECT_EQ(PositionOutsideLog(Offset(0), Offset(0), Offset(0)), std::nullopt);
  EXPECT_EQ(PositionOutsideLog(Offset(10), Offset(10), Offset(10)), std::nullopt);
  auto ahead = PositionOutsideLog(Offset(11), Offset(0), Offset(10));
  ASSERT_TRUE(ahead.has_value());
  EXPECT_THAT(*ahead, HasSubstr("past the end 10"));
  auto behind = PositionOutsideLog(Offset(3), Offset(4), Offset(10));
  ASSERT_TRUE(behind.has_value());
  EXPECT_THAT(*behind, HasSubstr("before the start 4"));
}

TEST(ReadCheckpointOrWipeTest, WithoutATrustworthyCheckpointTheDirectoryGoes) {
  const std::string dir = std::filesystem::temp_directory_path() / "runnel-local-state-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/store");
  std::ofstream(dir + "/store/data") << "stale";
  CheckpointFile checkpoint(dir + "/.checkpoint");
  auto missing = ReadCheckpointOrWipe(checkpoint, dir, "test");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE(missing->empty());
  EXPECT_FALSE(std::filesystem::exists(dir));

  std::filesystem::create_directories(dir);
  const std::map<TopicPartition, Offset> offsets{{{"app-s-changelog", Partition(1)}, Offset(7)}};
  ASSERT_TRUE(checkpoint.Write(offsets).ok());
  auto read = ReadCheckpointOrWipe(checkpoint, dir, "test");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, offsets);
  EXPECT_TRUE(std::filesystem::exists(dir));

  std::ofstream(dir + "/.checkpoint", std::ios::trunc) << "garbage";
  auto damaged = ReadCheckpointOrWipe(checkpoint, dir, "test");
  ASSERT_TRUE(damaged.ok());
  EXPECT_TRUE(damaged->empty());
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace runnel::runtime::internal
