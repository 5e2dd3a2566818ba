// The Kafka client layer against the real broker: admin, records with
// headers and nulls, group offsets, transactions under read_committed, and
// key partitioning identical to the Java client's.

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/kafka/producer.h"

#include <librdkafka/rdkafka.h>

namespace runnel::kafka {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::ConsumeAll;
using testing_fixtures::KafkaLocal;
using testing_fixtures::UniqueName;

std::unique_ptr<Admin> MakeAdmin() {
  auto admin = Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  EXPECT_TRUE(admin.ok()) << admin.status();
  return *std::move(admin);
}

TEST(KafkaClientTest, AdminCreatesDescribesAndDeletesTopics) {
  auto admin = MakeAdmin();
  std::string name = UniqueName("admin");
  NewTopic topic{.name = name, .partitions = 3, .configs = {{"cleanup.policy", "compact"}}};
  ASSERT_TRUE(admin->CreateTopics({topic}, absl::Seconds(30)).ok());
  // Idempotent with the same partitions; an error with others.
  EXPECT_TRUE(admin->CreateTopics({topic}, absl::Seconds(30)).ok());
  topic.partitions = 5;
  EXPECT_EQ(admin->CreateTopics({topic}, absl::Seconds(30)).code(), absl::StatusCode::kFailedPrecondition);

  auto description = admin->DescribeTopic(name, absl::Seconds(30));
  ASSERT_TRUE(description.ok()) << description.status();
  EXPECT_EQ(description->partitions, 3);
  EXPECT_EQ(description->replication_factor, 1);
  auto configs = admin->DescribeTopicConfigs(name, absl::Seconds(30));
  ASSERT_TRUE(configs.ok()) << configs.status();
  EXPECT_EQ(configs->at("cleanup.policy"), "compact");
  auto topics = admin->ListTopics(absl::Seconds(30));
  ASSERT_TRUE(topics.ok());
  EXPECT_THAT(*topics, ::testing::Contains(name));

  ASSERT_TRUE(admin->DeleteTopics({name}, absl::Seconds(30)).ok());
  EXPECT_TRUE(admin->DeleteTopics({name}, absl::Seconds(30)).ok());  // absent is fine
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(admin->DescribeTopic(name, absl::Seconds(30)).status().code(), absl::StatusCode::kNotFound);
}

TEST(KafkaClientTest, RecordsKeepKeysNullsHeadersAndTimestamps) {
  std::string name = UniqueName("records");
  ASSERT_TRUE(testing_fixtures::CreateTopic(name, 1).ok());
  auto producer = Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok());
  Headers headers{{"a", "1"}, {"empty", ""}, {"null", std::nullopt}};
  ASSERT_TRUE((*producer)->Send({.topic = name, .key = "k1", .value = "v1", .timestamp = Timestamp(42), .headers = &headers}).ok());
  ASSERT_TRUE((*producer)->Send({.topic = name, .key = std::nullopt, .value = std::nullopt}).ok());
  ASSERT_TRUE((*producer)->Send({.topic = name, .key = "", .value = ""}).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  auto records = ConsumeAll(name, 3, absl::Seconds(30));
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ((*records)[0].key, "k1");
  EXPECT_EQ((*records)[0].timestamp, Timestamp(42));
  EXPECT_EQ((*records)[0].headers, headers);
  EXPECT_EQ((*records)[1].key, std::nullopt);
  EXPECT_EQ((*records)[1].value, std::nullopt);
  EXPECT_EQ((*records)[2].key, "");
  EXPECT_EQ((*records)[2].value, "");
}

TEST(KafkaClientTest, SendingToAMissingTopicFailsTheFlush) {
  auto producer = Producer::Create({{"bootstrap.servers", BootstrapServers()},
                                    {"message.timeout.ms", "3000"}});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->Send({.topic = UniqueName("nope"), .value = "x"}).ok());
  absl::Status s = (*producer)->Flush(absl::Seconds(30));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(absl::IsDeadlineExceeded(s)) << s;
}

TEST(KafkaClientTest, GroupOffsetsCommitListAndAlter) {
  std::string topic = UniqueName("offsets"), group = UniqueName("group");
  ASSERT_TRUE(testing_fixtures::CreateTopic(topic, 2).ok());
  auto consumer = Consumer::Create({{"bootstrap.servers", BootstrapServers()}, {"group.id", group}});
  ASSERT_TRUE(consumer.ok());
  TopicPartition p0{topic, Partition(0)}, p1{topic, Partition(1)};
  ASSERT_TRUE((*consumer)->Assign({p0, p1}).ok());
  ASSERT_TRUE((*consumer)->Commit({{p0, Offset(0)}, {p1, Offset(0)}}).ok());
  ASSERT_TRUE((*consumer)->Close().ok());
  auto admin = MakeAdmin();
  ASSERT_TRUE(admin->AlterGroupOffsets(group, {{p1, Offset(0)}}, absl::Seconds(30)).ok());
  auto offsets = admin->ListGroupOffsets(group, absl::Seconds(30));
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->at(p0), Offset(0));
  EXPECT_EQ(offsets->at(p1), Offset(0));
  EXPECT_TRUE(admin->DeleteGroup(group, absl::Seconds(30)).ok());
}

TEST(KafkaClientTest, TransactionsCommitAndAbortUnderReadCommitted) {
  std::string in = UniqueName("txn-in"), out = UniqueName("txn-out"), group = UniqueName("txn-group");
  ASSERT_TRUE(testing_fixtures::CreateTopic(in, 1).ok());
  ASSERT_TRUE(testing_fixtures::CreateTopic(out, 1).ok());
  auto producer = Producer::Create({{"bootstrap.servers", BootstrapServers()},
                                    {"transactional.id", UniqueName("txn")}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->InitTransactions(absl::Seconds(30)).ok());
  auto consumer = Consumer::Create({{"bootstrap.servers", BootstrapServers()}, {"group.id", group}});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign({{in, Partition(0)}}).ok());

  // Aborted: its records never reach a read_committed reader.
  ASSERT_TRUE((*producer)->BeginTransaction().ok());
  ASSERT_TRUE((*producer)->Send({.topic = out, .key = "k", .value = "aborted"}).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  ASSERT_TRUE((*producer)->AbortTransaction(absl::Seconds(30)).ok());

  // Committed, with consumer offsets in the same transaction.
  ASSERT_TRUE((*producer)->BeginTransaction().ok());
  ASSERT_TRUE((*producer)->Send({.topic = out, .key = "k", .value = "committed"}).ok());
  auto metadata = (*consumer)->GroupMetadata();
  absl::Status sent = (*producer)->SendOffsetsToTransaction({{{in, Partition(0)}, Offset(0)}}, metadata.get(),
                                                            absl::Seconds(30));
  ASSERT_TRUE(sent.ok()) << sent;
  ASSERT_TRUE((*producer)->CommitTransaction(absl::Seconds(30)).ok());

  auto committed = ConsumeAll(out, 1, absl::Seconds(30), /*read_committed=*/true);
  ASSERT_TRUE(committed.ok()) << committed.status();
  ASSERT_EQ(committed->size(), 1u);
  EXPECT_EQ((*committed)[0].value, "committed");
  EXPECT_FALSE(ConsumeAll(out, 2, absl::Seconds(2), true).ok());
  auto uncommitted = ConsumeAll(out, 2, absl::Seconds(30), /*read_committed=*/false);
  ASSERT_TRUE(uncommitted.ok());
  EXPECT_EQ((*uncommitted)[0].value, "aborted");

  auto offsets = MakeAdmin()->ListGroupOffsets(group, absl::Seconds(30));
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->at({in, Partition(0)}), Offset(0));
}

// What an exactly-once restore relies on: a read_committed consumer's
// watermark query answers the last stable offset (an open transaction holds
// it back), and the end-of-partition event reports a position past the
// trailing commit marker, which no record has.
TEST(KafkaClientTest, ReadCommittedEndIsTheLastStableOffsetPastTheMarker) {
  std::string topic = UniqueName("lso");
  ASSERT_TRUE(testing_fixtures::CreateTopic(topic, 1).ok());
  auto producer = Producer::Create({{"bootstrap.servers", BootstrapServers()},
                                    {"transactional.id", UniqueName("lso-txn")}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->InitTransactions(absl::Seconds(30)).ok());
  ASSERT_TRUE((*producer)->BeginTransaction().ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*producer)->Send({.topic = topic, .key = "k", .value = "v"}).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  const TopicPartition tp{topic, Partition(0)};
  auto consumer = Consumer::Create({{"bootstrap.servers", BootstrapServers()},
                                    {"group.id", UniqueName("lso-group")},
                                    {"enable.partition.eof", "true"}});
  ASSERT_TRUE(consumer.ok());
  auto open = (*consumer)->Watermarks(tp, absl::Seconds(30));
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(open->second, Offset(0)) << "an open transaction holds the last stable offset back";

  ASSERT_TRUE((*producer)->CommitTransaction(absl::Seconds(30)).ok());
  // The coordinator writes the markers just after the commit returns.
  auto committed = (*consumer)->Watermarks(tp, absl::Seconds(30));
  for (int i = 0; i < 100 && committed.ok() && committed->second < Offset(4); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    committed = (*consumer)->Watermarks(tp, absl::Seconds(30));
  }
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed->second, Offset(4)) << "3 records and the commit marker";

  ASSERT_TRUE((*consumer)->AssignAt({{tp, Offset(0)}}).ok());
  std::vector<ConsumedRecord> records;
  std::vector<std::pair<TopicPartition, Offset>> eof;
  const absl::Time deadline = Clock::System().Now() + absl::Seconds(30);
  while (eof.empty() && Clock::System().Now() < deadline) {
    ASSERT_TRUE((*consumer)->Poll(absl::Milliseconds(200), 100, records, &eof).ok());
  }
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.back().offset(), Offset(2));
  ASSERT_EQ(eof.size(), 1u);
  EXPECT_EQ(eof[0].first, tp);
  EXPECT_EQ(eof[0].second, Offset(4));
}

// Our partitioner, and records our Producer actually sends, land where the
// Java client (kafka-clients' BuiltInPartitioner) would put them.
TEST(KafkaClientTest, KeysLandOnTheJavaClientsPartition) {
  std::mt19937_64 rng(7);
  std::vector<std::string> keys;
  for (int i = 0; i < 10'000; ++i) {
    std::string key(1 + rng() % 40, '\0');
    for (char& c : key) c = static_cast<char>(i % 2 ? 'a' + rng() % 26 : rng() % 256);
    keys.push_back(key);
  }
  std::string input;
  std::vector<std::pair<size_t, int>> asked;
  for (int n : {1, 3, 4, 7, 12, 100}) {
    for (size_t i = 0; i < keys.size(); ++i) {
      absl::StrAppend(&input, absl::BytesToHexString(keys[i]), " ", n, "\n");
      asked.emplace_back(i, n);
    }
  }
  auto java = KafkaLocal({"java-partition"}, input);
  ASSERT_TRUE(java.ok()) << java.status();
  std::vector<std::string> lines = absl::StrSplit(*java, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), asked.size());
  std::map<std::string, int> java_at_12;
  for (size_t i = 0; i < asked.size(); ++i) {
    int p;
    ASSERT_TRUE(absl::SimpleAtoi(lines[i], &p));
    const auto& [key_index, n] = asked[i];
    ASSERT_EQ(PartitionForKey(keys[key_index], n).value(), p)
        << "key " << absl::BytesToHexString(keys[key_index]) << " n=" << n;
    if (n == 12) java_at_12[keys[key_index]] = p;
  }

  std::string topic = UniqueName("murmur");
  ASSERT_TRUE(testing_fixtures::CreateTopic(topic, 12).ok());
  auto producer = Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok());
  for (size_t i = 0; i < 2000; ++i) {
    ASSERT_TRUE((*producer)->Send({.topic = topic, .key = keys[i], .value = "v"}).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  auto records = ConsumeAll(topic, 2000, absl::Seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  for (const auto& r : *records) EXPECT_EQ(r.partition, java_at_12.at(*r.key));
}

}  // namespace
}  // namespace runnel::kafka
