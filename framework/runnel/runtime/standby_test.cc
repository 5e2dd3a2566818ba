#include "runnel/runtime/standby.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::Not;
using ::testing::Contains;

TEST(StandbyPlacementTest, NeverOnTheOwnerAndSpreadEvenly) {
  std::map<TaskId, std::string> active;
  const std::set<std::string> processes{"a", "b", "c"};
  for (int p = 0; p < 12; ++p) active[TaskId{0, Partition(p)}] = std::string(1, static_cast<char>('a' + p % 3));
  auto placement = PlaceStandbys(active, processes, 1);
  ASSERT_EQ(placement.size(), 12u);
  std::map<std::string, int> load;
  for (const auto& [task, holders] : placement) {
    ASSERT_EQ(holders.size(), 1u);
    EXPECT_NE(holders[0], active.at(task)) << task.ToString();
    ++load[holders[0]];
  }
  EXPECT_THAT(load, ElementsAre(std::pair<const std::string, int>{"a", 4}, std::pair<const std::string, int>{"b", 4},
                                std::pair<const std::string, int>{"c", 4}));
}

TEST(StandbyPlacementTest, DeterministicAndBoundedByTheOtherInstances) {
  std::map<TaskId, std::string> active{{TaskId{0, Partition(0)}, "a"}, {TaskId{1, Partition(0)}, "b"}};
  auto once = PlaceStandbys(active, {"a", "b"}, 3);
  EXPECT_EQ(once, PlaceStandbys(active, {"b", "a"}, 3));
  EXPECT_THAT(once.at(TaskId{0, Partition(0)}), ElementsAre("b"));
  EXPECT_THAT(once.at(TaskId{1, Partition(0)}), ElementsAre("a"));
  EXPECT_TRUE(PlaceStandbys({{TaskId{0, Partition(0)}, "a"}}, {"a"}, 1).empty())
      << "a lone instance has nowhere to put standbys";
  EXPECT_TRUE(PlaceStandbys(active, {"a", "b"}, 0).empty());
}

TEST(StandbyPlacementTest, ProcessIdsComeBackOutOfClientIds) {
  const std::string id = ThreadClientId("my-app", "0123abcd", 1);
  EXPECT_EQ(id, "my-app-0123abcd-StreamThread-2");
  EXPECT_EQ(ProcessIdOfClientId(id + "-consumer"), "0123abcd");
  EXPECT_EQ(ProcessIdOfClientId("my-app-StreamThread-1-consumer"), "app");
  EXPECT_EQ(ProcessIdOfClientId("rdkafka"), std::nullopt);
  EXPECT_EQ(ProcessIdOfClientId("-StreamThread-1"), std::nullopt);
}

TEST(StandbyPlacementTest, QueryEndpointsComeBackOutOfClientIds) {
  const std::string id = ThreadClientId("my-app", "0123abcd", 0, "host-1.example:7001");
  EXPECT_EQ(id, "my-app@host-1.example:7001-0123abcd-StreamThread-1");
  EXPECT_EQ(ProcessIdOfClientId(id + "-consumer"), "0123abcd");
  EXPECT_EQ(EndpointOfClientId(id + "-consumer"), "host-1.example:7001");
  EXPECT_EQ(EndpointOfClientId(ThreadClientId("my-app", "0123abcd", 0)), "");
  // An '@' in the application id alone is not an endpoint.
  EXPECT_EQ(EndpointOfClientId(ThreadClientId("team@app", "0123abcd", 0)), "");
}

}  // namespace
}  // namespace runnel
