// Oracle tests of windowed aggregations through the TopologyTestDriver.

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"
#include "runnel/state/window_store.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;
using WKey = Windowed<std::string>;

// What an output record says, in a form that prints well in failures.
struct Out {
  std::string key;
  int64_t start;
  int64_t end;
  int64_t value;
  int64_t ts;
  auto operator<=>(const Out&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Out& o) {
    return os << o.key << "@[" << o.start << "," << o.end << ")=" << o.value << " ts=" << o.ts;
  }
};

std::unique_ptr<TopologyTestDriver> Driver(StreamsBuilder& builder, std::map<std::string, std::string> config = {}) {
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  if (!topology.ok()) return nullptr;
  auto driver = TopologyTestDriver::Create(*topology, config);
  EXPECT_TRUE(driver.ok()) << driver.status();
  return driver.ok() ? *std::move(driver) : nullptr;
}

std::vector<Out> ReadAll(TestOutputTopic<WKey, int64_t>& topic) {
  std::vector<Out> out;
  auto records = topic.ReadKeyValuesToList();
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok()) return out;
  for (const auto& r : *records) {
    out.push_back({r.key.key, r.key.window.start.value(), r.key.window.end.value(), r.value, r.timestamp.value()});
  }
  return out;
}

// sensor readings -> windowed count -> "counts" (time-windowed keys).
struct CountTopology {
  StreamsBuilder builder;
  TimeWindows windows;
  CountTopology(TimeWindows w, EmitStrategy emit, bool caching = true) : windows(w) {
    auto m = Materialized<std::string, int64_t>::As("counts-store", serdes::String(), serdes::Int64());
    if (!caching) m.WithCachingDisabled();
    builder.Stream("readings", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(w)
        .Emit(emit)
        .Count(m)
        .ToStream()
        .To("counts", Produced(serdes::TimeWindowed(serdes::String(), w.size_ms), serdes::Int64()));
  }
};

// An independent model of tumbling/hopping windows: stream time is the
// highest timestamp so far; a record counts in every window [s, s+size)
// containing it whose end + grace > stream time (after the record).
struct WindowOracle {
  TimeWindows w;
  int64_t stream_time = -1;
  int64_t late = 0;
  std::map<std::pair<int64_t, std::string>, std::pair<int64_t, int64_t>> counts;  // (start,key) -> (n, max ts)

  void Add(const std::string& key, int64_t ts) {
    stream_time = std::max(stream_time, ts);
    for (int64_t s = 0; s <= ts; s += w.advance_ms) {
      if (ts >= s + w.size_ms) continue;
      if (s + w.size_ms + w.grace_ms <= stream_time) {
        ++late;
        continue;
      }
      auto& c = counts[{s, key}];
      c.first += 1;
      c.second = std::max(c.second, ts);
    }
  }
  // Windows closed at the current stream time, by start then key.
  std::vector<Out> Closed() const {
    std::vector<Out> out;
    for (const auto& [sk, c] : counts) {
      if (sk.first + w.size_ms + w.grace_ms <= stream_time) {
        out.push_back({sk.second, sk.first, sk.first + w.size_ms, c.first, c.second});
      }
    }
    return out;
  }
};

TEST(TimeWindowsTest, WindowStartsForHoppingWindowsStartAtZero) {
  auto w = TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(10)).AdvanceBy(absl::Milliseconds(4));
  EXPECT_EQ(w.WindowStartsFor(13), (std::vector<int64_t>{4, 8, 12}));
  EXPECT_EQ(w.WindowStartsFor(2), (std::vector<int64_t>{0}));
  EXPECT_EQ(TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(10)).WindowStartsFor(10), (std::vector<int64_t>{10}));
}

TEST(WindowedAggregationTest, TumblingCountEmitsEveryUpdateAndDropsLateRecords) {
  CountTopology t(TimeWindows::OfSizeAndGrace(absl::Milliseconds(100), absl::Milliseconds(20)),
                  EmitStrategy::OnWindowUpdate(), /*caching=*/false);
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 100), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(10)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(50)).ok());
  ASSERT_TRUE(in.PipeInput("b", "x", Timestamp(110)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(99)).ok());   // out of order, within grace (stream time 110)
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(120)).ok());  // window [0,100) closes: 100 + 20 <= 120
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(30)).ok());   // late: dropped
  ASSERT_TRUE(in.PipeInput("b", "x", Timestamp(120)).ok());  // duplicate timestamp
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"a", 0, 100, 1, 10},
                                            {"a", 0, 100, 2, 50},
                                            {"b", 100, 200, 1, 110},
                                            {"a", 0, 100, 3, 99},
                                            {"a", 100, 200, 1, 120},
                                            {"b", 100, 200, 2, 120}}));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 1);
}

TEST(WindowedAggregationTest, HoppingWindowsCountARecordInEveryWindowThatHoldsIt) {
  CountTopology t(TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(10)).AdvanceBy(absl::Milliseconds(5)),
                  EmitStrategy::OnWindowUpdate(), /*caching=*/false);
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 10), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("k", "x", Timestamp(7)).ok());
  ASSERT_TRUE(in.PipeInput("k", "x", Timestamp(12)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"k", 0, 10, 1, 7},
                                            {"k", 5, 15, 1, 7},
                                            {"k", 5, 15, 2, 12},
                                            {"k", 10, 20, 1, 12}}));
}

TEST(WindowedAggregationTest, CachedUpdatesAreMergedUntilTheCommit) {
  // The driver commits after every input record, so even cached, every
  // record's window update goes down; the cached path must decode the store
  // keys into the same windowed results.
  CountTopology t(TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(100)), EmitStrategy::OnWindowUpdate());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 100), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(1)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(2)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"a", 0, 100, 1, 1}, {"a", 0, 100, 2, 2}}));
}

TEST(WindowedAggregationTest, EmitFinalSendsEachWindowOnceWhenItCloses) {
  CountTopology t(TimeWindows::OfSizeAndGrace(absl::Milliseconds(100), absl::Milliseconds(20)),
                  EmitStrategy::OnWindowClose());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 100), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("b", "x", Timestamp(5)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(10)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(110)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(90)).ok());  // within grace
  EXPECT_TRUE(out.IsEmpty());
  ASSERT_TRUE(in.PipeInput("c", "x", Timestamp(119)).ok());
  EXPECT_TRUE(out.IsEmpty());  // [0,100) closes at 120
  ASSERT_TRUE(in.PipeInput("c", "x", Timestamp(120)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"a", 0, 100, 2, 90}, {"b", 0, 100, 1, 5}}));
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(50)).ok());  // late: the window was emitted
  ASSERT_TRUE(in.PipeInput("z", "x", Timestamp(1000)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"a", 100, 200, 1, 110}, {"c", 100, 200, 2, 120}}));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 1);
}

// The progress markers in the store's changelog: the newest value of meta
// `name` ("emitted-through", "stream-time") among the records captured so
// far, or -1.
int64_t NewestMarker(TopologyTestDriver& driver, std::string_view name) {
  int64_t newest = -1;
  const std::string key = std::string(8, '\xff') + std::string(name);
  for (const TestRecord& r : driver.Output("test-app-counts-store-changelog")) {
    if (r.key != key || !r.value || r.value->size() != 8) continue;
    newest = static_cast<int64_t>(serdes::ReadBigEndian64(r.value->data()));
  }
  return newest;
}

// Under at-least-once a crash loses what was sent but not yet acknowledged.
// Had the commit that sends a closed window also sent the marker saying it
// was emitted (and the stream time that closed it), a restart would restore
// the marker, skip the window and drop the replayed records as late, while
// the window's result was lost with the crash. So the marker goes out only
// at the commit after the one whose output Kafka acknowledged.
TEST(WindowedAggregationTest, EmitFinalMarkersReachTheChangelogOnlyAfterTheOutputIsAcknowledged) {
  CountTopology t(TimeWindows::OfSizeAndGrace(absl::Milliseconds(100), absl::Milliseconds(20)),
                  EmitStrategy::OnWindowClose());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 100), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(10)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(2000)).ok());  // closes [0,100): sent in this commit
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"a", 0, 100, 1, 10}}));
  EXPECT_LT(NewestMarker(*driver, "emitted-through"), 0);
  EXPECT_LT(NewestMarker(*driver, "stream-time"), 2000);
  ASSERT_TRUE(in.PipeInput("b", "x", Timestamp(2001)).ok());  // the next commit, after the acknowledgement
  EXPECT_GE(NewestMarker(*driver, "emitted-through"), 0);
  EXPECT_GE(NewestMarker(*driver, "stream-time"), 2000);
  EXPECT_TRUE(out.IsEmpty());
}

// Random out-of-order input against the model: every closed window is
// emitted exactly once with the model's count, and nothing else.
TEST(WindowedAggregationTest, EmitFinalMatchesTheOracleOnShuffledInput) {
  for (auto w : {TimeWindows::OfSizeAndGrace(absl::Milliseconds(60), absl::Milliseconds(15)),
                 TimeWindows::OfSizeAndGrace(absl::Milliseconds(50), absl::Milliseconds(5)).AdvanceBy(absl::Milliseconds(20))}) {
    CountTopology t(w, EmitStrategy::OnWindowClose());
    auto driver = Driver(t.builder, {{"statestore.cache.max.bytes", "300"}});  // evictions too
    ASSERT_NE(driver, nullptr);
    auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
    auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), w.size_ms), serdes::Int64());
    WindowOracle oracle{w};
    std::mt19937 rng(42);
    std::vector<Out> emitted;
    for (int i = 0; i < 3000; ++i) {
      const std::string key(1, static_cast<char>('a' + rng() % 7));
      // Mostly forward, sometimes up to 30 ms back: some records are late.
      const int64_t ts = std::max<int64_t>(0, i - static_cast<int64_t>(rng() % 4 == 0 ? rng() % 30 : 0));
      oracle.Add(key, ts);
      ASSERT_TRUE(in.PipeInput(key, "v", Timestamp(ts)).ok());
      for (const auto& o : ReadAll(out)) emitted.push_back(o);
    }
    std::set<std::pair<int64_t, std::string>> seen;
    for (const auto& o : emitted) EXPECT_TRUE(seen.insert({o.start, o.key}).second) << "emitted twice: " << o;
    EXPECT_EQ(emitted, oracle.Closed());
    EXPECT_GT(oracle.late, 0);
    EXPECT_GT(emitted.size(), 100u);
  }
}

TEST(WindowedAggregationTest, IdleAdvanceClosesTheLastWindowsOfAQuietInput) {
  CountTopology t(TimeWindows::OfSizeAndGrace(absl::Seconds(60), absl::Seconds(5)),
                  EmitStrategy::OnWindowClose().AdvanceWhenIdle(absl::Seconds(30)));
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 60'000), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("s", "x", Timestamp(10'000)).ok());
  ASSERT_TRUE(driver->AdvanceWallClockTime(absl::Seconds(29)).ok());
  EXPECT_TRUE(out.IsEmpty());  // not idle long enough
  // Idle from 30 s on, stream time follows the wall clock: 10 s + the
  // quiet time. The window closes at end + grace = 65 s, after 55 s of quiet.
  ASSERT_TRUE(driver->AdvanceWallClockTime(absl::Seconds(25)).ok());
  EXPECT_TRUE(out.IsEmpty());
  ASSERT_TRUE(driver->AdvanceWallClockTime(absl::Seconds(2)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"s", 0, 60'000, 1, 10'000}}));
  // The trade-off: a record that was merely delayed is now late.
  ASSERT_TRUE(in.PipeInput("s", "x", Timestamp(20'000)).ok());
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 1);
}

TEST(WindowedAggregationTest, AggregateAndReduceKeepTheirTypes) {
  StreamsBuilder builder;
  auto grouped = builder.Stream("temps", Consumed(serdes::String(), serdes::Int64())).GroupByKey();
  auto w = TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(100));
  grouped.WindowedBy(w)
      .Reduce([](int64_t a, int64_t b) { return std::max(a, b); },
              Materialized<std::string, int64_t>::As("max", serdes::String(), serdes::Int64()).WithCachingDisabled())
      .ToStream()
      .To("max", Produced(serdes::TimeWindowed(serdes::String(), 100), serdes::Int64()));
  grouped.WindowedBy(w)
      .Aggregate<std::string>([] { return std::string("["); },
                              [](const std::string&, int64_t v, std::string agg) { return agg + std::to_string(v); },
                              Materialized<std::string, std::string>::As("concat", serdes::String(), serdes::String())
                                  .WithCachingDisabled())
      .ToStream()
      .To("concat", Produced(serdes::TimeWindowed(serdes::String(), 100), serdes::String()));
  auto driver = Driver(builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("temps", serdes::String(), serdes::Int64());
  for (int64_t v : {3, 9, 4}) ASSERT_TRUE(in.PipeInput("s", v, Timestamp(v)).ok());
  auto max = driver->CreateOutputTopic("max", serdes::TimeWindowed(serdes::String(), 100), serdes::Int64());
  auto concat = driver->CreateOutputTopic("concat", serdes::TimeWindowed(serdes::String(), 100), serdes::String());
  std::vector<int64_t> maxes;
  for (const Out& o : ReadAll(max)) maxes.push_back(o.value);
  EXPECT_EQ(maxes, (std::vector<int64_t>{3, 9, 9}));
  auto concats = concat.ReadKeyValuesToList();
  ASSERT_TRUE(concats.ok());
  std::vector<std::string> values;
  for (size_t i = 0; i < concats->size(); ++i) values.push_back((*concats)[i].value);
  EXPECT_EQ(values, (std::vector<std::string>{"[3", "[39", "[394"}));
}

TEST(WindowedAggregationTest, TheStoreIsAWindowStoreQueryableByKeyAndTime) {
  CountTopology t(TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(100)), EmitStrategy::OnWindowUpdate());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  for (int64_t ts : {1, 2, 150, 250}) ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(ts)).ok());
  KeyValueStore* kv = driver->GetKeyValueStore("counts-store");
  ASSERT_NE(kv, nullptr);
  WindowStore store(kv, {.retention_ms = 100});
  ASSERT_TRUE(store.Init().ok());
  auto windows = store.Fetch("a", Timestamp(0), Timestamp(1000));
  ASSERT_TRUE(windows.ok()) << windows.status();
  // Retention (size + grace = 100 ms) has dropped what stream time 250
  // expired; the live windows hold 8-byte timestamp + count.
  ASSERT_FALSE(windows->empty());
  EXPECT_EQ(windows->back().start, Timestamp(200));
}

TEST(WindowedAggregationTest, InvalidWindowsAndShortRetentionFailTheBuild) {
  {
    StreamsBuilder builder;
    builder.Stream("in", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(10)).AdvanceBy(absl::Milliseconds(20)))
        .Count(Materialized<std::string, int64_t>(serdes::String(), serdes::Int64()));
    auto built = builder.Build();
    ASSERT_FALSE(built.ok());
    EXPECT_THAT(std::string(built.status().message()), HasSubstr("advance must be in (0, size=10]"));
  }
  {
    StreamsBuilder builder;
    builder.Stream("in", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(TimeWindows::OfSizeAndGrace(absl::Seconds(60), absl::Seconds(5)))
        .Count(Materialized<std::string, int64_t>::As("w", serdes::String(), serdes::Int64())
                   .WithRetention(absl::Seconds(30)));
    auto built = builder.Build();
    ASSERT_FALSE(built.ok());
    EXPECT_THAT(std::string(built.status().message()), HasSubstr("store 'w' retention 30000 ms is shorter"));
  }
}

// ---- sliding windows ----

struct SlidingTopology {
  StreamsBuilder builder;
  SlidingTopology(SlidingWindows w, EmitStrategy emit, bool caching) {
    auto m = Materialized<std::string, int64_t>::As("sliding-store", serdes::String(), serdes::Int64());
    if (!caching) m.WithCachingDisabled();
    builder.Stream("readings", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(w)
        .Emit(emit)
        .Count(m)
        .ToStream()
        .To("counts", Produced(serdes::TimeWindowed(serdes::String(), w.time_difference_ms), serdes::Int64()));
  }
};

// The definition of sliding windows, computed from scratch: for every
// record at t, its left window [max(0, t - d), that + d] and, when a record
// lies in [t + 1, t + 1 + d], its right window [t + 1, t + 1 + d]; each
// window counts the records in it (both ends inclusive).
std::vector<Out> SlidingWindowsOf(const std::map<std::string, std::vector<int64_t>>& records, int64_t d) {
  std::vector<Out> out;
  for (const auto& [key, times] : records) {
    std::set<int64_t> starts;
    for (int64_t t : times) {
      starts.insert(std::max<int64_t>(0, t - d));
      for (int64_t u : times) {
        if (u > t && u <= t + 1 + d) starts.insert(t + 1);
      }
    }
    for (int64_t s : starts) {
      int64_t n = 0, max_ts = -1;
      for (int64_t u : times) {
        if (u >= s && u <= s + d) {
          ++n;
          max_ts = std::max(max_ts, u);
        }
      }
      out.push_back({key, s, s + d, n, max_ts});
    }
  }
  return out;
}

// What only one of two sorted result lists holds, for failure messages.
std::string Difference(const std::vector<Out>& got, const std::vector<Out>& want) {
  std::vector<Out> extra, missing;
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::ostringstream os;
  os << "unexpected:";
  for (size_t i = 0; i < std::min<size_t>(extra.size(), 10); ++i) os << " " << extra[i];
  os << "; missing:";
  for (size_t i = 0; i < std::min<size_t>(missing.size(), 10); ++i) os << " " << missing[i];
  return os.str();
}

TEST(SlidingWindowsTest, OutOfOrderRecordUpdatesItsWindowsAndCreatesItsOwn) {
  SlidingTopology t(SlidingWindows::OfTimeDifferenceAndGrace(absl::Milliseconds(10), absl::Milliseconds(100)),
                    EmitStrategy::OnWindowUpdate(), /*caching=*/false);
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), 10), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("k", "x", Timestamp(10)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"k", 0, 10, 1, 10}}));
  // 15: 10's right window [11, 21] appears, and 15's left window [5, 15]
  // holds both.
  ASSERT_TRUE(in.PipeInput("k", "x", Timestamp(15)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"k", 11, 21, 1, 15}, {"k", 5, 15, 2, 15}}));
  // 12, out of order: joins [5, 15] and [11, 21]; its left window [2, 12]
  // holds 10 and 12; its right window [13, 23] holds 15.
  ASSERT_TRUE(in.PipeInput("k", "x", Timestamp(12)).ok());
  EXPECT_EQ(ReadAll(out), (std::vector<Out>{{"k", 5, 15, 3, 15},
                                            {"k", 11, 21, 2, 15},
                                            {"k", 2, 12, 2, 12},
                                            {"k", 13, 23, 1, 15}}));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 0);
}

// Random input (several keys, early records, out of order within grace,
// some records far too late) against the definition: under emit-final every
// closed window comes out once, with its count; under emit-update the last
// result per window is its count.
TEST(SlidingWindowsTest, ResultsMatchTheDefinitionOnShuffledInput) {
  struct Mode {
    EmitStrategy emit;
    bool caching;
    std::map<std::string, std::string> config;
    // Milliseconds per time unit: at 400 the input spans 200 s, so the
    // store drops expired segments (retention 2d + grace = 20 s) on the way.
    int64_t scale;
  };
  for (const Mode& mode : {Mode{EmitStrategy::OnWindowClose(), true, {{"statestore.cache.max.bytes", "400"}}, 1},
                           Mode{EmitStrategy::OnWindowUpdate(), false, {}, 1},
                           Mode{EmitStrategy::OnWindowClose(), false, {}, 400}}) {
    const bool final = mode.emit.kind == EmitStrategy::Kind::kOnWindowClose;
    SCOPED_TRACE(::testing::Message() << (final ? "emit-final" : "emit-update") << " scale " << mode.scale);
    const int64_t d = 20 * mode.scale, grace = 10 * mode.scale;
    const auto w = SlidingWindows::OfTimeDifferenceAndGrace(absl::Milliseconds(d), absl::Milliseconds(grace));
    SlidingTopology t(w, mode.emit, mode.caching);
    auto driver = Driver(t.builder, mode.config);
    ASSERT_NE(driver, nullptr);
    auto in = driver->CreateInputTopic("readings", serdes::String(), serdes::String());
    auto out = driver->CreateOutputTopic("counts", serdes::TimeWindowed(serdes::String(), d), serdes::Int64());
    std::mt19937 rng(7);
    std::map<std::string, std::vector<int64_t>> accepted;
    int64_t stream_time = -1, late = 0;
    std::vector<Out> emitted;
    for (int i = 0; i < 1500; ++i) {
      const std::string key(1, static_cast<char>('a' + rng() % 5));
      const int64_t now = i / 3 * mode.scale;
      // On time (after stream time - grace) or hopelessly late (t + 1 + d <=
      // stream time - grace); never in between, where only some of a
      // record's windows are open and the definition above does not apply.
      int64_t ts = now;
      if (rng() % 4 == 0) ts = std::max<int64_t>(0, std::max(now, stream_time) - static_cast<int64_t>(rng() % grace));
      if (rng() % 50 == 0 && stream_time > grace + d + 5) ts = stream_time - grace - d - 1 - rng() % 5;
      stream_time = std::max(stream_time, ts);
      if (ts + 1 + d <= stream_time - grace) {
        ++late;
      } else {
        ASSERT_GT(ts, stream_time - grace) << "the generator made a partly late record";
        accepted[key].push_back(ts);
      }
      ASSERT_TRUE(in.PipeInput(key, "v", Timestamp(ts)).ok());
      for (const auto& o : ReadAll(out)) emitted.push_back(o);
    }
    ASSERT_GT(late, 0);
    EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), late);
    const std::vector<Out> expected = SlidingWindowsOf(accepted, d);
    ASSERT_GT(expected.size(), 500u);
    if (final) {
      std::vector<Out> closed;
      for (const Out& o : expected) {
        if (o.end + grace <= stream_time) closed.push_back(o);
      }
      std::sort(emitted.begin(), emitted.end());
      EXPECT_EQ(emitted, closed) << Difference(emitted, closed);
    } else {
      std::map<std::pair<std::string, int64_t>, Out> last;
      for (const Out& o : emitted) last[{o.key, o.start}] = o;
      std::vector<Out> latest;
      for (const auto& [k, o] : last) latest.push_back(o);
      EXPECT_EQ(latest, expected) << Difference(latest, expected);
    }
  }
}

TEST(SlidingWindowsTest, AnInvalidSpecOrShortRetentionFailsTheBuild) {
  for (auto [spec, retention, message] :
       {std::tuple{SlidingWindows::OfTimeDifferenceWithNoGrace(absl::ZeroDuration()), absl::Hours(1),
                   "time difference must be > 0 ms"},
        std::tuple{SlidingWindows::OfTimeDifferenceAndGrace(absl::Seconds(10), absl::Seconds(5)), absl::Seconds(20),
                   "retention 20000 ms is shorter than the 2 x time difference + grace (25000 ms)"}}) {
    StreamsBuilder builder;
    builder.Stream("in", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(spec)
        .Count(Materialized<std::string, int64_t>::As("s", serdes::String(), serdes::Int64()).WithRetention(retention));
    auto built = builder.Build();
    ASSERT_FALSE(built.ok());
    EXPECT_THAT(std::string(built.status().message()), HasSubstr(message));
  }
}

// ---- count windows ----

// Concatenates the values of each count window of `w` into "counts" (both
// bounds in the key).
struct CountWindowTopology {
  StreamsBuilder builder;
  CountWindowTopology(CountWindows w, EmitStrategy emit) {
    builder.Stream("events", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(w)
        .Emit(emit)
        .Aggregate<std::string>([] { return std::string(); },
                                [](const std::string&, const std::string& v, std::string agg) { return agg + v; },
                                Materialized<std::string, std::string>::As("count-windows", serdes::String(),
                                                                           serdes::String()))
        .ToStream()
        .To("windows", Produced(serdes::SessionWindowed(serdes::String()), serdes::String()));
  }
};

// key@[start,end]=values
std::vector<std::string> ReadCountWindows(TopologyTestDriver& driver) {
  auto topic = driver.CreateOutputTopic("windows", serdes::SessionWindowed(serdes::String()), serdes::String());
  auto records = topic.ReadKeyValuesToList();
  EXPECT_TRUE(records.ok()) << records.status();
  std::vector<std::string> out;
  if (!records.ok()) return out;
  for (const auto& r : *records) {
    out.push_back(absl::StrCat(r.key.key, "@[", r.key.window.start.value(), ",", r.key.window.end.value(), "]=",
                               r.value));
  }
  return out;
}

TEST(CountWindowsTest, TumblingWindowsTakeEveryNRecordsOfAKey) {
  for (bool final : {false, true}) {
    CountWindowTopology t(CountWindows::Tumbling(3), final ? EmitStrategy::OnWindowClose() : EmitStrategy::OnWindowUpdate());
    auto driver = Driver(t.builder);
    ASSERT_NE(driver, nullptr);
    auto in = driver->CreateInputTopic("events", serdes::String(), serdes::String());
    // Arrival order decides membership; the bounds are the lowest and
    // highest timestamps.
    for (auto [key, v, ts] : {std::tuple{"a", "1", 5}, {"a", "2", 1}, {"b", "x", 7}, {"a", "3", 3}, {"a", "4", 9}}) {
      ASSERT_TRUE(in.PipeInput(key, v, Timestamp(ts)).ok());
    }
    if (final) {
      EXPECT_EQ(ReadCountWindows(*driver), (std::vector<std::string>{"a@[1,5]=123"}));
    } else {
      EXPECT_EQ(ReadCountWindows(*driver), (std::vector<std::string>{"a@[5,5]=1", "a@[1,5]=12", "b@[7,7]=x",
                                                                     "a@[1,5]=123", "a@[9,9]=4"}));
    }
  }
}

TEST(CountWindowsTest, SlidingWindowsAreTheLastNRecordsAfterEachRecord) {
  {
    CountWindowTopology t(CountWindows::Sliding(3), EmitStrategy::OnWindowClose());
    auto driver = Driver(t.builder);
    ASSERT_NE(driver, nullptr);
    auto in = driver->CreateInputTopic("events", serdes::String(), serdes::String());
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(in.PipeInput("k", std::to_string(i), Timestamp(i * 10)).ok());
    EXPECT_EQ(ReadCountWindows(*driver),
              (std::vector<std::string>{"k@[10,30]=123", "k@[20,40]=234", "k@[30,50]=345"}));
  }
  {
    CountWindowTopology t(CountWindows::Sliding(2), EmitStrategy::OnWindowUpdate());
    auto driver = Driver(t.builder);
    ASSERT_NE(driver, nullptr);
    auto in = driver->CreateInputTopic("events", serdes::String(), serdes::String());
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(in.PipeInput("k", std::to_string(i), Timestamp(i)).ok());
    // Every window a record changes: the open ones, oldest first.
    EXPECT_EQ(ReadCountWindows(*driver), (std::vector<std::string>{"k@[1,1]=1", "k@[1,2]=12", "k@[2,2]=2",
                                                                   "k@[2,3]=23", "k@[3,3]=3"}));
  }
}

// Random keys and values against the definition: the final windows are a
// key's records in chunks of n (tumbling) or every run of n consecutive
// records (sliding), in arrival order.
TEST(CountWindowsTest, FinalWindowsMatchTheDefinitionOnRandomInput) {
  for (auto w : {CountWindows::Tumbling(4), CountWindows::Sliding(4)}) {
    CountWindowTopology t(w, EmitStrategy::OnWindowClose());
    auto driver = Driver(t.builder, {{"statestore.cache.max.bytes", "200"}});
    ASSERT_NE(driver, nullptr);
    auto in = driver->CreateInputTopic("events", serdes::String(), serdes::String());
    std::mt19937 rng(3);
    std::map<std::string, std::vector<std::pair<int64_t, char>>> seen;
    std::multiset<std::string> expected;
    for (int i = 0; i < 600; ++i) {
      const std::string key(1, static_cast<char>('a' + rng() % 6));
      const char v = static_cast<char>('0' + rng() % 10);
      const int64_t ts = rng() % 1000;
      ASSERT_TRUE(in.PipeInput(key, std::string(1, v), Timestamp(ts)).ok());
      auto& records = seen[key];
      records.push_back({ts, v});
      const size_t n = static_cast<size_t>(w.size);
      if (records.size() >= n && (w.sliding || records.size() % n == 0)) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        std::string values;
        for (size_t j = records.size() - n; j < records.size(); ++j) {
          lo = std::min(lo, records[j].first);
          hi = std::max(hi, records[j].first);
          values += records[j].second;
        }
        expected.insert(absl::StrCat(key, "@[", lo, ",", hi, "]=", values));
      }
    }
    auto got = ReadCountWindows(*driver);
    EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()), expected);
    EXPECT_GT(expected.size(), 100u);
  }
}

TEST(CountWindowsTest, AZeroSizeOrIdleAdvanceFailsTheBuild) {
  for (auto [w, emit, message] :
       {std::tuple{CountWindows::Tumbling(0), EmitStrategy::OnWindowUpdate(), "size must be > 0"},
        std::tuple{CountWindows::Sliding(5), EmitStrategy::OnWindowClose().AdvanceWhenIdle(absl::Seconds(1)),
                   "AdvanceWhenIdle does not apply"}}) {
    CountWindowTopology t(w, emit);
    auto built = t.builder.Build();
    ASSERT_FALSE(built.ok());
    EXPECT_THAT(std::string(built.status().message()), HasSubstr(message));
  }
}

// ---- sessions ----

struct SessionTopology {
  StreamsBuilder builder;
  SessionTopology(SessionWindows w, EmitStrategy emit) {
    builder.Stream("clicks", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .WindowedBy(w)
        .Emit(emit)
        .Count(Materialized<std::string, int64_t>::As("sessions", serdes::String(), serdes::Int64())
                   .WithCachingDisabled())
        .ToStream()
        .To("session-counts", Produced(serdes::SessionWindowed(serdes::String()), serdes::Int64()));
  }
};

std::vector<Out> ReadSessions(TopologyTestDriver& driver) {
  auto topic = driver.CreateOutputTopic("session-counts", serdes::SessionWindowed(serdes::String()), serdes::Int64());
  return ReadAll(topic);
}

TEST(SessionWindowsTest, RecordsMergeSessionsAndTheOldOnesAreRemoved) {
  SessionTopology t(SessionWindows::OfInactivityGapAndGrace(absl::Milliseconds(10), absl::Milliseconds(20)),
                    EmitStrategy::OnWindowUpdate());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("clicks", serdes::String(), serdes::String());
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(0)).ok());
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(15)).ok());  // more than the gap later: a second session
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(8)).ok());   // within the gap of both: [0, 15] with 3
  ASSERT_TRUE(in.PipeInput("v", "x", Timestamp(12)).ok());
  // With the store uncached, removals go down too (as changes with no new
  // value, which ToStream does not forward).
  EXPECT_EQ(ReadSessions(*driver), (std::vector<Out>{{"u", 0, 0, 1, 0},
                                                     {"u", 15, 15, 1, 15},
                                                     {"u", 0, 15, 3, 15},
                                                     {"v", 12, 12, 1, 12}}));
  KeyValueStore* kv = driver->GetKeyValueStore("sessions");
  SessionStore store(kv, {.retention_ms = 30});
  ASSERT_TRUE(store.Init().ok());
  auto sessions = store.FindSessions("u", Timestamp(0), Timestamp(100));
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 1u);  // the merged-away sessions are gone
  EXPECT_EQ((*sessions)[0].start, Timestamp(0));
  EXPECT_EQ((*sessions)[0].end, Timestamp(15));
  // Late: the session would end at 3, before stream time 100 - grace 20.
  ASSERT_TRUE(in.PipeInput("v", "x", Timestamp(100)).ok());
  ASSERT_TRUE(in.PipeInput("w", "x", Timestamp(3)).ok());
  EXPECT_EQ(ReadSessions(*driver), (std::vector<Out>{{"v", 100, 100, 1, 100}}));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 1);
}

TEST(SessionWindowsTest, EmitFinalSendsASessionOnceNoRecordCanExtendIt) {
  SessionTopology t(SessionWindows::OfInactivityGapAndGrace(absl::Milliseconds(10), absl::Milliseconds(5)),
                    EmitStrategy::OnWindowClose());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("clicks", serdes::String(), serdes::String());
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(0)).ok());
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(8)).ok());
  // Session [0, 8]: a record at 18 could still extend it while it is not
  // late (18 >= stream time - 5), so it closes once stream time > 23.
  ASSERT_TRUE(in.PipeInput("v", "x", Timestamp(23)).ok());
  EXPECT_TRUE(ReadSessions(*driver).empty());
  ASSERT_TRUE(in.PipeInput("v", "x", Timestamp(24)).ok());
  EXPECT_EQ(ReadSessions(*driver), (std::vector<Out>{{"u", 0, 8, 2, 8}}));
  // At 18 it would have joined [0, 8], which is closed: late.
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(18)).ok());
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(19)).ok());  // a new session [19, 19]: not late, not merged
  ASSERT_TRUE(in.PipeInput("x", "x", Timestamp(100)).ok());
  EXPECT_EQ(ReadSessions(*driver), (std::vector<Out>{{"u", 19, 19, 1, 19}, {"v", 23, 24, 2, 24}}));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dropped_records_total"), 1);
}

// Found by tests/property: a session store expired a session one
// millisecond before it closed, and still showed expired sessions to merges
// while ignoring their removal, so a merged-away session stayed and was
// emitted as well as the session it had been merged into.
TEST(SessionWindowsTest, AMergedSessionIsEmittedOnceAndExpiredOnesAreNotMerged) {
  SessionTopology t(SessionWindows::OfInactivityGapAndGrace(absl::Milliseconds(10), absl::Milliseconds(0)),
                    EmitStrategy::OnWindowClose());
  auto driver = Driver(t.builder);
  ASSERT_NE(driver, nullptr);
  auto in = driver->CreateInputTopic("clicks", serdes::String(), serdes::String());
  // [0, 0] is not closed at stream time 10 (0 + gap + grace is not < 10),
  // so u at 10 (on time) extends it to [0, 10].
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(0)).ok());
  ASSERT_TRUE(in.PipeInput("v", "x", Timestamp(10)).ok());
  ASSERT_TRUE(in.PipeInput("u", "x", Timestamp(10)).ok());
  // w: [30, 30], then [45, 50]; [30, 30] closes (and expires) at 41. w at
  // 38 bridges it and [45, 50] but may only merge what is still there.
  ASSERT_TRUE(in.PipeInput("w", "x", Timestamp(30)).ok());
  ASSERT_TRUE(in.PipeInput("w", "x", Timestamp(45)).ok());
  ASSERT_TRUE(in.PipeInput("w", "x", Timestamp(50)).ok());
  ASSERT_TRUE(in.PipeInput("w", "x", Timestamp(38)).ok());
  ASSERT_TRUE(in.PipeInput("z", "x", Timestamp(100)).ok());
  auto out = ReadSessions(*driver);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<Out>{{"u", 0, 10, 2, 10}, {"v", 10, 10, 1, 10}, {"w", 30, 30, 1, 30},
                                   {"w", 38, 50, 3, 50}}));
}

// Found by tests/fuzz/windowed_key: a damaged window store key whose start
// is near the end of time overflowed start + size (undefined behaviour).
TEST(WindowStoreKeyTest, AWindowStartingNearTheEndOfTimeEndsAtTheEndOfTime) {
  std::string store_key(8, '\0');
  store_key += "k";
  serdes::AppendBigEndian64(static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - 10), store_key);
  serdes::AppendBigEndian32(0, store_key);
  auto w = dsl::internal::DecodeWindowStoreKey(*serdes::String(), store_key, 60'000);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->key, "k");
  EXPECT_EQ(w->window.start.value(), std::numeric_limits<int64_t>::max() - 10);
  EXPECT_EQ(w->window.end.value(), std::numeric_limits<int64_t>::max());
  auto ordinary = dsl::internal::DecodeWindowStoreKey(*serdes::String(), store_key.substr(0, 9) + std::string(7, '\0') +
                                                                             "\x64" + std::string(4, '\0'),
                                                      60'000);
  ASSERT_TRUE(ordinary.ok()) << ordinary.status();
  EXPECT_EQ(ordinary->window.start.value(), 100);
  EXPECT_EQ(ordinary->window.end.value(), 60'100);
}

}  // namespace
}  // namespace runnel
