#include "plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::reset {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(InternalTopicsTest, ChangelogsRepartitionsAndTheTopologyOfThisApplicationOnly) {
  EXPECT_TRUE(IsInternalTopic("app", "app-counts-changelog"));
  EXPECT_TRUE(IsInternalTopic("app", "app-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog"));
  EXPECT_TRUE(IsInternalTopic("app", "app-by-user-repartition"));
  EXPECT_TRUE(IsInternalTopic("app", "app-topology"));
  EXPECT_FALSE(IsInternalTopic("app", "other-counts-changelog"));
  EXPECT_FALSE(IsInternalTopic("app", "app-input"));
  EXPECT_FALSE(IsInternalTopic("app", "app-changelog"));  // no store name between
  EXPECT_FALSE(IsInternalTopic("app", "appx-counts-changelog"));
  EXPECT_FALSE(IsInternalTopic("app", "counts-changelog"));
  EXPECT_FALSE(IsInternalTopic("app", "app-topology-v2"));
  EXPECT_THAT(SelectInternalTopics("app", {"in", "app-z-repartition", "app-topology", "app-a-changelog", "out",
                                           "other-a-changelog"}),
              ElementsAre("app-a-changelog", "app-topology", "app-z-repartition"));
}

TEST(InternalTopicsTest, DefaultInputsAreTheCommittedTopicsThatAreNotInternal) {
  const std::map<TopicPartition, Offset> committed = {{{"in", Partition(0)}, Offset(3)},
                                                      {{"in", Partition(1)}, Offset(4)},
                                                      {{"lookup", Partition(0)}, Offset(1)},
                                                      {{"app-by-user-repartition", Partition(0)}, Offset(9)}};
  EXPECT_THAT(DefaultInputTopics("app", committed), ElementsAre("in", "lookup"));
}

std::map<TopicPartition, PartitionFacts> Facts() {
  return {{{"in", Partition(0)}, {.committed = Offset(50), .low = Offset(10), .high = Offset(100), .at_time = Offset(40)}},
          {{"in", Partition(1)}, {.committed = std::nullopt, .low = Offset(0), .high = Offset(5), .at_time = std::nullopt}}};
}

std::vector<int64_t> Targets(const std::vector<PartitionReset>& resets) {
  std::vector<int64_t> out;
  for (const auto& r : resets) out.push_back(r.target.value());
  return out;
}

TEST(PlanOffsetsTest, EachTargetPicksItsOffsetWithinTheLog) {
  EXPECT_THAT(Targets(PlanOffsets({.kind = OffsetTarget::Kind::kEarliest}, Facts())), ElementsAre(10, 0));
  EXPECT_THAT(Targets(PlanOffsets({.kind = OffsetTarget::Kind::kLatest}, Facts())), ElementsAre(100, 5));
  auto by_time = PlanOffsets({.kind = OffsetTarget::Kind::kTime}, Facts());
  EXPECT_THAT(Targets(by_time), ElementsAre(40, 5));  // no record that late: the end
  EXPECT_EQ(by_time[1].note, "no record that late: the end");
  EXPECT_THAT(Targets(PlanOffsets({.kind = OffsetTarget::Kind::kDuration}, Facts())), ElementsAre(40, 5));
  auto at = PlanOffsets({.kind = OffsetTarget::Kind::kOffset, .offset = 3}, Facts());
  EXPECT_THAT(Targets(at), ElementsAre(10, 3));
  EXPECT_EQ(at[0].note, "3 is before the log start");
  auto past = PlanOffsets({.kind = OffsetTarget::Kind::kOffset, .offset = 70}, Facts());
  EXPECT_THAT(Targets(past), ElementsAre(70, 5));
  EXPECT_EQ(past[1].note, "70 is past the end");
  EXPECT_EQ(at[0].committed, Offset(50));
  EXPECT_EQ(at[1].committed, std::nullopt);
}

Plan APlan() {
  Plan plan{.application_id = "app"};
  plan.group.state = "Empty";
  plan.inputs = PlanOffsets({}, Facts());
  plan.internal_topics = {"app-counts-changelog", "app-topology"};
  plan.internal_offsets = {{"app-x-repartition", Partition(0)}};
  plan.local_state = LocalState{.dir = "/s/app", .exists = true, .looks_like_state = true, .entries = {"0_0", "0_1"}};
  return plan;
}

TEST(FormatPlanTest, ADryRunShowsOffsetsTopicsAndStateAndSaysNothingChanged) {
  const std::string text = FormatPlan(APlan(), /*execute=*/false, /*force_wipe_state=*/false);
  EXPECT_THAT(text, HasSubstr("application 'app' (consumer group 'app'): Empty, 0 live member(s)"));
  EXPECT_THAT(text, HasSubstr("  in-0  committed 50 -> 10\n"));
  EXPECT_THAT(text, HasSubstr("  in-1  committed none -> 0\n"));
  EXPECT_THAT(text, HasSubstr("internal topics to delete (2):\n  app-counts-changelog\n  app-topology\n"));
  EXPECT_THAT(text, HasSubstr("offsets on internal topics to remove: 1 partition(s)"));
  EXPECT_THAT(text, HasSubstr("local state to wipe: /s/app (2 entries: 0_0, 0_1; .lock and process.id stay)"));
  EXPECT_THAT(text, HasSubstr("on every other machine that ran an instance"));
  EXPECT_THAT(text, HasSubstr("dry run: nothing was changed"));
  EXPECT_THAT(FormatPlan(APlan(), true, false), Not(HasSubstr("dry run")));
}

TEST(FormatPlanTest, WithoutInputsItSaysHowToNameThem) {
  Plan plan = APlan();
  plan.inputs.clear();
  EXPECT_THAT(FormatPlan(plan, false, false), HasSubstr("name them with --input-topics"));
}

TEST(RefusalTest, LiveMembersALockedOrForeignStateDirectoryRefuse) {
  Plan plan = APlan();
  EXPECT_EQ(RefusalReason(plan, false), std::nullopt);
  plan.group.members.push_back({.member_id = "m1", .client_id = "app-1234-StreamThread-1-consumer", .host = "/10.0.0.7"});
  auto why = RefusalReason(plan, false);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("has 1 live member(s) (app-1234-StreamThread-1-consumer on /10.0.0.7)"));
  EXPECT_THAT(FormatPlan(plan, false, false), HasSubstr("--execute would refuse now: the consumer group 'app'"));
  EXPECT_THAT(FormatPlan(plan, true, false), HasSubstr("refused: the consumer group 'app'"));

  plan = APlan();
  plan.local_state->in_use = true;
  EXPECT_THAT(RefusalReason(plan, true).value_or(""), HasSubstr("/s/app is locked by a running instance"));

  plan = APlan();
  plan.local_state->looks_like_state = false;
  EXPECT_THAT(RefusalReason(plan, false).value_or(""), HasSubstr("add --force-wipe-state"));
  EXPECT_EQ(RefusalReason(plan, true), std::nullopt);
}

}  // namespace
}  // namespace runnel::reset
