// The topics an application creates at start (repartition, changelog,
// dead-letter) on the real broker: a topic another instance creates at the
// same moment with another partition count is refused, never accepted.

#include <thread>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/internal/topics.h"

namespace runnel {
namespace {

using runtime::internal::EnsureTopic;
using testing_fixtures::BootstrapServers;
using testing_fixtures::UniqueName;

std::unique_ptr<kafka::Admin> NewAdmin() {
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  EXPECT_TRUE(admin.ok()) << admin.status();
  return *std::move(admin);
}

TEST(EnsureTopicTest, TwoCreatorsRacingWithOtherPartitionCountsNeverBothSucceed) {
  auto a = NewAdmin(), b = NewAdmin();
  for (int round = 0; round < 8; ++round) {
    const std::string topic = UniqueName("race");
    absl::Status with_two, with_three;
    std::thread first([&] { with_two = EnsureTopic(*a, {.name = topic, .partitions = 2}, "changelog topic"); });
    std::thread second([&] { with_three = EnsureTopic(*b, {.name = topic, .partitions = 3}, "changelog topic"); });
    first.join();
    second.join();
    auto described = a->DescribeTopic(topic, absl::Seconds(30));
    ASSERT_TRUE(described.ok()) << described.status();
    // Whoever's topic exists succeeded; the other learns of the mismatch.
    const absl::Status& winner = described->partitions == 2 ? with_two : with_three;
    const absl::Status& loser = described->partitions == 2 ? with_three : with_two;
    EXPECT_TRUE(winner.ok()) << winner;
    EXPECT_TRUE(absl::IsFailedPrecondition(loser)) << "round " << round << ": " << loser;
    EXPECT_THAT(loser.message(), ::testing::HasSubstr(topic));
  }
}

TEST(EnsureTopicTest, AnExistingTopicIsCheckedAndAnyCountIsFineWhereAskedFor) {
  auto admin = NewAdmin();
  const std::string topic = UniqueName("existing");
  ASSERT_TRUE(admin->CreateTopics({{.name = topic, .partitions = 4}}, absl::Seconds(30)).ok());
  absl::Status wrong = EnsureTopic(*admin, {.name = topic, .partitions = 2}, "repartition topic");
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong)) << wrong;
  EXPECT_THAT(wrong.message(), ::testing::HasSubstr("has 4 partitions, expected 2"));
  EXPECT_TRUE(EnsureTopic(*admin, {.name = topic, .partitions = 4}, "repartition topic").ok());
  EXPECT_TRUE(EnsureTopic(*admin, {.name = topic, .partitions = 1}, "dead-letter topic",
                          runtime::internal::PartitionCount::kAny)
                  .ok());
}

}  // namespace
}  // namespace runnel
