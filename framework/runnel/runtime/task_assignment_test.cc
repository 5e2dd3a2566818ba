#include "runnel/runtime/task_assignment.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

std::vector<std::string> Members(int n, int from = 0) {
  std::vector<std::string> out;
  for (int i = from; i < from + n; ++i) out.push_back(absl::StrCat("app-", 1000 + i, "-StreamThread-1-consumer"));
  return out;
}

int Moved(const std::map<TaskId, std::string>& a, const std::map<TaskId, std::string>& b) {
  int moved = 0;
  for (const auto& [task, member] : a) moved += b.at(task) != member;
  return moved;
}

TEST(TaskAssignmentTest, EveryTaskOnceAndBalanced) {
  auto assignment = AssignTasks(Members(3), {12, 6});
  ASSERT_EQ(assignment.size(), 18u);
  std::map<std::string, int> load;
  for (const auto& [task, member] : assignment) ++load[member];
  for (const auto& [member, n] : load) EXPECT_EQ(n, 6) << member;
  EXPECT_TRUE(AssignTasks({}, {4}).empty());
}

TEST(TaskAssignmentTest, SameAnswerWhateverTheOrderOfMembers) {
  auto members = Members(4);
  auto reversed = std::vector<std::string>(members.rbegin(), members.rend());
  EXPECT_EQ(AssignTasks(members, {16}), AssignTasks(reversed, {16}));
}

// librdkafka's range assignor for one topic: sorted members, contiguous
// ranges, the first (n % k) members one partition more.
std::map<TaskId, std::string> Range(std::vector<std::string> members, int32_t n) {
  std::sort(members.begin(), members.end());
  std::map<TaskId, std::string> out;
  const int32_t k = static_cast<int32_t>(members.size());
  int32_t p = 0;
  for (int32_t i = 0; i < k; ++i) {
    for (int32_t j = 0; j < n / k + (i < n % k ? 1 : 0); ++j) out[TaskId{0, Partition(p++)}] = members[i];
  }
  return out;
}

// Scaling 3 -> 4 -> 3 with 24 tasks: a balanced assignment must move at
// least 6 tasks to the newcomer; range moves 12. Removing it again restores
// the original placement.
TEST(TaskAssignmentTest, AJoiningOrLeavingMemberMovesFewTasks) {
  EXPECT_EQ(Moved(Range(Members(3), 24), Range(Members(4), 24)), 12);
  auto three = AssignTasks(Members(3), {24});
  auto four = AssignTasks(Members(4), {24});
  const int moved_in = Moved(three, four);
  EXPECT_GE(moved_in, 6);
  EXPECT_LE(moved_in, 9) << "bounded rendezvous should move little more than the newcomer's share";
  EXPECT_EQ(AssignTasks(Members(3), {24}), three);
  const int moved_out = Moved(four, three);
  EXPECT_LE(moved_out, 9);
  // A different member leaving: only about its share moves.
  auto without_first = AssignTasks(Members(3, 1), {24});
  EXPECT_LE(Moved(four, without_first), 9);
}

}  // namespace
}  // namespace runnel
