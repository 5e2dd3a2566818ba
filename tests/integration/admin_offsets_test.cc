// The admin calls runnel-reset relies on, against the real broker: offsets
// by time, earliest and latest (ListOffsets), and removing a group's
// committed offsets (DeleteGroupOffsets).

#include "fixtures/broker.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"

namespace runnel::kafka {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::UniqueName;

std::unique_ptr<Admin> MakeAdmin() {
  auto admin = Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  EXPECT_TRUE(admin.ok()) << admin.status();
  return *std::move(admin);
}

TEST(AdminOffsetsTest, ListOffsetsFindsTheFirstRecordAtOrAfterATimeAndBothEnds) {
  const std::string topic = UniqueName("list-offsets");
  ASSERT_TRUE(testing_fixtures::CreateTopic(topic, 1).ok());
  auto producer = Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  // Offsets 0..4 stamped 1000, 2000, ..., 5000 (recent enough for retention:
  // the broker's default retention.ms is judged by record timestamps, so
  // stamp them near now).
  const int64_t base = Clock::System().NowMillis().value() - 60'000;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*producer)->Send({.topic = topic, .key = "k", .value = "v", .timestamp = Timestamp(base + 1000 * (i + 1))}).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  auto admin = MakeAdmin();
  const TopicPartition tp{topic, Partition(0)};
  auto at = [&](int64_t spec) -> std::optional<Offset> {
    auto offsets = admin->ListOffsets({{tp, spec}}, absl::Seconds(30));
    EXPECT_TRUE(offsets.ok()) << offsets.status();
    return offsets.ok() ? offsets->at(tp) : std::optional<Offset>(Offset(-99));
  };
  EXPECT_EQ(at(Admin::kEarliestOffset), Offset(0));
  EXPECT_EQ(at(Admin::kLatestOffset), Offset(5));
  EXPECT_EQ(at(base), Offset(0));
  EXPECT_EQ(at(base + 3000), Offset(2));  // exactly a record's time
  EXPECT_EQ(at(base + 3500), Offset(3));  // between two records
  EXPECT_EQ(at(base + 9000), std::nullopt);  // later than every record
}

TEST(AdminOffsetsTest, ListOffsetsOfAMissingTopicNamesIt) {
  auto admin = MakeAdmin();
  const std::string topic = UniqueName("no-such-topic");
  auto offsets = admin->ListOffsets({{{topic, Partition(0)}, Admin::kEarliestOffset}}, absl::Seconds(10));
  ASSERT_FALSE(offsets.ok());
  EXPECT_NE(offsets.status().message().find(topic), std::string::npos) << offsets.status();
}

TEST(AdminOffsetsTest, DeleteGroupOffsetsRemovesOnlyTheNamedPartitions) {
  const std::string a = UniqueName("group-offsets-a"), b = UniqueName("group-offsets-b");
  const std::string group = UniqueName("group");
  ASSERT_TRUE(testing_fixtures::CreateTopic(a, 1).ok());
  ASSERT_TRUE(testing_fixtures::CreateTopic(b, 1).ok());
  const TopicPartition pa{a, Partition(0)}, pb{b, Partition(0)};
  auto admin = MakeAdmin();
  // Topics created a moment ago may not be known to the group coordinator
  // yet (UNKNOWN_TOPIC_OR_PARTITION on a busy broker): asked again.
  absl::Status altered = admin->AlterGroupOffsets(group, {{pa, Offset(0)}, {pb, Offset(0)}}, absl::Seconds(30));
  for (int i = 0; !altered.ok() && i < 60; ++i) {
    absl::SleepFor(absl::Milliseconds(500));
    altered = admin->AlterGroupOffsets(group, {{pa, Offset(0)}, {pb, Offset(0)}}, absl::Seconds(30));
  }
  ASSERT_TRUE(altered.ok()) << altered;
  absl::Status deleted = admin->DeleteGroupOffsets(group, {pb}, absl::Seconds(30));
  ASSERT_TRUE(deleted.ok()) << deleted;
  auto offsets = admin->ListGroupOffsets(group, absl::Seconds(30));
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->count(pa), 1u);
  EXPECT_EQ(offsets->count(pb), 0u);
  EXPECT_TRUE(admin->DeleteGroup(group, absl::Seconds(30)).ok());
}

}  // namespace
}  // namespace runnel::kafka
