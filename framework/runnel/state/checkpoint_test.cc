#include "runnel/state/checkpoint.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace runnel {
namespace {

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path() / "runnel-ckpt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
};

const std::map<TopicPartition, Offset> kOffsets = {
    {{"app-counts-changelog", Partition(3)}, Offset(1042)},
    {{"app-totals-changelog", Partition(3)}, Offset(0)},
    {{"app-counts-changelog", Partition(0)}, Offset(9'000'000'000)},
};

TEST_F(CheckpointFileTest, RoundTripsAndReplacesAtomically) {
  CheckpointFile file(dir_ + "/.checkpoint");
  ASSERT_TRUE(file.Write(kOffsets).ok());
  auto read = file.Read();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, kOffsets);
  ASSERT_TRUE(file.Write({}).ok());
  EXPECT_TRUE(file.Read()->empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/.checkpoint.tmp"));
}

TEST_F(CheckpointFileTest, MissingFileIsNotFound) {
  CheckpointFile file(dir_ + "/.checkpoint");
  EXPECT_EQ(file.Read().status().code(), absl::StatusCode::kNotFound);
}

// Any damage to any byte is detected: the restore must start from scratch
// rather than trust a wrong offset.
TEST_F(CheckpointFileTest, EveryFlippedByteOrTruncationIsDataLoss) {
  CheckpointFile file(dir_ + "/.checkpoint");
  ASSERT_TRUE(file.Write(kOffsets).ok());
  const std::string good = Slurp(file.path());
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    std::ofstream(file.path(), std::ios::binary | std::ios::trunc) << bad;
    auto read = file.Read();
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << "flipped byte " << i;
  }
  for (size_t len : {size_t{0}, size_t{5}, good.size() / 2, good.size() - 1}) {
    std::ofstream(file.path(), std::ios::binary | std::ios::trunc) << good.substr(0, len);
    EXPECT_EQ(file.Read().status().code(), absl::StatusCode::kDataLoss) << "truncated to " << len;
  }
}

}  // namespace
}  // namespace runnel
