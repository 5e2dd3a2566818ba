#include "runnel/state/record_cache.h"

#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/state/in_memory_kv_store.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;

struct Forwarded {
  std::string key;
  std::optional<std::string> value;
  std::optional<std::string> old;
  bool operator==(const Forwarded&) const = default;
};

std::optional<std::string> Own(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

class RecordCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<CachingKeyValueStore> Make(RecordCacheBudget* budget, bool old_values = false) {
    auto inner = std::make_unique<InMemoryKeyValueStore>("s");
    below_ = inner.get();
    auto store = std::make_unique<CachingKeyValueStore>(std::move(inner), budget, [this] { return now_; });
    store->SetFlushListener(
        [this](std::string_view k, std::optional<std::string_view> v, std::optional<std::string_view> old,
               Timestamp ts) {
          forwarded_.push_back({std::string(k), Own(v), Own(old)});
          timestamps_.push_back(ts.value());
          return absl::OkStatus();
        },
        old_values);
    return store;
  }
  InMemoryKeyValueStore* below_ = nullptr;
  std::vector<Forwarded> forwarded_;
  std::vector<int64_t> timestamps_;
  Timestamp now_{0};
};

TEST_F(RecordCacheTest, RepeatedUpdatesMergeUntilFlush) {
  RecordCacheBudget budget(1 << 20);
  auto store = Make(&budget);
  for (int i = 1; i <= 100; ++i) {
    now_ = Timestamp(1000 + i);
    ASSERT_TRUE(store->Put("hot", std::to_string(i)).ok());
  }
  now_ = Timestamp(5);
  ASSERT_TRUE(store->Put("cold", "x").ok());
  EXPECT_EQ(*store->Get("hot"), "100");         // reads see the cache
  EXPECT_EQ(*below_->Get("hot"), std::nullopt);  // nothing went down yet
  EXPECT_TRUE(forwarded_.empty());
  ASSERT_TRUE(store->Flush().ok());
  // One record per key, in first-dirtied order, with the last value.
  EXPECT_THAT(forwarded_, ElementsAre(Forwarded{"hot", "100", std::nullopt}, Forwarded{"cold", "x", std::nullopt}));
  EXPECT_THAT(timestamps_, ElementsAre(1100, 5));  // of the last write to each key
  EXPECT_EQ(*below_->Get("hot"), "100");
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(forwarded_.size(), 2u);  // a clean cache forwards nothing
}

TEST_F(RecordCacheTest, ZeroBudgetForwardsEveryUpdate) {
  RecordCacheBudget budget(0);
  auto store = Make(&budget);
  ASSERT_TRUE(store->Put("k", "1").ok());
  ASSERT_TRUE(store->Put("k", "2").ok());
  ASSERT_TRUE(store->Delete("k").ok());
  EXPECT_THAT(forwarded_, ElementsAre(Forwarded{"k", "1", std::nullopt}, Forwarded{"k", "2", std::nullopt},
                                      Forwarded{"k", std::nullopt, std::nullopt}));
  EXPECT_EQ(budget.used_bytes(), 0);
}

TEST_F(RecordCacheTest, ExceedingTheSharedBudgetEvictsAndStaysBounded) {
  RecordCacheBudget budget(10'000);
  auto a = Make(&budget);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(a->Put("key-" + std::to_string(i), std::string(20, 'v')).ok());
    ASSERT_LE(budget.used_bytes(), budget.max_bytes());
  }
  ASSERT_TRUE(a->Flush().ok());
  EXPECT_EQ(forwarded_.size(), 1000u);  // every key went down exactly once
  auto all = a->All();
  EXPECT_EQ(Collect(**all)->size(), 1000u);
  a.reset();
  EXPECT_EQ(budget.used_bytes(), 0);  // a dropped store returns its bytes
}

// Counting through a cache far smaller than the key space (constant
// eviction) must give exactly what a plain map gives.
TEST_F(RecordCacheTest, ReadModifyWriteUnderConstantEvictionMatchesAMap) {
  RecordCacheBudget budget(20'000);
  auto store = Make(&budget);
  std::map<std::string, int64_t> oracle;
  std::mt19937 rng(3);
  for (int i = 0; i < 200'000; ++i) {
    std::string key = "key-" + std::to_string(rng() % 20'000);
    auto current = store->Get(key);
    ASSERT_TRUE(current.ok());
    int64_t n = current->has_value() ? std::stoll(**current) : 0;
    ASSERT_TRUE(store->Put(key, std::to_string(n + 1)).ok());
    ++oracle[key];
    ASSERT_LE(budget.used_bytes(), budget.max_bytes());
  }
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_GT(forwarded_.size(), oracle.size());  // evictions happened along the way
  for (const auto& [key, n] : oracle) ASSERT_EQ(**below_->Get(key), std::to_string(n)) << key;
  std::map<std::string, int64_t> last;
  for (const auto& f : forwarded_) last[f.key] = std::stoll(*f.value);
  EXPECT_EQ(last, oracle);
}

TEST_F(RecordCacheTest, OldValuesComeFromTheStoreBelow) {
  RecordCacheBudget budget(1 << 20);
  auto store = Make(&budget, /*old_values=*/true);
  ASSERT_TRUE(store->Put("k", "1").ok());
  ASSERT_TRUE(store->Flush().ok());
  ASSERT_TRUE(store->Put("k", "2").ok());
  ASSERT_TRUE(store->Put("k", "3").ok());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_THAT(forwarded_, ElementsAre(Forwarded{"k", "1", std::nullopt}, Forwarded{"k", "3", "1"}));
}

TEST_F(RecordCacheTest, RangesMergeDirtyEntriesOverTheStoreBelow) {
  RecordCacheBudget budget(1 << 20);
  auto store = Make(&budget);
  ASSERT_TRUE(below_->Put("a", "old").ok());
  ASSERT_TRUE(below_->Put("b", "old").ok());
  ASSERT_TRUE(below_->Put("d", "old").ok());
  ASSERT_TRUE(store->Put("a", "new").ok());
  ASSERT_TRUE(store->Delete("b").ok());
  ASSERT_TRUE(store->Put("c", "new").ok());
  ASSERT_TRUE(store->Put("z", "out of range").ok());
  auto range = store->Range("a", "d");
  ASSERT_TRUE(range.ok());
  EXPECT_THAT(*Collect(**range), ElementsAre(KeyValueEntry{"a", "new"}, KeyValueEntry{"c", "new"},
                                             KeyValueEntry{"d", "old"}));
  EXPECT_EQ(*store->Get("b"), std::nullopt);
}

}  // namespace
}  // namespace runnel
