#include "runnel/runtime/streams_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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
  EXPECT_EQ(config->deserialization_error_mode(), DeserializationErrorMode::kLogAndFail);
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

}  // namespace
}  // namespace runnel
