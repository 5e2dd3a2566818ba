// MakePlan and ExecutePlan against the real broker, for what the keyed-count
// CLI test (reset_test.sh) has no case of: repartition topics (deleted, and
// the group's offsets on them removed), the recorded topology topic, and a
// partition committed nowhere.

#include <algorithm>
#include <thread>

#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan.h"
#include "reset.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/producer.h"

namespace runnel::reset {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::UniqueName;
using ::testing::ElementsAre;

TEST(ResetIntegrationTest, DeletesRepartitionAndTopologyTopicsWithTheirOffsetsAndRewindsTheInputs) {
  const std::string app = UniqueName("reset-app");
  const std::string input = UniqueName("reset-input"), output = UniqueName("reset-output");
  const std::string repartition = app + "-by-user-repartition", changelog = app + "-counts-changelog";
  const std::string topology = app + "-topology";
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  for (const auto& t : {input, output, repartition, changelog, topology}) {
    ASSERT_TRUE(testing_fixtures::CreateTopic(t, 2).ok()) << t;
  }
  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = 0; i < 10; ++i) {
    for (const auto& t : {input, repartition}) {
      ASSERT_TRUE((*producer)->Send({.topic = t, .partition = Partition(i % 2), .key = "k", .value = "v"}).ok());
    }
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  // What a stopped instance leaves: offsets on the input (partition 1 never
  // committed) and on the repartition topic.
  const TopicPartition in0{input, Partition(0)}, in1{input, Partition(1)}, rp0{repartition, Partition(0)};
  absl::Status committed = (*admin)->AlterGroupOffsets(app, {{in0, Offset(5)}, {rp0, Offset(5)}}, absl::Seconds(30));
  for (int i = 0; !committed.ok() && i < 60; ++i) {  // topics just created: the coordinator may not know them
    absl::SleepFor(absl::Milliseconds(500));
    committed = (*admin)->AlterGroupOffsets(app, {{in0, Offset(5)}, {rp0, Offset(5)}}, absl::Seconds(30));
  }
  ASSERT_TRUE(committed.ok()) << committed;

  auto options = ParseArgs({"--application-id", app, "--bootstrap", BootstrapServers()});
  ASSERT_TRUE(options.ok()) << options.status();
  auto plan = MakePlan(*options, **admin, Clock::System());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->internal_topics, ElementsAre(repartition, changelog, topology));  // sorted
  EXPECT_THAT(plan->internal_offsets, ElementsAre(rp0));
  ASSERT_EQ(plan->inputs.size(), 2u);  // both input partitions, the output not at all
  EXPECT_EQ(plan->inputs[0].partition, in0);
  EXPECT_EQ(plan->inputs[0].committed, Offset(5));
  EXPECT_EQ(plan->inputs[0].target, Offset(0));
  EXPECT_EQ(plan->inputs[1].partition, in1);
  EXPECT_EQ(plan->inputs[1].committed, std::nullopt);

  std::string log;
  absl::Status done = ExecutePlan(*plan, false, **admin, Clock::System(), log);
  ASSERT_TRUE(done.ok()) << done << "\n" << log;
  auto topics = (*admin)->ListTopics(absl::Seconds(30));
  ASSERT_TRUE(topics.ok());
  for (const auto& t : {changelog, repartition, topology}) {
    EXPECT_EQ(std::count(topics->begin(), topics->end(), t), 0) << t << " was not deleted";
  }
  EXPECT_EQ(std::count(topics->begin(), topics->end(), output), 1) << "an output topic was deleted";
  auto offsets = (*admin)->ListGroupOffsets(app, absl::Seconds(30));
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(*offsets, (std::map<TopicPartition, Offset>{{in0, Offset(0)}, {in1, Offset(0)}}));
  (void)(*admin)->DeleteGroup(app, absl::Seconds(30));
}

}  // namespace
}  // namespace runnel::reset
