// TaskStores without a broker: the layers a task's store is opened with
// (record cache over changelogging over RocksDB), the at-least-once
// checkpoint, the wipe of a database no checkpoint vouches for, and the
// restore from an in-memory changelog.

#include "runnel/runtime/task_stores.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/common/status.h"
#include "runnel/runtime/internal/fake_changelog_consumer.h"
#include "runnel/state/checkpoint.h"
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
                                                        .restored_records = metrics_.GetCounter("restored"),
                                                        .wiped_stores = metrics_.GetCounter("wiped"),
                                                        .clock = &clock_},
                                               [this] { return Timestamp(now_ms_); });
    EXPECT_TRUE(stores->Open(specs_, {"s"}).ok());
    return stores;
  }
  void Seed(const std::vector<std::pair<std::string, std::string>>& entries, Offset offset);

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

// Leaves the task's store holding `entries`, checkpointed at `offset`.
void TaskStoresTest::Seed(const std::vector<std::pair<std::string, std::string>>& entries, Offset offset) {
  auto stores = Open();
  for (const auto& [k, v] : entries) ASSERT_TRUE(stores->Get("s")->Put(k, v).ok());
  ASSERT_TRUE(stores->Flush().ok());
  ASSERT_TRUE(stores->Checkpoint({{changelog_tp_, offset}}).ok());
}

// Runs a restore through `consumer` to its end (at most 100 slices).
absl::Status RestoreAll(TaskStores& stores, ChangelogConsumer& consumer) {
  RUNNEL_RETURN_IF_ERROR(stores.BeginRestore(consumer));
  for (int i = 0; i < 100; ++i) {
    auto done = stores.RestoreSome(absl::Seconds(1));
    if (!done.ok()) return done.status();
    if (*done) return absl::OkStatus();
  }
  return absl::DeadlineExceededError("the restore did not finish");
}

TEST_F(TaskStoresTest, ARestoreReplaysTheChangelogFromTheCheckpointAndCheckpointsPastTheLastMarker) {
  Seed({{"k0", "v0"}, {"k1", "v1"}}, Offset(2));
  runtime::internal::FakeChangelogConsumer consumer(&clock_);
  consumer.Append(changelog_tp_, "k0", "v0");
  consumer.Append(changelog_tp_, "k1", "v1");
  consumer.Append(changelog_tp_, "k2", "v2");
  consumer.Append(changelog_tp_, "k1", std::nullopt);
  consumer.AppendMarker(changelog_tp_);  // the end is 5

  auto stores = Open();
  ASSERT_TRUE(RestoreAll(*stores, consumer).ok());
  KeyValueStore* s = stores->Get("s");
  EXPECT_EQ(**s->Get("k0"), "v0");
  EXPECT_EQ(*s->Get("k1"), std::nullopt);
  EXPECT_EQ(**s->Get("k2"), "v2");
  EXPECT_EQ(metrics_.GetCounter("restored")->value(), 2) << "only what follows the checkpoint is replayed";
  EXPECT_EQ(metrics_.GetCounter("wiped")->value(), 0);
  EXPECT_THAT(consumer.positions(), ::testing::IsEmpty()) << "a finished restore leaves no assignment";
  auto checkpoint = CheckpointFile(absl::StrCat(dir_, "/", task_.ToString(), "/.checkpoint")).Read();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_THAT(*checkpoint, ::testing::ElementsAre(::testing::Pair(changelog_tp_, Offset(5))));
}

TEST_F(TaskStoresTest, AStorePastItsChangelogsEndIsWipedAndRestoredFromTheBeginning) {
  Seed({{"stale", "x"}}, Offset(50));
  // The changelog was recreated: it ends at 2, before the checkpoint.
  runtime::internal::FakeChangelogConsumer consumer(&clock_);
  consumer.Append(changelog_tp_, "a", "1");
  consumer.Append(changelog_tp_, "b", "2");

  auto stores = Open();
  ASSERT_TRUE(RestoreAll(*stores, consumer).ok());
  KeyValueStore* s = stores->Get("s");
  EXPECT_EQ(*s->Get("stale"), std::nullopt);
  EXPECT_EQ(**s->Get("a"), "1");
  EXPECT_EQ(**s->Get("b"), "2");
  EXPECT_EQ(metrics_.GetCounter("wiped")->value(), 1);
  EXPECT_EQ(metrics_.GetCounter("restored")->value(), 2);
}

}  // namespace
}  // namespace runnel
