// Windowed results land where Kafka Streams puts them: a time- or
// session-windowed key is partitioned by its base key alone (Kafka Streams'
// WindowedStreamPartitioner: murmur2 of the inner key's bytes), so every
// window of a key shares the key's partition. The oracle is the Java
// client's own partitioner (kafka-clients' BuiltInPartitioner, through
// `kafka-local java-partition`) applied to the base key's bytes.

#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fixtures/broker.h"
#include "gtest/gtest.h"
#include "runnel/kafka/producer.h"
#include "runnel/runnel.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::ConsumeAll;
using testing_fixtures::CreateTopic;
using testing_fixtures::KafkaLocal;
using testing_fixtures::UniqueName;

constexpr int kRecords = 3000;
constexpr int kKeys = 300;

TEST(WindowedPartitioningTest, WindowedKeysLandOnTheirBaseKeysPartitionAsInKafkaStreams) {
  const std::string app = UniqueName("winpart"), in = app + "-in", time_out = app + "-time",
                    session_out = app + "-session";
  ASSERT_TRUE(CreateTopic(in, 2).ok());
  ASSERT_TRUE(CreateTopic(time_out, 12).ok());
  ASSERT_TRUE(CreateTopic(session_out, 7).ok());
  const int64_t base = absl::ToUnixMillis(absl::Now() - absl::Hours(1));
  {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < kRecords; ++i) {
      const std::string key = absl::StrCat("sensor-", i % kKeys);
      ASSERT_TRUE((*producer)->Send({.topic = in, .key = key, .value = "x", .timestamp = Timestamp(base + i * 10)}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }
  StreamsBuilder builder;
  auto grouped = builder.Stream(in, Consumed(serdes::String(), serdes::String())).GroupByKey();
  const auto tumbling = TimeWindows::OfSizeWithNoGrace(absl::Seconds(5));
  grouped.WindowedBy(tumbling)
      .Count(Materialized<std::string, int64_t>::As("time-counts", serdes::String(), serdes::Int64()))
      .ToStream()
      .To(time_out, Produced(serdes::TimeWindowed(serdes::String(), tumbling.size_ms), serdes::Int64()));
  grouped.WindowedBy(SessionWindows::OfInactivityGapWithNoGrace(absl::Seconds(1)))
      .Count(Materialized<std::string, int64_t>::As("session-counts", serdes::String(), serdes::Int64()))
      .ToStream()
      .To(session_out, Produced(serdes::SessionWindowed(serdes::String()), serdes::Int64()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::Create({{"application.id", app},
                                       {"bootstrap.servers", BootstrapServers()},
                                       {"commit.interval.ms", "100"},
                                       {"state.dir", (std::filesystem::temp_directory_path() / app).string()}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto streams = KafkaStreams::Create(*topology, *config);
  ASSERT_TRUE(streams.ok());
  ASSERT_TRUE((*streams)->Start().ok());
  // Every window of every key, at least once each (the caches may merge
  // updates): as many distinct windowed keys as windows.
  auto time_records = ConsumeAll(time_out, kKeys, absl::Seconds(120));
  auto session_records = ConsumeAll(session_out, kKeys, absl::Seconds(120));
  ASSERT_TRUE((*streams)->Close().ok());
  std::filesystem::remove_all(std::filesystem::temp_directory_path() / app);
  ASSERT_TRUE(time_records.ok()) << time_records.status();
  ASSERT_TRUE(session_records.ok()) << session_records.status();

  std::string input;
  std::vector<std::pair<int, int>> seen;  // (partition, partitions)
  auto ask = [&](const testing_fixtures::OutputRecord& r, size_t suffix, int partitions) {
    ASSERT_TRUE(r.key.has_value());
    ASSERT_GT(r.key->size(), suffix);
    absl::StrAppend(&input, absl::BytesToHexString(r.key->substr(0, r.key->size() - suffix)), " ", partitions, "\n");
    seen.emplace_back(r.partition, partitions);
  };
  for (const auto& r : *time_records) ask(r, 8, 12);
  for (const auto& r : *session_records) ask(r, 16, 7);
  auto java = KafkaLocal({"java-partition"}, input);
  ASSERT_TRUE(java.ok()) << java.status();
  std::vector<std::string> lines = absl::StrSplit(*java, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), seen.size());
  int wrong = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    int expected;
    ASSERT_TRUE(absl::SimpleAtoi(lines[i], &expected));
    if (seen[i].first != expected) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "of " << seen.size() << " windowed records, " << wrong
                      << " landed elsewhere than Kafka Streams puts them";
}

}  // namespace
}  // namespace runnel
