#include "local_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::reset {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LocalStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("runnel-reset-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    app_ = root_ / "app";
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
  }
  // A state directory as a stopped instance leaves it.
  void MakeStateDir() {
    Touch(app_ / ".lock");
    Touch(app_ / "process.id");
    Touch(app_ / "0_0" / "counts" / "CURRENT");
    Touch(app_ / "0_0" / ".checkpoint");
    Touch(app_ / "global" / "g" / "CURRENT");
  }
  fs::path root_, app_;
};

TEST_F(LocalStateTest, AMissingDirectoryIsNothingToWipe) {
  auto s = InspectLocalState(root_.string(), "app");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->exists);
  EXPECT_EQ(*WipeLocalState(*s, false), 0);
}

TEST_F(LocalStateTest, WipesTheStoresAndKeepsTheLockAndTheProcessId) {
  MakeStateDir();
  auto s = InspectLocalState(root_.string(), "app");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->exists);
  EXPECT_TRUE(s->looks_like_state);
  EXPECT_FALSE(s->in_use);
  EXPECT_THAT(s->entries, ElementsAre("0_0", "global"));
  auto removed = WipeLocalState(*s, false);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  EXPECT_FALSE(fs::exists(app_ / "0_0"));
  EXPECT_FALSE(fs::exists(app_ / "global"));
  EXPECT_TRUE(fs::exists(app_ / ".lock"));
  EXPECT_TRUE(fs::exists(app_ / "process.id"));
}

TEST_F(LocalStateTest, ALockedDirectoryIsInUseAndNotWiped) {
  MakeStateDir();
  // What a running instance holds (runtime/state_directory.cc).
  const int fd = ::open((app_ / ".lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto s = InspectLocalState(root_.string(), "app");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->in_use);
  auto removed = WipeLocalState(*s, true);
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr("locked by a running instance"));
  EXPECT_TRUE(fs::exists(app_ / "0_0" / "counts" / "CURRENT"));
  ::close(fd);
}

TEST_F(LocalStateTest, ADirectoryThatIsNotRunnelsNeedsForce) {
  Touch(app_ / "thesis.tex");
  auto s = InspectLocalState(root_.string(), "app");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->looks_like_state);
  auto refused = WipeLocalState(*s, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--force-wipe-state"));
  EXPECT_TRUE(fs::exists(app_ / "thesis.tex"));
  EXPECT_EQ(*WipeLocalState(*s, true), 1);
  EXPECT_FALSE(fs::exists(app_ / "thesis.tex"));
}

}  // namespace
}  // namespace runnel::reset
