// Internal topics on the three-broker cluster (the CTest fixture "kafka3"):
// with the default replication.factor (min(3, brokers)) an application's
// changelog and repartition topics get 3 replicas and min.insync.replicas
// 2, and the topic.* configs reach every one of them; a topic config the
// broker refuses stops Start() with an error naming the config key.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/metadata.h"
#include "runnel/runnel.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;
using testing_fixtures::BootstrapServers3;
using testing_fixtures::UniqueName;

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::unique_ptr<kafka::Admin> Admin3() {
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers3()}});
  EXPECT_TRUE(admin.ok()) << admin.status();
  return admin.ok() ? *std::move(admin) : nullptr;
}

// A count by value: one repartition topic (the re-keying) and one changelog.
std::shared_ptr<const Topology> CountByValue(const std::string& in, const std::string& out) {
  StreamsBuilder builder;
  builder.Stream(in, Consumed(serdes::String(), serdes::String()))
      .GroupBy([](const std::string&, const std::string& value) { return value; },
               Grouped<std::string, std::string>(serdes::String(), serdes::String(), "by-value"))
      .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
      .ToStream()
      .To(out, Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return topology.ok() ? *topology : nullptr;
}

class ClusterTopicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = UniqueName("cluster-topics");
    in_ = app_ + "-in";
    out_ = app_ + "-out";
    admin_ = Admin3();
    ASSERT_NE(admin_, nullptr);
    auto metadata = kafka::Metadata::Create({{"bootstrap.servers", BootstrapServers3()}});
    ASSERT_TRUE(metadata.ok()) << metadata.status();
    metadata_ = *std::move(metadata);
    ASSERT_TRUE(admin_->CreateTopics({{.name = in_, .partitions = 3, .replication_factor = 3},
                                      {.name = out_, .partitions = 3, .replication_factor = 3}},
                                     kTimeout)
                    .ok());
    // Visible to every broker before the app looks for its source topic.
    for (const std::string& topic : {in_, out_}) {
      for (int i = 0; i < 150 && !metadata_->Partitions(topic, kTimeout).ok(); ++i) {
        absl::SleepFor(absl::Milliseconds(200));
      }
      ASSERT_TRUE(metadata_->Partitions(topic, kTimeout).ok()) << topic;
    }
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::temp_directory_path() / app_); }

  // Starts the app with `extra` config, returns Start()'s status and closes it.
  absl::Status StartOnce(const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> values = {
        {"application.id", app_},
        {"bootstrap.servers", BootstrapServers3()},
        {"state.dir", (std::filesystem::temp_directory_path() / app_).string()}};
    for (const auto& [k, v] : extra) values[k] = v;
    auto config = StreamsConfig::Create(values);
    if (!config.ok()) return config.status();
    auto streams = KafkaStreams::Create(CountByValue(in_, out_), *config);
    if (!streams.ok()) return streams.status();
    absl::Status started = (*streams)->Start();
    absl::Status closed = (*streams)->Close();
    return started.ok() ? closed : started;
  }

  // The application's internal topics: "<app>-...-changelog|repartition".
  std::vector<std::string> InternalTopics() {
    std::vector<std::string> out;
    auto topics = admin_->ListTopics(kTimeout);
    EXPECT_TRUE(topics.ok()) << topics.status();
    for (const auto& t : topics.ok() ? *topics : std::vector<std::string>{}) {
      if (absl::StartsWith(t, app_ + "-") && (absl::EndsWith(t, "-changelog") || absl::EndsWith(t, "-repartition"))) {
        out.push_back(t);
      }
    }
    return out;
  }
  // InternalTopics() once `n` are in the metadata (the brokers learn of a
  // new topic a moment after CreateTopics answers), or after 30 s.
  std::vector<std::string> InternalTopicsOnce(size_t n) {
    std::vector<std::string> out = InternalTopics();
    for (int i = 0; i < 150 && out.size() < n; ++i) {
      absl::SleepFor(absl::Milliseconds(200));
      out = InternalTopics();
    }
    return out;
  }

  std::string app_, in_, out_;
  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<kafka::Metadata> metadata_;
};

TEST_F(ClusterTopicsTest, InternalTopicsGetThreeReplicasMinInsyncTwoAndTheTopicPrefixConfigs) {
  ASSERT_TRUE(StartOnce({{"topic.compression.type", "zstd"}, {"topic.retention.ms", "-1"}}).ok());
  const std::vector<std::string> internal = InternalTopicsOnce(2);
  ASSERT_EQ(internal.size(), 2u) << "want one changelog and one repartition topic";
  for (const std::string& topic : internal) {
    auto partitions = metadata_->Partitions(topic, kTimeout);
    ASSERT_TRUE(partitions.ok()) << partitions.status();
    ASSERT_EQ(partitions->size(), 3u) << topic;
    for (const auto& p : *partitions) {
      EXPECT_EQ(p.replicas.size(), 3u) << topic << "-" << p.partition;
      EXPECT_GE(p.leader, 0) << topic << "-" << p.partition;
    }
    auto configs = admin_->DescribeTopicConfigs(topic, kTimeout);
    ASSERT_TRUE(configs.ok()) << configs.status();
    EXPECT_EQ((*configs)["min.insync.replicas"], "2") << topic;
    EXPECT_EQ((*configs)["compression.type"], "zstd") << topic;
    EXPECT_EQ((*configs)["cleanup.policy"], absl::EndsWith(topic, "-changelog") ? "compact" : "delete") << topic;
    if (absl::EndsWith(topic, "-repartition")) {
      EXPECT_EQ((*configs)["retention.ms"], "-1") << topic;
    }
  }
}

TEST_F(ClusterTopicsTest, ExplicitReplicationAndMinInsyncAreHonoured) {
  ASSERT_TRUE(StartOnce({{"replication.factor", "2"}, {"topic.min.insync.replicas", "1"}}).ok());
  const std::vector<std::string> internal = InternalTopicsOnce(2);
  ASSERT_EQ(internal.size(), 2u);
  for (const std::string& topic : internal) {
    auto partitions = metadata_->Partitions(topic, kTimeout);
    ASSERT_TRUE(partitions.ok()) << partitions.status();
    for (const auto& p : *partitions) EXPECT_EQ(p.replicas.size(), 2u) << topic;
    auto configs = admin_->DescribeTopicConfigs(topic, kTimeout);
    ASSERT_TRUE(configs.ok()) << configs.status();
    EXPECT_EQ((*configs)["min.insync.replicas"], "1") << topic;
  }
}

TEST_F(ClusterTopicsTest, MoreReplicasThanBrokersStopsStartNamingTheKey) {
  absl::Status s = StartOnce({{"replication.factor", "4"}});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("'replication.factor'"));
  EXPECT_THAT(s.message(), HasSubstr("3 live broker(s)"));
  EXPECT_TRUE(InternalTopics().empty());
}

TEST_F(ClusterTopicsTest, ATopicConfigTheBrokerRefusesStopsStartNamingTheKey) {
  absl::Status unknown = StartOnce({{"topic.no.such.config", "1"}});
  ASSERT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument) << unknown;
  EXPECT_THAT(unknown.message(), HasSubstr("'topic.no.such.config'"));
  absl::Status bad_value = StartOnce({{"topic.compression.type", "gzip9"}});
  ASSERT_EQ(bad_value.code(), absl::StatusCode::kInvalidArgument) << bad_value;
  EXPECT_THAT(bad_value.message(), HasSubstr("'topic.compression.type'"));
  EXPECT_TRUE(InternalTopics().empty());
}

}  // namespace
}  // namespace runnel
