#include "runnel/state/transactional_store.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;

std::string FreshDir() {
  std::string tmpl = std::filesystem::temp_directory_path() / "runnel-txn-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  return tmpl;
}

std::shared_ptr<RocksDbKeyValueStore> OpenRocks(const std::string& dir) {
  auto s = RocksDbKeyValueStore::Open("s", dir, RocksDbResources::Create(8 << 20, 4 << 20));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::shared_ptr<RocksDbKeyValueStore>(*std::move(s)) : nullptr;
}

std::vector<KeyValueEntry> All(const ReadOnlyKeyValueStore& store) {
  auto it = store.All();
  EXPECT_TRUE(it.ok()) << it.status();
  auto entries = Collect(**it);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return *entries;
}

TEST(TransactionalStoreTest, PendingWritesAreInvisibleBelowUntilCommit) {
  std::string dir = FreshDir();
  auto rocks = OpenRocks(dir + "/s");
  TransactionalKeyValueStore txn(rocks);
  ASSERT_TRUE(rocks->WriteCommitted({{"a", "1"}, {"b", "1"}}, Offset(2)).ok());
  ASSERT_TRUE(txn.Put("a", "2").ok());
  ASSERT_TRUE(txn.Put("b", std::nullopt).ok());
  ASSERT_TRUE(txn.Put("c", "3").ok());
  // The task sees its own writes; the committed view (queries) does not.
  EXPECT_THAT(All(txn), ElementsAre(KeyValueEntry{"a", "2"}, KeyValueEntry{"c", "3"}));
  EXPECT_THAT(All(*rocks), ElementsAre(KeyValueEntry{"a", "1"}, KeyValueEntry{"b", "1"}));
  EXPECT_EQ(*txn.Get("b"), std::nullopt);
  EXPECT_EQ(*rocks->Get("b"), "1");

  ASSERT_TRUE(txn.Commit(Offset(7)).ok());
  EXPECT_EQ(txn.pending(), 0u);
  EXPECT_THAT(All(*rocks), ElementsAre(KeyValueEntry{"a", "2"}, KeyValueEntry{"c", "3"}));
  EXPECT_EQ(**rocks->CommittedChangelogOffset(), Offset(7));
  std::filesystem::remove_all(dir);
}

TEST(TransactionalStoreTest, AbortDropsPendingWritesAndKeepsTheOffset) {
  std::string dir = FreshDir();
  auto rocks = OpenRocks(dir + "/s");
  TransactionalKeyValueStore txn(rocks);
  ASSERT_TRUE(txn.Put("a", "1").ok());
  ASSERT_TRUE(txn.Commit(Offset(1)).ok());
  ASSERT_TRUE(txn.Put("a", "2").ok());
  txn.Abort();
  EXPECT_EQ(*txn.Get("a"), "1");
  EXPECT_EQ(**rocks->CommittedChangelogOffset(), Offset(1));
  std::filesystem::remove_all(dir);
}

TEST(TransactionalStoreTest, RangeMergesPendingOverCommitted) {
  std::string dir = FreshDir();
  auto rocks = OpenRocks(dir + "/s");
  TransactionalKeyValueStore txn(rocks);
  ASSERT_TRUE(rocks->WriteCommitted({{"a", "1"}, {"c", "1"}, {"e", "1"}}, std::nullopt).ok());
  ASSERT_TRUE(txn.PutAll({{"b", "2"}, {"c", std::nullopt}, {"d", "2"}, {"f", "2"}}).ok());
  auto it = txn.Range("b", "e");
  ASSERT_TRUE(it.ok());
  EXPECT_THAT(*Collect(**it), ElementsAre(KeyValueEntry{"b", "2"}, KeyValueEntry{"d", "2"}, KeyValueEntry{"e", "1"}));
  EXPECT_EQ(*rocks->CommittedChangelogOffset(), std::nullopt);
  std::filesystem::remove_all(dir);
}

// A retention drop waits for the commit like a write: hidden from the
// task's reads at once, still in the database until the commit (a crash
// before it must find the range as committed), gone with the commit, and
// back if the transaction aborts.
TEST(TransactionalStoreTest, DropRangeIsPartOfTheTransaction) {
  std::string dir = FreshDir();
  auto rocks = OpenRocks(dir + "/s");
  TransactionalKeyValueStore txn(rocks);
  ASSERT_TRUE(rocks->WriteCommitted({{"a", "1"}, {"b", "1"}, {"c", "1"}}, Offset(3)).ok());
  ASSERT_TRUE(txn.DropRange("a", "c").ok());
  ASSERT_TRUE(txn.Put("b", "2").ok());  // a write after the drop survives it
  EXPECT_EQ(*txn.Get("a"), std::nullopt);
  EXPECT_THAT(*Collect(**txn.All()), ElementsAre(KeyValueEntry{"b", "2"}, KeyValueEntry{"c", "1"}));
  EXPECT_EQ(*rocks->Get("a"), std::optional<std::string>("1"));
  txn.Abort();
  EXPECT_EQ(*txn.Get("a"), std::optional<std::string>("1"));
  ASSERT_TRUE(txn.DropRange("a", "c").ok());
  ASSERT_TRUE(txn.Put("b", "2").ok());
  ASSERT_TRUE(txn.Commit(Offset(4)).ok());
  EXPECT_THAT(*Collect(**rocks->All()), ElementsAre(KeyValueEntry{"b", "2"}, KeyValueEntry{"c", "1"}));
  EXPECT_EQ(**rocks->CommittedChangelogOffset(), Offset(4));
  std::filesystem::remove_all(dir);
}

// kill -9 in the middle of a transaction: the reopened database holds the
// last committed write and its offset, nothing pending, though the process
// never flushed or closed anything.
TEST(TransactionalStoreTest, ACrashKeepsExactlyTheCommittedState) {
  std::string dir = FreshDir();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto opened = RocksDbKeyValueStore::Open("s", dir + "/s", RocksDbResources::Create(8 << 20, 4 << 20));
    if (!opened.ok()) _exit(2);
    TransactionalKeyValueStore txn{std::shared_ptr<RocksDbKeyValueStore>(*std::move(opened))};
    // absl::StrCat, not "k" + std::to_string(i): GCC 12 at -O3 reports a
    // false -Wrestrict inside operator+(const char*, std::string&&) (GCC
    // bug 105329), which breaks a Release build with RUNNEL_WERROR.
    for (int i = 0; i < 1000; ++i) {
      if (!txn.Put(absl::StrCat("k", i), "committed").ok()) _exit(3);
    }
    if (!txn.Commit(Offset(1000)).ok()) _exit(4);
    for (int i = 0; i < 1000; i += 2) {
      if (!txn.Put(absl::StrCat("k", i), "uncommitted").ok()) _exit(5);
    }
    kill(getpid(), SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto rocks = OpenRocks(dir + "/s");
  auto entries = All(*rocks);
  ASSERT_EQ(entries.size(), 1000u);
  for (const auto& e : entries) EXPECT_EQ(e.value, "committed") << e.key;
  EXPECT_EQ(**rocks->CommittedChangelogOffset(), Offset(1000));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace runnel
