// A partition's leader moves (its broker killed, then back as a follower)
// under a consumer that only asks for watermarks, as a restore consumer
// does: the next watermark query must reach the new leader. librdkafka
// 2.0.2 alone keeps asking the old one, which answers "not leader", until
// its periodic metadata refresh minutes later; a restore waiting on it ran
// out of patience and stopped its stream thread (found by cluster_test.sh).

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/broker.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/metadata.h"
#include "runnel/kafka/producer.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers3;
using testing_fixtures::Kafka3Dir;
using testing_fixtures::KafkaLocal;
using testing_fixtures::UniqueName;

constexpr absl::Duration kTimeout = absl::Seconds(10);

int32_t LeaderOf(kafka::Metadata& metadata, const std::string& topic) {
  auto partitions = metadata.Partitions(topic, kTimeout);
  return partitions.ok() && !partitions->empty() ? partitions->front().leader : -1;
}

TEST(ClusterLeaderTest, WatermarksFollowALeaderThatMovedWhileItsBrokerWasDown) {
  const std::string topic = UniqueName("leader-move");
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers3()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)->CreateTopics({{.name = topic, .partitions = 1, .replication_factor = 3}}, kTimeout).ok());
  auto metadata = kafka::Metadata::Create({{"bootstrap.servers", BootstrapServers3()}});
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  for (int i = 0; i < 150 && LeaderOf(**metadata, topic) < 0; ++i) absl::SleepFor(absl::Milliseconds(200));
  const int32_t old_leader = LeaderOf(**metadata, topic);
  ASSERT_GE(old_leader, 0);
  {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers3()}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*producer)->Send({.topic = topic, .key = "k", .value = "v"}).ok());
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }
  auto consumer = kafka::Consumer::Create({{"bootstrap.servers", BootstrapServers3()},
                                           {"group.id", UniqueName("leader-move-reader")}});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  const TopicPartition tp{topic, Partition(0)};
  auto before = (*consumer)->Watermarks(tp, kTimeout);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->second.value(), 10);

  // The consumer's cache names old_leader; kill it, let another lead, and
  // bring it back as a follower.
  ASSERT_TRUE(KafkaLocal({"kill", "--node", absl::StrCat(old_leader), "--dir", Kafka3Dir()}).ok());
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  int32_t leader = old_leader;
  while ((leader == old_leader || leader < 0) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    leader = LeaderOf(**metadata, topic);
  }
  auto started = KafkaLocal({"start-node", absl::StrCat(old_leader), "--dir", Kafka3Dir()});
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_NE(leader, old_leader) << "no new leader within 2 minutes";

  // Asked again within a few seconds (as a restore retries), the answer
  // comes from the new leader: well within the restore's patience.
  absl::StatusOr<std::pair<Offset, Offset>> after = absl::UnavailableError("not asked");
  for (int i = 0; i < 50 && !after.ok(); ++i) {
    after = (*consumer)->Watermarks(tp, kTimeout);
    if (!after.ok()) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(after.ok()) << after.status() << " (leader moved from " << old_leader << " to " << leader << ")";
  EXPECT_EQ(after->second.value(), 10);
  (void)(*consumer)->Close();
}

}  // namespace
}  // namespace runnel
