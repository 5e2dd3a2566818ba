// LocalStores: the registry of this instance's store copies (active and
// standby), their StoreCopyStatus, and the one-store view over all local
// tasks that interactive queries read.

#include "runnel/runtime/local_stores.h"

#include <filesystem>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/state/in_memory_kv_store.h"
#include "runnel/state/rocksdb_kv_store.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

const TaskId kTask0{0, Partition(0)};
const TaskId kTask1{0, Partition(1)};
const TaskId kTask2{0, Partition(2)};

std::shared_ptr<InMemoryKeyValueStore> StoreWith(std::vector<std::pair<std::string, std::string>> entries) {
  auto store = std::make_shared<InMemoryKeyValueStore>("counts");
  for (const auto& [k, v] : entries) EXPECT_TRUE(store->Put(k, v).ok());
  return store;
}

std::vector<TaskId> Tasks(const std::vector<LocalStores::Copy>& copies) {
  std::vector<TaskId> out;
  for (const auto& c : copies) out.push_back(c.task);
  return out;
}

TEST(LocalStoresTest, ACopyIsFoundByStoreAndTaskUntilItIsRemoved) {
  LocalStores stores;
  auto copy = StoreWith({{"k", "v"}});
  stores.Add("counts", kTask1, copy);
  auto found = stores.FindCopy("counts", kTask1);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->task, kTask1);
  EXPECT_EQ(found->view, copy);
  EXPECT_EQ(found->status, nullptr);
  EXPECT_FALSE(stores.FindCopy("counts", kTask0).has_value());
  EXPECT_FALSE(stores.FindCopy("other", kTask1).has_value());

  stores.Remove("counts", kTask1);
  EXPECT_FALSE(stores.FindCopy("counts", kTask1).has_value());
  EXPECT_THAT(stores.FindCopies("counts"), IsEmpty());
  // Removing what is not there is harmless.
  stores.Remove("counts", kTask1);
  stores.Remove("never", kTask0);
}

TEST(LocalStoresTest, FindAnswersActiveCopiesAndFindCopiesStandbysToo) {
  LocalStores stores;
  auto standby = std::make_shared<StoreCopyStatus>(/*standby=*/true);
  auto active = std::make_shared<StoreCopyStatus>(/*standby=*/false, /*thread=*/1);
  stores.Add("counts", kTask2, StoreWith({}), active);
  stores.Add("counts", kTask0, StoreWith({}), standby);
  stores.Add("counts", kTask1, StoreWith({}));  // no status: an always-ready active copy
  std::vector<TaskId> found;
  for (const auto& [task, view] : stores.Find("counts")) found.push_back(task);
  EXPECT_THAT(found, ElementsAre(kTask1, kTask2));
  EXPECT_THAT(Tasks(stores.FindCopies("counts")), ElementsAre(kTask0, kTask1, kTask2));
  EXPECT_EQ(stores.FindCopy("counts", kTask2)->status->thread(), 1);
  EXPECT_TRUE(stores.FindCopy("counts", kTask0)->status->standby());
}

TEST(LocalStoresTest, AddingACopyForATaskAgainReplacesIt) {
  LocalStores stores;
  stores.Add("counts", kTask0, StoreWith({{"k", "old"}}));
  auto fresh = StoreWith({{"k", "new"}});
  stores.Add("counts", kTask0, fresh);
  ASSERT_EQ(stores.FindCopies("counts").size(), 1u);
  EXPECT_EQ(stores.FindCopy("counts", kTask0)->view, fresh);
}

TEST(StoreCopyStatusTest, LagIsTheRecordsBehindTheChangelogsEnd) {
  StoreCopyStatus unknown(/*standby=*/true);
  EXPECT_EQ(unknown.Lag(), -1) << "neither position nor end known";

  // A standby opened from a checkpoint knows its position before its first
  // fetch tells the end: its lag is unknown, not 0 (it answered max_lag=0
  // queries with the checkpoint's stale state).
  StoreCopyStatus from_checkpoint(/*standby=*/true);
  from_checkpoint.SetChangelogPosition(Offset(40));
  EXPECT_EQ(from_checkpoint.Lag(), -1) << "position known, end not yet";
  from_checkpoint.SetChangelogEnd(Offset(40));
  EXPECT_EQ(from_checkpoint.Lag(), 0) << "caught up once the end is known";

  StoreCopyStatus standby(/*standby=*/true);
  standby.SetChangelogEnd(Offset(100));
  EXPECT_EQ(standby.Lag(), 100) << "nothing applied yet";
  standby.SetChangelogPosition(Offset(70));
  EXPECT_EQ(standby.Lag(), 30);
  standby.SetChangelogPosition(Offset(120));  // the end seen is older than the position
  EXPECT_EQ(standby.Lag(), 0);
  standby.set_ready(true);
  standby.SetChangelogPosition(Offset(90));
  EXPECT_EQ(standby.Lag(), 10) << "a standby is judged by its lag, ready or not";

  StoreCopyStatus restoring(/*standby=*/false, 0);
  restoring.SetChangelogEnd(Offset(50));
  restoring.SetChangelogPosition(Offset(20));
  EXPECT_EQ(restoring.Lag(), 30);
  restoring.set_ready(true);
  EXPECT_EQ(restoring.Lag(), 0) << "a ready active copy is current";
}

TEST(StoreCopyStatusTest, PositionsListTheChangelogFirstThenTheInputs) {
  StoreCopyStatus status(/*standby=*/false, 0);
  const TopicPartition input_b{"b", Partition(1)}, input_a{"a", Partition(1)};
  status.SetInputPositions({{input_b, Offset(7)}, {input_a, Offset(3)}});
  EXPECT_THAT(status.Positions(), ElementsAre(Pair(input_a, Offset(3)), Pair(input_b, Offset(7))))
      << "no changelog position before the first restore or commit";
  const TopicPartition changelog{"app-counts-changelog", Partition(1)};
  status.SetChangelog(changelog);
  status.SetChangelogPosition(Offset(12));
  status.SetInputPositions({{input_a, Offset(4)}});
  EXPECT_THAT(status.Positions(), ElementsAre(Pair(changelog, Offset(12)), Pair(input_a, Offset(4)),
                                              Pair(input_b, Offset(7))));
}

TEST(LocalStoreViewTest, ReadsEveryLocalActiveCopyAsOneStore) {
  auto stores = std::make_shared<LocalStores>();
  stores->Add("counts", kTask0, StoreWith({{"a", "1"}, {"c", "3"}}));
  stores->Add("counts", kTask1, StoreWith({{"b", "2"}, {"d", "4"}}));
  auto standby = std::make_shared<StoreCopyStatus>(/*standby=*/true);
  stores->Add("counts", kTask2, StoreWith({{"s", "standby"}}), standby);
  auto view = MakeLocalStoreView("counts", stores);
  EXPECT_EQ(view->name(), "counts");

  EXPECT_EQ(**view->Get("a"), "1");
  EXPECT_EQ(**view->Get("d"), "4");
  EXPECT_EQ(*view->Get("zz"), std::nullopt);
  EXPECT_EQ(*view->Get("s"), std::nullopt) << "standbys are not read";

  auto all = view->All();
  ASSERT_TRUE(all.ok());
  auto entries = Collect(**all);
  ASSERT_TRUE(entries.ok());
  EXPECT_THAT(*entries, ElementsAre(KeyValueEntry{"a", "1"}, KeyValueEntry{"b", "2"}, KeyValueEntry{"c", "3"},
                                    KeyValueEntry{"d", "4"}));
  auto range = view->Range("b", "c");
  ASSERT_TRUE(range.ok());
  entries = Collect(**range);
  ASSERT_TRUE(entries.ok());
  EXPECT_THAT(*entries, ElementsAre(KeyValueEntry{"b", "2"}, KeyValueEntry{"c", "3"}));
  EXPECT_EQ(*view->ApproximateNumEntries(), 4);
}

TEST(LocalStoreViewTest, FollowsTasksAsTheyComeAndGo) {
  auto stores = std::make_shared<LocalStores>();
  auto view = MakeLocalStoreView("counts", stores);
  EXPECT_EQ(view->Get("a").status().code(), absl::StatusCode::kNotFound) << "no local task yet";
  EXPECT_EQ(view->All().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(view->ApproximateNumEntries().status().code(), absl::StatusCode::kNotFound);

  stores->Add("counts", kTask0, StoreWith({{"a", "1"}}));
  EXPECT_EQ(**view->Get("a"), "1");
  // A rebalance moves task 0 away and brings task 1.
  stores->Remove("counts", kTask0);
  stores->Add("counts", kTask1, StoreWith({{"b", "2"}}));
  EXPECT_EQ(*view->Get("a"), std::nullopt);
  EXPECT_EQ(**view->Get("b"), "2");
}

TEST(LocalStoreViewTest, AStoreClosedUnderTheViewAnswersFailedPrecondition) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          absl::StrCat("runnel-local-stores-", getpid(), "-",
                                       ::testing::UnitTest::GetInstance()->random_seed());
  std::filesystem::remove_all(dir);
  auto opened = RocksDbKeyValueStore::Open("counts", dir, RocksDbResources::Create(8 << 20, 4 << 20));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<RocksDbKeyValueStore> rocks = *std::move(opened);
  ASSERT_TRUE(rocks->Put("a", "1").ok());
  auto stores = std::make_shared<LocalStores>();
  stores->Add("counts", kTask0, rocks);
  auto view = MakeLocalStoreView("counts", stores);
  EXPECT_EQ(**view->Get("a"), "1");
  // The task closes its store before it removes it from the registry.
  ASSERT_TRUE(rocks->Close().ok());
  EXPECT_EQ(view->Get("a").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(view->All().status().code(), absl::StatusCode::kFailedPrecondition);
  stores->Remove("counts", kTask0);
  rocks.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace runnel
