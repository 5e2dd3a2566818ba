#include "runnel/runtime/streams_config.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/runtime/internal/topics.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;

std::map<std::string, std::string> Base() {
  return {{"application.id", "app"}, {"bootstrap.servers", "127.0.0.1:9092"}};
}

TEST(StreamsConfigTest, DefaultsFollowKafkaStreams) {
  auto config = StreamsConfig::Create(Base());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_stream_threads(), 1);
  EXPECT_EQ(config->processing_guarantee(), ProcessingGuarantee::kAtLeastOnce);
  EXPECT_EQ(config->commit_interval(), absl::Seconds(30));
  EXPECT_EQ(config->deserialization_error_mode(), RecordErrorMode::kLogAndFail);
  auto eos = Base();
  eos["processing.guarantee"] = "exactly_once_v2";
  EXPECT_EQ(StreamsConfig::Create(eos)->commit_interval(), absl::Milliseconds(100));
}

TEST(StreamsConfigTest, ClientConfigsCarryDefaultsAndOverrides) {
  auto values = Base();
  values["consumer.fetch.max.bytes"] = "1234";
  values["producer.linger.ms"] = "50";
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok());
  auto consumer = config->ConsumerConfig("c1");
  EXPECT_EQ(consumer["group.id"], "app");
  EXPECT_EQ(consumer["enable.auto.commit"], "false");
  EXPECT_EQ(consumer["fetch.max.bytes"], "1234");
  EXPECT_EQ(consumer["client.id"], "c1");
  auto producer = config->ProducerConfig("p1");
  EXPECT_EQ(producer["enable.idempotence"], "true");
  EXPECT_EQ(producer["linger.ms"], "50");
}

// security.protocol, ssl.* and sasl.* (unprefixed) reach every client; a
// prefixed key still overrides one kind of client.
TEST(StreamsConfigTest, SecuritySettingsReachEveryClient) {
  auto values = Base();
  values.insert({{"security.protocol", "SASL_SSL"},
                 {"sasl.mechanism", "SCRAM-SHA-512"},
                 {"sasl.username", "app-user"},
                 {"sasl.password", "s3cret"},
                 {"ssl.ca.location", "/etc/ca.pem"},
                 {"admin.sasl.username", "admin-user"}});
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok()) << config.status();
  for (const kafka::ClientConfig& client :
       {config->ConsumerConfig("c"), config->ProducerConfig("p"), config->AdminConfig(), config->ConnectionConfig()}) {
    EXPECT_EQ(client.at("bootstrap.servers"), "127.0.0.1:9092");
    EXPECT_EQ(client.at("security.protocol"), "SASL_SSL");
    EXPECT_EQ(client.at("sasl.mechanism"), "SCRAM-SHA-512");
    EXPECT_EQ(client.at("sasl.password"), "s3cret");
    EXPECT_EQ(client.at("ssl.ca.location"), "/etc/ca.pem");
  }
  EXPECT_EQ(config->ConsumerConfig("c").at("sasl.username"), "app-user");
  EXPECT_EQ(config->AdminConfig().at("sasl.username"), "admin-user");
  EXPECT_EQ(config->ConsumerConfig("c").at("group.id"), "app");
  EXPECT_THAT(config->config().Describe(), HasSubstr("sasl.password=[hidden]"));
  EXPECT_THAT(config->config().Describe(), ::testing::Not(HasSubstr("s3cret")));
}

TEST(StreamsConfigTest, SecurityProtocolIsCheckedAndSaslNeedsAMechanism) {
  auto values = Base();
  values["security.protocol"] = "TLS";
  auto bad = StreamsConfig::Create(values);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'security.protocol'"));
  values["security.protocol"] = "SASL_SSL";
  auto no_mechanism = StreamsConfig::Create(values);
  ASSERT_EQ(no_mechanism.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_mechanism.status().message(), HasSubstr("'sasl.mechanism'"));
  values["sasl.mechanism"] = "PLAIN";
  EXPECT_TRUE(StreamsConfig::Create(values).ok());
}

TEST(StreamsConfigTest, ErrorsNameTheKey) {
  auto values = Base();
  values["num.stream.threads"] = "0";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("'num.stream.threads'"));
  values = Base();
  values["commit.interval"] = "5";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("'commit.interval'"));
  values = Base();
  values["default.deserialization.exception.handler"] = "dead_letter";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(),
              HasSubstr("'errors.dead.letter.queue.topic.name'"));
  values = Base();
  values["consumer.group.id"] = "x";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("'consumer.group.id'"));
  values = Base();
  values.erase("bootstrap.servers");
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("'bootstrap.servers'"));
}

TEST(StreamsConfigTest, KeysTheRuntimeDependsOnAreReservedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> reserved = {
      {"consumer.group.id", "application.id"},
      {"consumer.enable.auto.commit", "committed with the tasks' state"},
      {"consumer.client.id", "member identity"},
      {"consumer.partition.assignment.strategy", "range assignor"},
      {"consumer.isolation.level", "read_committed"},
      {"consumer.enable.partition.eof", "max.task.idle.ms"},
      {"producer.transactional.id", "fences"},
      {"producer.client.id", "named after its thread"},
  };
  for (const auto& [key, why] : reserved) {
    auto values = Base();
    // emplace, not values[key] = "x": GCC 12 at -O3 reports a false
    // -Wrestrict inside std::string's assignment from a literal here.
    values.emplace(key, "x");
    auto config = StreamsConfig::Create(values);
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(config.status().message(), HasSubstr(absl::StrCat("'", key, "' is set by Runnel"))) << key;
    EXPECT_THAT(config.status().message(), HasSubstr(why)) << key;
  }
}

TEST(StreamsConfigTest, IdempotenceIsReservedUnderExactlyOnceOnly) {
  auto values = Base();
  values["producer.enable.idempotence"] = "false";
  EXPECT_TRUE(StreamsConfig::Create(values).ok());
  values["processing.guarantee"] = "exactly_once_v2";
  auto config = StreamsConfig::Create(values);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("'producer.enable.idempotence'"));
  EXPECT_THAT(config.status().message(), HasSubstr("must be idempotent"));
}

TEST(StreamsConfigTest, ConsumersGetTheSettingsTheRuntimeReservesForThem) {
  auto config = StreamsConfig::Create(Base());
  ASSERT_TRUE(config.ok());
  auto consumer = config->ConsumerConfig("c1");
  EXPECT_EQ(consumer["partition.assignment.strategy"], "range");
  EXPECT_EQ(consumer["isolation.level"], "read_committed");
  EXPECT_EQ(consumer["enable.partition.eof"], "true");
}

TEST(StreamsConfigTest, UnknownKeySuggestsTheNearestKnownOne) {
  auto values = Base();
  values["num.stream.thread"] = "2";
  auto config = StreamsConfig::Create(values);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("did you mean 'num.stream.threads'?"));
  values = Base();
  values["commit.interval"] = "5";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("did you mean 'commit.interval.ms'?"));
  values = Base();
  values["producr.linger.ms"] = "5";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("did you mean 'producer.linger.ms'?"));
}

TEST(StreamsConfigTest, MetricsServerIsHostColonPortAndMayUseAnyFreePort) {
  auto config = StreamsConfig::Create(Base());
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->metrics_server().has_value());
  for (const auto& [value, host, port] :
       {std::tuple{"127.0.0.1:0", "127.0.0.1", 0}, std::tuple{"0.0.0.0:9464", "0.0.0.0", 9464},
        std::tuple{"[::1]:65535", "::1", 65535}, std::tuple{"metrics.local:80", "metrics.local", 80}}) {
    auto values = Base();
    values["metrics.server"] = value;
    auto parsed = StreamsConfig::Create(values);
    ASSERT_TRUE(parsed.ok()) << value << ": " << parsed.status();
    ASSERT_TRUE(parsed->metrics_server().has_value());
    EXPECT_EQ(parsed->metrics_server()->host, host);
    EXPECT_EQ(parsed->metrics_server()->port, port);
  }
}

TEST(StreamsConfigTest, MetricsServerRejectsWhatIsNotHostColonPort) {
  for (const char* bad : {"9464", ":9464", "host:", "host:-1", "host:65536", "host:http", "a b:1", "[::1]", "::1:x"}) {
    auto values = Base();
    values["metrics.server"] = bad;
    auto config = StreamsConfig::Create(values);
    EXPECT_TRUE(absl::IsInvalidArgument(config.status())) << bad;
    EXPECT_THAT(config.status().message(), HasSubstr("'metrics.server'")) << bad;
  }
}


// Internal topics: replication.factor, topic.* and acks (docs/cluster.md).

using runtime::internal::CheckCreatable;
using runtime::internal::MakeInternalTopicSettings;

TEST(InternalTopicSettingsTest, ReplicationDefaultsToThreeOrTheBrokersThereAre) {
  auto config = StreamsConfig::Create(Base());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->config().GetInt("replication.factor"), 0);
  auto one = MakeInternalTopicSettings(*config, 1);
  EXPECT_EQ(one.replication_factor, 1);
  EXPECT_FALSE(one.configs.contains("min.insync.replicas"));  // the broker's own
  EXPECT_TRUE(CheckCreatable(one).ok());
  EXPECT_EQ(MakeInternalTopicSettings(*config, 2).replication_factor, 2);
  auto three = MakeInternalTopicSettings(*config, 3);
  EXPECT_EQ(three.replication_factor, 3);
  EXPECT_EQ(three.configs["min.insync.replicas"], "2");
  auto five = MakeInternalTopicSettings(*config, 5);
  EXPECT_EQ(five.replication_factor, 3);
  EXPECT_TRUE(CheckCreatable(five).ok());
}

TEST(InternalTopicSettingsTest, MinusOneLeavesReplicationToTheBroker) {
  auto values = Base();
  values["replication.factor"] = "-1";
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok()) << config.status();
  auto settings = MakeInternalTopicSettings(*config, 3);
  EXPECT_EQ(settings.replication_factor, -1);
  EXPECT_FALSE(settings.configs.contains("min.insync.replicas"));
  EXPECT_TRUE(CheckCreatable(settings).ok());
}

TEST(InternalTopicSettingsTest, MoreReplicasThanBrokersIsRefusedNamingTheKey) {
  auto values = Base();
  values["replication.factor"] = "3";
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Status s = CheckCreatable(MakeInternalTopicSettings(*config, 1));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("'replication.factor'"));
  EXPECT_THAT(s.message(), HasSubstr("1 live broker"));
  EXPECT_TRUE(CheckCreatable(MakeInternalTopicSettings(*config, 3)).ok());
  values["replication.factor"] = "33";
  EXPECT_THAT(StreamsConfig::Create(values).status().message(), HasSubstr("replication.factor"));
}

TEST(InternalTopicSettingsTest, TopicPrefixConfigsGoToEveryInternalTopic) {
  auto values = Base();
  values["topic.compression.type"] = "zstd";
  values["topic.retention.ms"] = "-1";
  values["topic.min.insync.replicas"] = "1";
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok()) << config.status();
  auto settings = MakeInternalTopicSettings(*config, 3);
  EXPECT_EQ(settings.configs["compression.type"], "zstd");
  EXPECT_EQ(settings.configs["retention.ms"], "-1");
  EXPECT_EQ(settings.configs["min.insync.replicas"], "1");  // the user's, not the default 2
  EXPECT_EQ(settings.origin["compression.type"], "topic.compression.type");
}

TEST(InternalTopicSettingsTest, MinInsyncReplicasMustFitTheReplication) {
  auto values = Base();
  values["topic.min.insync.replicas"] = "two";
  auto bad = StreamsConfig::Create(values);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'topic.min.insync.replicas'"));
  values["topic.min.insync.replicas"] = "3";
  values["replication.factor"] = "2";
  auto above = StreamsConfig::Create(values);
  ASSERT_EQ(above.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(above.status().message(), HasSubstr("above 'replication.factor' 2"));
  // With the default replication, the cluster decides: one broker cannot
  // hold 2 in-sync replicas.
  values.erase("replication.factor");
  values["topic.min.insync.replicas"] = "2";
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Status s = CheckCreatable(MakeInternalTopicSettings(*config, 1));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("'topic.min.insync.replicas'"));
  EXPECT_TRUE(CheckCreatable(MakeInternalTopicSettings(*config, 3)).ok());
}

TEST(InternalTopicSettingsTest, CleanupPolicyIsRunnelsToChoose) {
  auto values = Base();
  values["topic.cleanup.policy"] = "delete";
  auto config = StreamsConfig::Create(values);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("'topic.cleanup.policy'"));
}

TEST(StreamsConfigTest, ProducersAcknowledgeOnlyWhenEveryInSyncReplicaHasTheRecord) {
  auto config = StreamsConfig::Create(Base());
  ASSERT_TRUE(config.ok());
  auto producer = config->ProducerConfig("p1");
  EXPECT_EQ(producer["acks"], "all");
  EXPECT_EQ(producer["enable.idempotence"], "true");
  auto values = Base();
  values["producer.acks"] = "1";
  auto one = StreamsConfig::Create(values);
  ASSERT_EQ(one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(one.status().message(), HasSubstr("'producer.acks'"));
  // At least once without idempotence may trade durability for speed.
  values["producer.enable.idempotence"] = "false";
  EXPECT_TRUE(StreamsConfig::Create(values).ok());
  values["processing.guarantee"] = "exactly_once_v2";
  EXPECT_EQ(StreamsConfig::Create(values).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace runnel
