#include "runnel/state/window_store.h"

#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runnel/state/in_memory_kv_store.h"
#include "runnel/state/record_cache.h"

namespace runnel {
namespace {

Timestamp T(int64_t ms) { return Timestamp(ms); }

std::vector<std::string> StartsOf(const std::vector<WindowEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.key + "@" + std::to_string(e.start.value()) + "=" + e.value);
  return out;
}

int64_t EntriesBelow(KeyValueStore& kv) {
  auto all = kv.All();
  EXPECT_TRUE(all.ok());
  int64_t n = 0;
  for (; (*all)->Valid(); (*all)->Next()) {
    if (!SegmentedStore::IsMetaKey((*all)->key())) ++n;
  }
  return n;
}

TEST(WindowStoreTest, FetchesAKeysWindowsInTimeOrderAcrossSegments) {
  InMemoryKeyValueStore kv("w");
  WindowStore store(&kv, {.retention_ms = 10'000, .segment_interval_ms = 1'000});
  ASSERT_TRUE(store.Init().ok());
  // Out of order, over several segments; "a\x01" shares "a"'s prefix.
  ASSERT_TRUE(store.Put("a", T(2500), "3").ok());
  ASSERT_TRUE(store.Put("a", T(500), "1").ok());
  ASSERT_TRUE(store.Put(std::string("a\x01", 2), T(1000), "x").ok());
  ASSERT_TRUE(store.Put("a", T(1000), "2").ok());
  ASSERT_TRUE(store.Put("b", T(1000), "b").ok());
  auto a = store.Fetch("a", T(0), T(3000));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(StartsOf(*a), (std::vector<std::string>{"a@500=1", "a@1000=2", "a@2500=3"}));
  EXPECT_EQ(StartsOf(*store.Fetch("a", T(600), T(2500))), (std::vector<std::string>{"a@1000=2", "a@2500=3"}));
  EXPECT_EQ(*store.Fetch("a", T(1000)), std::optional<std::string>("2"));
  EXPECT_EQ(*store.Fetch("a", T(1001)), std::nullopt);
  // By start, then key, for every key.
  EXPECT_EQ(StartsOf(*store.FetchAll(T(1000), T(1000))),
            (std::vector<std::string>{"a@1000=2", std::string("a\x01@1000=x", 9), "b@1000=b"}));
  EXPECT_EQ(StartsOf(*store.FetchRange(std::string_view("a\x01", 2), std::string_view("b"), T(0), T(5000))),
            (std::vector<std::string>{std::string("a\x01@1000=x", 9), "b@1000=b"}));
  // A null value deletes.
  ASSERT_TRUE(store.Put("a", T(1000), std::nullopt).ok());
  EXPECT_EQ(StartsOf(*store.Fetch("a", T(0), T(3000))), (std::vector<std::string>{"a@500=1", "a@2500=3"}));
}

TEST(WindowStoreTest, RetentionDropsWholeSegmentsAndIgnoresExpiredPuts) {
  InMemoryKeyValueStore kv("w");
  WindowStore store(&kv, {.retention_ms = 2'000, .segment_interval_ms = 1'000});
  ASSERT_TRUE(store.Init().ok());
  for (int64_t t = 0; t < 3000; t += 100) ASSERT_TRUE(store.Put("k", T(t), "v").ok());
  EXPECT_EQ(EntriesBelow(kv), 30);
  // Stream time 3999: starts <= 1999 are expired; segments 0 and 1 hold
  // only such starts and go; segment 2 (2000..2999) stays.
  ASSERT_TRUE(store.AdvanceStreamTime(T(3999)).ok());
  EXPECT_EQ(EntriesBelow(kv), 10);
  EXPECT_TRUE(store.Fetch("k", T(0), T(1999))->empty());
  ASSERT_TRUE(store.Put("k", T(1999), "late").ok());
  EXPECT_EQ(*store.Fetch("k", T(1999)), std::nullopt);
  EXPECT_EQ(store.Fetch("k", T(0), T(5000))->size(), 10u);
  // Stream time never goes back.
  ASSERT_TRUE(store.AdvanceStreamTime(T(10)).ok());
  EXPECT_EQ(store.stream_time(), T(3999));
}

TEST(WindowStoreTest, StreamTimeSurvivesARestartWithinTheGranularity) {
  InMemoryKeyValueStore kv("w");
  {
    WindowStore store(&kv, {.retention_ms = 60'000});
    ASSERT_TRUE(store.Init().ok());
    ASSERT_TRUE(store.AdvanceStreamTime(T(100'000)).ok());
    ASSERT_TRUE(store.AdvanceStreamTime(T(100'500)).ok());  // within the granularity: not persisted
    ASSERT_TRUE(store.PutMeta("emitted", 42).ok());
  }
  WindowStore store(&kv, {.retention_ms = 60'000});
  ASSERT_TRUE(store.Init().ok());
  EXPECT_EQ(store.stream_time(), T(100'000));
  EXPECT_EQ(*store.GetMeta("emitted"), std::optional<int64_t>(42));
  EXPECT_EQ(*store.GetMeta("never"), std::nullopt);
  // Meta entries are not windows.
  EXPECT_TRUE(store.FetchAll(T(0), T(1'000'000))->empty());
}

TEST(WindowStoreTest, AReadOnlyViewReadsStreamTimeAndWindowsButNeverWritesOrDrops) {
  InMemoryKeyValueStore kv("w");
  WindowStore writer(&kv, {.retention_ms = 60'000});
  ASSERT_TRUE(writer.Init().ok());
  ASSERT_TRUE(writer.Put("k", T(1'000), "a").ok());
  ASSERT_TRUE(writer.Put("k", T(200'000), "b").ok());  // stream time 200 s: [1 s] is expired, not yet dropped
  const int64_t entries = EntriesBelow(kv);
  const ReadOnlyKeyValueStore& reader_kv = kv;
  WindowStore reader(&reader_kv, {.retention_ms = 60'000});
  ASSERT_TRUE(reader.Init().ok());
  EXPECT_TRUE(reader.read_only());
  EXPECT_EQ(reader.stream_time(), T(200'000));
  EXPECT_EQ(EntriesBelow(kv), entries);  // Init dropped nothing
  EXPECT_EQ(StartsOf(*reader.Fetch("k", T(100'000), T(300'000))), (std::vector<std::string>{"k@200000=b"}));
  EXPECT_TRUE(absl::IsFailedPrecondition(reader.Put("k", T(250'000), "c")));
  EXPECT_TRUE(absl::IsFailedPrecondition(reader.PutMeta("x", 1)));
  EXPECT_EQ(StartsOf(*writer.Fetch("k", T(0), T(300'000))).size(), 1u);
}

// Found by tests/fuzz/window_store: a read-only view (interactive queries)
// visited every segment from the asked start, expired or not, so a query
// from time 0 over a store whose stream time is far from 0 looped for ages;
// a persisted stream time near the end of time overflowed, and a negative
// one (never written) was trusted.
TEST(WindowStoreTest, AReadOnlyViewSkipsExpiredSegmentsAndRefusesADamagedStreamTime) {
  constexpr int64_t kEndOfTime = std::numeric_limits<int64_t>::max();
  InMemoryKeyValueStore kv("w");
  WindowStore writer(&kv, {.retention_ms = 60'000});
  ASSERT_TRUE(writer.Init().ok());
  ASSERT_TRUE(writer.Put("k", T(kEndOfTime - 10), "late").ok());
  const ReadOnlyKeyValueStore& reader_kv = kv;
  WindowStore reader(&reader_kv, {.retention_ms = 60'000});
  ASSERT_TRUE(reader.Init().ok());
  auto all = reader.Fetch("k", T(0), T(kEndOfTime));  // returns at once
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(StartsOf(*all), (std::vector<std::string>{"k@" + std::to_string(kEndOfTime - 10) + "=late"}));
  SessionStore sessions(&reader_kv, {.retention_ms = 60'000});
  ASSERT_TRUE(sessions.Init().ok());
  EXPECT_TRUE(sessions.FindSessions("k", T(0), T(kEndOfTime)).ok());

  InMemoryKeyValueStore damaged("d");
  WindowStore damaged_writer(&damaged, {.retention_ms = 60'000});
  ASSERT_TRUE(damaged_writer.PutMeta("stream-time", -5).ok());
  WindowStore damaged_reader(&damaged, {.retention_ms = 60'000});
  EXPECT_TRUE(absl::IsDataLoss(damaged_reader.Init()));
}

TEST(WindowStoreTest, DuplicatesAreKeptInInsertionOrder) {
  InMemoryKeyValueStore kv("w");
  WindowStore store(&kv, {.retention_ms = 10'000}, /*retain_duplicates=*/true);
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Put("k", T(5), "first").ok());
  ASSERT_TRUE(store.Put("k", T(5), "second").ok());
  ASSERT_TRUE(store.Put("k", T(3), "earlier").ok());
  EXPECT_EQ(StartsOf(*store.Fetch("k", T(0), T(10))),
            (std::vector<std::string>{"k@3=earlier", "k@5=first", "k@5=second"}));
}

TEST(WindowStoreTest, NegativeTimesAreRefused) {
  InMemoryKeyValueStore kv("w");
  WindowStore store(&kv, {.retention_ms = 10'000});
  EXPECT_EQ(store.Put("k", T(-1), "v").code(), absl::StatusCode::kInvalidArgument);
}

// Through the record cache: a segment drop sends the dirty windows down (and
// to the listener) first, then removes them from the cache too.
TEST(WindowStoreTest, DropThroughTheCacheForwardsDirtyWindowsFirst) {
  auto inner = std::make_shared<InMemoryKeyValueStore>("w");
  RecordCacheBudget budget(1 << 20);
  CachingKeyValueStore cache(inner, &budget, [] { return Timestamp(0); });
  std::vector<std::string> forwarded;
  cache.SetFlushListener(
      [&](std::string_view k, std::optional<std::string_view> v, std::optional<std::string_view>, Timestamp) {
        if (!SegmentedStore::IsMetaKey(k)) forwarded.push_back(std::string(v.value_or("<null>")));
        return absl::OkStatus();
      },
      false);
  WindowStore store(&cache, {.retention_ms = 1'000, .segment_interval_ms = 1'000});
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Put("k", T(100), "old").ok());
  ASSERT_TRUE(store.Put("k", T(1500), "new").ok());
  EXPECT_TRUE(forwarded.empty());
  ASSERT_TRUE(store.AdvanceStreamTime(T(2000)).ok());
  EXPECT_EQ(forwarded, (std::vector<std::string>{"old", "new"}));
  EXPECT_EQ(*cache.Get(store.StoreKey("k", T(100), 0)), std::nullopt);
  EXPECT_EQ(*store.Fetch("k", T(1500)), std::optional<std::string>("new"));
}

TEST(SessionStoreTest, FindsTheSessionsARecordCanMergeWith) {
  InMemoryKeyValueStore kv("s");
  SessionStore store(&kv, {.retention_ms = 100'000, .segment_interval_ms = 1'000});
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Put("k", T(0), T(100), "A").ok());
  ASSERT_TRUE(store.Put("k", T(500), T(2500), "B").ok());
  ASSERT_TRUE(store.Put("k", T(4000), T(4000), "C").ok());
  ASSERT_TRUE(store.Put("j", T(500), T(600), "J").ok());
  auto values = [](const absl::StatusOr<std::vector<SessionEntry>>& s) {
    std::vector<std::string> out;
    for (const auto& e : *s) out.push_back(e.value);
    return out;
  };
  // A record at 2700 with gap 300: sessions ending >= 2400 and starting <= 3000.
  EXPECT_EQ(values(store.FindSessions("k", T(2400), T(3000))), (std::vector<std::string>{"B"}));
  EXPECT_EQ(values(store.FindSessions("k", T(0), T(10'000))), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(values(store.FindSessions("k", T(101), T(3999))), (std::vector<std::string>{"B"}));
  EXPECT_EQ(*store.FetchSession("k", T(500), T(2500)), std::optional<std::string>("B"));
  auto ending = store.FetchAllEndingIn(T(100), T(2500));
  ASSERT_TRUE(ending.ok());
  ASSERT_EQ(ending->size(), 3u);
  EXPECT_EQ((*ending)[0], (SessionEntry{"k", T(0), T(100), "A"}));
  EXPECT_EQ((*ending)[1].key, "j");
  ASSERT_TRUE(store.Put("k", T(500), T(2500), std::nullopt).ok());
  EXPECT_EQ(values(store.FindSessions("k", T(0), T(10'000))), (std::vector<std::string>{"A", "C"}));
  EXPECT_EQ(store.Put("k", T(5), T(4), "bad").code(), absl::StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/window_store: a damaged session entry with a negative
// end passed the bytewise range check (a negative end sorts after every
// positive one) and was returned as a session of the asked range.
TEST(SessionStoreTest, ADamagedSessionEntryIsDataLoss) {
  InMemoryKeyValueStore kv("s");
  SessionStore store(&kv, {.retention_ms = 100'000, .segment_interval_ms = 1'000});
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Put("k", T(0), T(100), "A").ok());
  // Segment 0, key "k", end -5, start 7: what Put never writes.
  std::string damaged(8, '\0');
  damaged += "k";
  for (int64_t v : {int64_t{-5}, int64_t{7}}) {
    for (int shift = 56; shift >= 0; shift -= 8) damaged.push_back(static_cast<char>((static_cast<uint64_t>(v) >> shift) & 0xff));
  }
  ASSERT_TRUE(kv.Put(damaged, "X").ok());
  EXPECT_TRUE(absl::IsDataLoss(store.FindSessions("k", T(0), T(10'000)).status()));
  EXPECT_TRUE(absl::IsDataLoss(store.FindSessions(std::nullopt, std::nullopt, T(0), T(10'000)).status()));
}

TEST(SessionStoreTest, RetentionFollowsTheSessionEnd) {
  InMemoryKeyValueStore kv("s");
  SessionStore store(&kv, {.retention_ms = 1'000, .segment_interval_ms = 500});
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Put("k", T(0), T(400), "early").ok());
  ASSERT_TRUE(store.Put("k", T(0), T(1600), "long").ok());
  ASSERT_TRUE(store.AdvanceStreamTime(T(2000)).ok());
  EXPECT_EQ(store.FindSessions("k", T(0), T(5000))->size(), 1u);
  EXPECT_EQ(EntriesBelow(kv), 1);
}

}  // namespace
}  // namespace runnel
