#include "runnel/state/changelog.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/state/in_memory_kv_store.h"

namespace runnel {
namespace {

struct Sent {
  std::string topic;
  int32_t partition;
  std::string key;
  std::optional<std::string> value;
  int64_t timestamp;
  bool operator==(const Sent&) const = default;
};

class RecordingWriter : public ChangelogWriter {
 public:
  absl::Status Send(std::string_view topic, Partition partition, std::string_view key,
                    std::optional<std::string_view> value, Timestamp timestamp) override {
    if (!fail_.ok()) return fail_;
    sent.push_back({std::string(topic), partition.value(), std::string(key),
                    value ? std::optional<std::string>(std::string(*value)) : std::nullopt, timestamp.value()});
    return absl::OkStatus();
  }
  std::vector<Sent> sent;
  absl::Status fail_;
};

TEST(ChangelogTest, TopicNameFollowsKafkaStreams) {
  EXPECT_EQ(ChangelogTopicName("sensors", "counts"), "sensors-counts-changelog");
}

TEST(ChangelogTest, EveryWriteIsLoggedWithTheRecordTimestamp) {
  RecordingWriter writer;
  int64_t now = 100;
  ChangeLoggingKeyValueStore store(std::make_unique<InMemoryKeyValueStore>("counts"), "app-counts-changelog",
                                   Partition(2), &writer, [&] { return Timestamp(now); });
  ASSERT_TRUE(store.Put("a", "1").ok());
  now = 200;
  ASSERT_TRUE(store.Delete("a").ok());
  ASSERT_TRUE(store.PutAll({{"b", std::string("2")}, {"c", std::string("3")}}).ok());
  EXPECT_THAT(writer.sent, ::testing::ElementsAre(Sent{"app-counts-changelog", 2, "a", "1", 100},
                                                  Sent{"app-counts-changelog", 2, "a", std::nullopt, 200},
                                                  Sent{"app-counts-changelog", 2, "b", "2", 200},
                                                  Sent{"app-counts-changelog", 2, "c", "3", 200}));
  EXPECT_EQ(*store.Get("b"), "2");
  EXPECT_EQ(*store.Get("a"), std::nullopt);
}

TEST(ChangelogTest, RestoredRecordsAreNotLoggedAgain) {
  RecordingWriter writer;
  ChangeLoggingKeyValueStore store(std::make_unique<InMemoryKeyValueStore>("counts"), "t", Partition(0), &writer,
                                   [] { return Timestamp(0); });
  ASSERT_TRUE(store.RestoreBatch({{"a", std::string("1")}, {"b", std::nullopt}}).ok());
  EXPECT_TRUE(writer.sent.empty());
  EXPECT_EQ(*store.Get("a"), "1");
}

TEST(ChangelogTest, AFailedSendFailsTheWrite) {
  RecordingWriter writer;
  writer.fail_ = absl::UnavailableError("broker gone");
  ChangeLoggingKeyValueStore store(std::make_unique<InMemoryKeyValueStore>("counts"), "t", Partition(0), &writer,
                                   [] { return Timestamp(0); });
  EXPECT_EQ(store.Put("a", "1").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace runnel
