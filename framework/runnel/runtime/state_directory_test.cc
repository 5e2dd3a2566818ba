#include "runnel/runtime/state_directory.h"

#include <stdlib.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace runnel {
namespace {

std::string FreshDir() {
  std::string tmpl = std::filesystem::temp_directory_path() / "runnel-statedir-XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

TEST(StateDirectoryTest, ASecondInstanceOnTheSameDirectoryIsRefused) {
  std::string dir = FreshDir();
  auto first = StateDirectory::Open(dir, "app");
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = StateDirectory::Open(dir, "app");
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find(dir + "/app"), std::string_view::npos) << second.status();
  // Another application in the same state.dir is fine.
  EXPECT_TRUE(StateDirectory::Open(dir, "other").ok());
  first->reset();
  EXPECT_TRUE(StateDirectory::Open(dir, "app").ok()) << "the lock goes with the instance";
  std::filesystem::remove_all(dir);
}

TEST(StateDirectoryTest, TheProcessIdSurvivesRestartsAndDiffersBetweenDirectories) {
  std::string dir = FreshDir();
  std::string id;
  {
    auto d = StateDirectory::Open(dir, "app");
    ASSERT_TRUE(d.ok());
    id = (*d)->process_id();
    EXPECT_GE(id.size(), 16u);
  }
  auto again = StateDirectory::Open(dir, "app");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->process_id(), id);
  std::string other_dir = FreshDir();
  auto other = StateDirectory::Open(other_dir, "app");
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->process_id(), id);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other_dir);
}

TEST(StateDirectoryTest, ATaskIsHeldByOneThreadAtATime) {
  std::string dir = FreshDir();
  auto d = StateDirectory::Open(dir, "app");
  ASSERT_TRUE(d.ok());
  const TaskId task{0, Partition(3)};
  EXPECT_TRUE((*d)->TryLockTask(task));
  EXPECT_FALSE((*d)->TryLockTask(task));
  EXPECT_TRUE((*d)->TryLockTask(TaskId{1, Partition(3)}));
  (*d)->UnlockTask(task);
  EXPECT_TRUE((*d)->TryLockTask(task));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace runnel
