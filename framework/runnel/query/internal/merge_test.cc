#include "runnel/query/internal/merge.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runnel/query/internal/fan_out.h"
#include "runnel/state/in_memory_kv_store.h"

namespace runnel::query::internal {
namespace {

struct Id {
  std::string operator()(const std::string& s) const { return s; }
};

// Sorted strings; counts what the merge pulled from it.
class CountingSource final : public SortedSource<std::string> {
 public:
  CountingSource(std::vector<std::string> keys, size_t* pulled, absl::Status end = absl::OkStatus())
      : keys_(std::move(keys)), pulled_(pulled), end_(std::move(end)) {}
  absl::StatusOr<bool> Next(std::string* out) override {
    if (next_ >= keys_.size()) {
      if (!end_.ok()) return end_;
      return false;
    }
    ++*pulled_;
    *out = keys_[next_++];
    return true;
  }

 private:
  std::vector<std::string> keys_;
  size_t* pulled_;
  absl::Status end_;
  size_t next_ = 0;
};

std::vector<std::string> Drain(SortedSource<std::string>& source) {
  std::vector<std::string> out;
  std::string s;
  while (true) {
    auto more = source.Next(&s);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) return out;
    out.push_back(s);
  }
}

using Sources = std::vector<std::unique_ptr<SortedSource<std::string>>>;

TEST(KWayMergeTest, InterleavedSourcesComeOutInKeyOrder) {
  size_t pulled = 0;
  Sources sources;
  sources.push_back(std::make_unique<CountingSource>(std::vector<std::string>{"a", "d", "g"}, &pulled));
  sources.push_back(std::make_unique<CountingSource>(std::vector<std::string>{"b", "e"}, &pulled));
  sources.push_back(std::make_unique<CountingSource>(std::vector<std::string>{}, &pulled));
  sources.push_back(std::make_unique<CountingSource>(std::vector<std::string>{"c", "f", "h", "i"}, &pulled));
  KWayMerge<std::string, Id> merge(std::move(sources), 100);
  EXPECT_EQ(Drain(merge), (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i"}));
}

TEST(KWayMergeTest, TheLimitCutsTheMergeAndLittleMoreIsRead) {
  size_t pulled = 0;
  std::vector<std::vector<std::string>> lists(3);
  for (int i = 0; i < 3000; ++i) lists[static_cast<size_t>(i % 3)].push_back(absl::StrCat("k", 10000 + i));
  Sources sources;
  for (auto& list : lists) sources.push_back(std::make_unique<CountingSource>(list, &pulled));
  KWayMerge<std::string, Id> merge(std::move(sources), 10);
  auto got = Drain(merge);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.front(), "k10000");
  EXPECT_EQ(got.back(), "k10009");
  // One entry ahead per source, not the sources' 3000.
  EXPECT_LE(pulled, 10u + 3u);
}

TEST(KWayMergeTest, AKeyFromTwoCopiesComesOnceFromTheFirstSource) {
  struct First {
    std::string operator()(const std::pair<std::string, int>& e) const { return e.first; }
  };
  std::vector<std::unique_ptr<SortedSource<std::pair<std::string, int>>>> sources;
  sources.push_back(std::make_unique<ListSource<std::pair<std::string, int>>>(
      std::vector<std::pair<std::string, int>>{{"a", 0}, {"b", 0}}));
  sources.push_back(std::make_unique<ListSource<std::pair<std::string, int>>>(
      std::vector<std::pair<std::string, int>>{{"b", 1}, {"c", 1}}));
  KWayMerge<std::pair<std::string, int>, First> merge(std::move(sources), 100);
  std::vector<std::pair<std::string, int>> got;
  std::pair<std::string, int> e;
  while (*merge.Next(&e)) got.push_back(e);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int>>{{"a", 0}, {"b", 0}, {"c", 1}}));
}

TEST(KWayMergeTest, ASourcesErrorEndsTheMerge) {
  size_t pulled = 0;
  Sources sources;
  sources.push_back(std::make_unique<CountingSource>(std::vector<std::string>{"a", "b", "c"}, &pulled));
  sources.push_back(
      std::make_unique<CountingSource>(std::vector<std::string>{"a1"}, &pulled, absl::UnavailableError("gone")));
  KWayMerge<std::string, Id> merge(std::move(sources), 100);
  std::string s;
  EXPECT_TRUE(*merge.Next(&s));
  EXPECT_EQ(s, "a");
  auto next = merge.Next(&s);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kUnavailable);
}

TEST(IteratorSourceTest, ReadsFromToInclusiveUpToTheLimit) {
  auto store = std::make_shared<InMemoryKeyValueStore>("counts");
  for (const char* k : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(store->Put(k, std::string("v") + k).ok());
  auto render = [](std::string_view key, std::string_view value, v1::KeyValue* out) {
    out->mutable_key()->set_raw(std::string(key));
    out->mutable_value()->set_raw(std::string(value));
  };
  auto keys = [](IteratorSource& source) {
    std::vector<std::string> out;
    v1::KeyValue kv;
    while (true) {
      auto more = source.Next(&kv);
      EXPECT_TRUE(more.ok()) << more.status();
      if (!more.ok() || !*more) return out;
      out.push_back(kv.key().raw());
    }
  };
  IteratorSource bounded(store, "b", "d", 100, render);
  EXPECT_EQ(keys(bounded), (std::vector<std::string>{"b", "c", "d"}));
  IteratorSource from(store, "c", std::nullopt, 2, render);
  EXPECT_EQ(keys(from), (std::vector<std::string>{"c", "d"}));
  IteratorSource all(store, std::nullopt, std::nullopt, 100, render);
  EXPECT_EQ(keys(all).size(), 5u);
}

TEST(IteratorSourceTest, ReadsInChunksReseekingAfterTheLastKeyAndSeesWritesBetweenThem) {
  auto store = std::make_shared<InMemoryKeyValueStore>("counts");
  for (const char* k : {"a", "b", "b\x01", "c", "d", "e"}) ASSERT_TRUE(store->Put(k, "v").ok());
  IteratorSource source(
      store, std::nullopt, "d", 100,
      [](std::string_view key, std::string_view, v1::KeyValue* out) { out->mutable_key()->set_raw(std::string(key)); },
      /*chunk=*/2);
  std::vector<std::string> got;
  v1::KeyValue kv;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(*source.Next(&kv));
    got.push_back(kv.key().raw());
  }
  // Between chunks: no iterator is open, and the next chunk starts after "b".
  ASSERT_TRUE(store->Put(std::string("b\0", 2), "v").ok());
  ASSERT_TRUE(store->Delete("c").ok());
  while (*source.Next(&kv)) got.push_back(kv.key().raw());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", std::string("b\0", 2), "b\x01", "d"}));
}

}  // namespace
}  // namespace runnel::query::internal
