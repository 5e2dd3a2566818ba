#include "runnel/runtime/global_stores.h"

#include <filesystem>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/processor/typed_store.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;
using S = std::string;
using OptS = std::optional<std::string>;

// Writes each record into the store `name` (a null value deletes).
class StoreWriter final : public Processor<S, OptS, S, S> {
 public:
  explicit StoreWriter(std::string name) : name_(std::move(name)) {}
  absl::Status Process(Record<S, OptS> r) override {
    KeyValueStore* store = context().GetKeyValueStore(name_);
    if (store == nullptr) return absl::NotFoundError(name_);
    if (!r.value) return store->Delete(r.key);
    return store->Put(r.key, *r.value);
  }

 private:
  std::string name_;
};

std::shared_ptr<const Topology> GlobalTopology(StoreSpec::Kind kind) {
  TopologyBuilder b;
  b.AddSource<S, S>("src", {"orders"}, serdes::String(), serdes::String());
  b.AddGlobalStore<S, OptS, S, S>(StoreSpec{.name = "table", .kind = kind}, "global-src", "table-topic",
                                  serdes::String(), serdes::Nullable(serdes::String()), "global-writer",
                                  [] { return std::make_unique<StoreWriter>("table"); });
  auto topology = b.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

class GlobalStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("runnel-global-stores-", getpid(), "-",
                                                                 ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<GlobalStores> Open(StoreSpec::Kind kind = StoreSpec::Kind::kRocksDb) {
    auto stores = GlobalStores::Open(GlobalTopology(kind), GlobalStoresOptions{.application_id = "app",
                                                                               .dir = dir_,
                                                                               .rocksdb = resources_,
                                                                               .clock = &clock_});
    EXPECT_TRUE(stores.ok()) << stores.status();
    return stores.ok() ? *std::move(stores) : nullptr;
  }

  static absl::Status Put(GlobalStores& stores, int32_t partition, int64_t offset, std::string_view key,
                          std::optional<std::string_view> value) {
    return stores.Update(RawRecord{.topic = "table-topic",
                                   .partition = Partition(partition),
                                   .offset = Offset(offset),
                                   .key = key,
                                   .value = value,
                                   .timestamp = Timestamp(offset)});
  }

  std::string dir_;
  std::shared_ptr<RocksDbResources> resources_ = RocksDbResources::Create(8 << 20, 4 << 20);
  ManualClock clock_;
};

TEST_F(GlobalStoresTest, ACheckpointedStoreReopensWhereItStopped) {
  auto stores = Open();
  ASSERT_NE(stores, nullptr);
  EXPECT_EQ(stores->Topics(), std::vector<std::string>{"table-topic"});
  ASSERT_TRUE(Put(*stores, 0, 0, "a", "1").ok());
  ASSERT_TRUE(Put(*stores, 1, 0, "b", "2").ok());
  ASSERT_TRUE(Put(*stores, 0, 1, "a", std::nullopt).ok());
  ASSERT_TRUE(stores->Checkpoint({{{"table-topic", Partition(0)}, Offset(2)}, {{"table-topic", Partition(1)}, Offset(1)}})
                  .ok());
  stores->Close();
  stores.reset();

  stores = Open();
  ASSERT_NE(stores, nullptr);
  EXPECT_EQ(stores->checkpointed(), (std::map<TopicPartition, Offset>{{{"table-topic", Partition(0)}, Offset(2)},
                                                                       {{"table-topic", Partition(1)}, Offset(1)}}));
  KeyValueStore* table = stores->ReadOnly("table");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(*table->Get("a"), std::nullopt);
  EXPECT_EQ(*table->Get("b"), "2");
}

TEST_F(GlobalStoresTest, WithoutACheckpointTheFilesAreWipedAndEverythingIsReadAgain) {
  auto stores = Open();
  ASSERT_TRUE(Put(*stores, 0, 0, "a", "1").ok());
  ASSERT_TRUE(stores->Checkpoint({{{"table-topic", Partition(0)}, Offset(1)}}).ok());
  stores->Close();
  stores.reset();
  std::filesystem::remove(dir_ + "/.checkpoint");
  stores = Open();
  EXPECT_TRUE(stores->checkpointed().empty());
  EXPECT_EQ(*stores->ReadOnly("table")->Get("a"), std::nullopt);
}

TEST_F(GlobalStoresTest, AnInMemoryStoreIsNeverCheckpointed) {
  auto stores = Open(StoreSpec::Kind::kInMemory);
  ASSERT_TRUE(Put(*stores, 0, 0, "a", "1").ok());
  ASSERT_TRUE(stores->Checkpoint({{{"table-topic", Partition(0)}, Offset(1)}}).ok());
  stores->Close();
  stores.reset();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/.checkpoint"));
  stores = Open(StoreSpec::Kind::kInMemory);
  EXPECT_TRUE(stores->checkpointed().empty());
}

TEST_F(GlobalStoresTest, TasksGetAReadOnlyHandleThatNamesTheTopic) {
  auto stores = Open();
  EXPECT_EQ(stores->ReadOnly("nope"), nullptr);
  absl::Status s = stores->ReadOnly("table")->Put("a", "1");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("global store 'table' is read-only"));
  EXPECT_THAT(s.message(), HasSubstr("topic 'table-topic'"));
  EXPECT_TRUE(absl::IsInvalidArgument(stores->Update(RawRecord{.topic = "orders"})));
}

// Readers on another thread while the updater writes (run under the
// sanitizers: the in-memory store's mutex and RocksDB's own locking).
class GlobalStoresConcurrencyTest : public GlobalStoresTest,
                                    public ::testing::WithParamInterface<StoreSpec::Kind> {};

TEST_P(GlobalStoresConcurrencyTest, ReadersSeeOnlyWholeValuesWhileTheUpdaterWrites) {
  auto stores = Open(GetParam());
  ASSERT_NE(stores, nullptr);
  KeyValueStore* table = stores->ReadOnly("table");
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  std::atomic<bool> reader_stopped{false};
  std::thread reader([&] {
    // A failed assertion returns from the loop: the writer must not wait.
    absl::Cleanup stopped = [&] { reader_stopped.store(true); };
    while (!done.load()) {
      auto v = table->Get("k");
      ASSERT_TRUE(v.ok()) << v.status();
      if (v->has_value()) {
        ASSERT_EQ((*v)->size(), 8u) << **v;
      }
      auto all = table->All();
      ASSERT_TRUE(all.ok()) << all.status();
      ASSERT_TRUE(Collect(**all).ok());
      ++reads;
    }
  });
  // Writes go on until the reader has overlapped them a while, however the
  // threads are scheduled.
  int i = 0;
  for (; i < 2000 || (reads.load() < 100 && !reader_stopped.load()); ++i) {
    ASSERT_TRUE(Put(*stores, 0, i, "k", absl::StrFormat("%08d", i)).ok());
    ASSERT_TRUE(Put(*stores, 0, i, absl::StrCat("x", i % 50), "v").ok());
  }
  done.store(true);
  reader.join();
  EXPECT_EQ(*table->Get("k"), absl::StrFormat("%08d", i - 1));
}

INSTANTIATE_TEST_SUITE_P(Kinds, GlobalStoresConcurrencyTest,
                         ::testing::Values(StoreSpec::Kind::kRocksDb, StoreSpec::Kind::kInMemory),
                         [](const ::testing::TestParamInfo<StoreSpec::Kind>& info) {
                           return info.param == StoreSpec::Kind::kRocksDb ? "RocksDb" : "InMemory";
                         });

}  // namespace
}  // namespace runnel
