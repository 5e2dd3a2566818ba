#include "runnel/state/changelog.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/state/in_memory_kv_store.h"
#include "runnel/state/record_cache.h"

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

// The cache sends its entries down on a commit, long after the writes: each
// changelog record must still carry the timestamp of the write that made it
// (as Kafka Streams logs a cached entry with its own record context), not
// the stream time of the flush.
TEST(ChangelogTest, CachedWritesAreLoggedWithTheirOwnTimestampsWhenFlushed) {
  RecordingWriter writer;
  int64_t now = 5;
  auto logged = std::make_unique<ChangeLoggingKeyValueStore>(std::make_unique<InMemoryKeyValueStore>("counts"),
                                                             "t", Partition(0), &writer, [&] { return Timestamp(now); });
  RecordCacheBudget budget(1 << 20);
  CachingKeyValueStore cached(std::move(logged), &budget, [&] { return Timestamp(now); });
  ASSERT_TRUE(cached.Put("a", "1").ok());
  now = 7;
  ASSERT_TRUE(cached.PutWithTimestamp("b", "2", Timestamp(6)).ok());  // a result with a time of its own
  ASSERT_TRUE(cached.PutAll({{"c", std::string("3")}}).ok());
  now = 100;
  ASSERT_TRUE(cached.Flush().ok());
  EXPECT_THAT(writer.sent, ::testing::ElementsAre(Sent{"t", 0, "a", "1", 5}, Sent{"t", 0, "b", "2", 6},
                                                  Sent{"t", 0, "c", "3", 7}));
}

TEST(ChangelogTest, EvictedWritesAreLoggedWithTheirOwnTimestamps) {
  RecordingWriter writer;
  int64_t now = 5;
  auto logged = std::make_unique<ChangeLoggingKeyValueStore>(std::make_unique<InMemoryKeyValueStore>("counts"),
                                                             "t", Partition(0), &writer, [&] { return Timestamp(now); });
  RecordCacheBudget budget(150);  // 66 bytes an entry: the third evicts
  CachingKeyValueStore cached(std::move(logged), &budget, [&] { return Timestamp(now); });
  ASSERT_TRUE(cached.Put("a", "1").ok());
  now = 50;
  ASSERT_TRUE(cached.Put("b", "2").ok());
  now = 100;
  ASSERT_TRUE(cached.Put("c", "3").ok());
  ASSERT_EQ(writer.sent.size(), 3u);
  EXPECT_EQ(writer.sent[0].timestamp, 5);
  EXPECT_EQ(writer.sent[1].timestamp, 50);
  EXPECT_EQ(writer.sent[2].timestamp, 100);
}

// A write given its own timestamp keeps it through a store that logs
// directly (no cache above).
TEST(ChangelogTest, AWriteWithATimestampOfItsOwnIsLoggedWithIt) {
  RecordingWriter writer;
  ChangeLoggingKeyValueStore store(std::make_unique<InMemoryKeyValueStore>("counts"), "t", Partition(0), &writer,
                                   [] { return Timestamp(100); });
  ASSERT_TRUE(store.PutAll({{"a", std::string("1"), Timestamp(5)}, {"b", std::nullopt}}).ok());
  EXPECT_THAT(writer.sent, ::testing::ElementsAre(Sent{"t", 0, "a", "1", 5}, Sent{"t", 0, "b", std::nullopt, 100}));
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
