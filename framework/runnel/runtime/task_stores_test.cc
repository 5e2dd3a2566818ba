// TaskStores without a broker: the layers a task's store is opened with
// (record cache over changelogging over RocksDB), the at-least-once
// checkpoint, and the wipe of a database no checkpoint vouches for.

#include "runnel/runtime/task_stores.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/state/record_cache.h"
#include "runnel/state/rocksdb_kv_store.h"

namespace runnel {
namespace {

struct Logged {
  std::string topic;
  int32_t partition;
  std::string key;
  std::optional<std::string> value;
  int64_t timestamp;
  bool operator==(const Logged&) const = default;
};

class CapturingChangelog final : public ChangelogWriter {
 public:
  absl::Status Send(std::string_view topic, Partition partition, std::string_view key,
                    std::optional<std::string_view> value, Timestamp timestamp) override {
    records.push_back({std::string(topic), partition.value(), std::string(key),
                       value ? std::optional<std::string>(std::string(*value)) : std::nullopt, timestamp.value()});
    return absl::OkStatus();
  }
  std::vector<Logged> records;
};

class TaskStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("runnel-task-stores-", getpid(), "-", ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::remove_all(dir_);
    specs_["s"] = StoreSpec{.name = "s"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<TaskStores> Open() {
    auto stores = std::make_unique<TaskStores>(task_,
                                               StateEnv{.application_id = "app",
                                                        .app_dir = dir_,
                                                        .rocksdb = rocksdb_,
                                                        .cache_budget = &budget_,
                                                        .changelog = &changelog_,
                                                        .wiped_stores = metrics_.GetCounter("wiped"),
                                                        .clock = &clock_},
                                               [this] { return Timestamp(now_ms_); });
    EXPECT_TRUE(stores->Open(specs_, {"s"}).ok());
    return stores;
  }

  const TaskId task_{0, Partition(2)};
  const TopicPartition changelog_tp_{"app-s-changelog", Partition(2)};
  std::string dir_;
  std::map<std::string, StoreSpec> specs_;
  std::shared_ptr<RocksDbResources> rocksdb_ = RocksDbResources::Create(8 << 20, 4 << 20);
  RecordCacheBudget budget_{1 << 20};
  CapturingChangelog changelog_;
  MetricsRegistry metrics_;
  ManualClock clock_;
  int64_t now_ms_ = 0;
};

TEST_F(TaskStoresTest, TheCacheMergesWritesAndTheFlushLogsEachKeyOnceWithItsTimestamp) {
  auto stores = Open();
  KeyValueStore* s = stores->Get("s");
  ASSERT_NE(s, nullptr);
  now_ms_ = 5;
  ASSERT_TRUE(s->Put("k", "1").ok());
  now_ms_ = 7;
  ASSERT_TRUE(s->Put("k", "2").ok());
  ASSERT_TRUE(s->Put("gone", std::nullopt).ok());
  EXPECT_TRUE(changelog_.records.empty());  // nothing leaves the cache before a flush
  EXPECT_EQ(**s->Get("k"), "2");
  now_ms_ = 99;
  ASSERT_TRUE(stores->Flush().ok());
  EXPECT_THAT(changelog_.records,
              ::testing::UnorderedElementsAre(Logged{"app-s-changelog", 2, "k", "2", 7},
                                              Logged{"app-s-changelog", 2, "gone", std::nullopt, 7}));
  EXPECT_THAT(stores->ChangelogPartitions(), ::testing::ElementsAre(changelog_tp_));
}

TEST_F(TaskStoresTest, ACheckpointedDatabaseIsKeptAndOneWithoutACheckpointIsWiped) {
  {
    auto stores = Open();
    ASSERT_TRUE(stores->Get("s")->Put("k", "v").ok());
    ASSERT_TRUE(stores->Flush().ok());
    ASSERT_TRUE(stores->Checkpoint({{changelog_tp_, Offset(1)}}).ok());
  }
  {
    auto stores = Open();
    EXPECT_EQ(**stores->Get("s")->Get("k"), "v");
    EXPECT_EQ(metrics_.GetCounter("wiped")->value(), 0);
  }
  // Without its checkpoint, nothing says which changelog offset the
  // database matches: it is wiped (and restored from the beginning).
  std::filesystem::remove(absl::StrCat(dir_, "/", task_.ToString(), "/.checkpoint"));
  auto stores = Open();
  EXPECT_EQ(*stores->Get("s")->Get("k"), std::nullopt);
  EXPECT_EQ(metrics_.GetCounter("wiped")->value(), 1);
}

}  // namespace
}  // namespace runnel
