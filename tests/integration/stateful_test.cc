// Stateful processing on a real broker: count, reduce and aggregate over 1M
// random records match an oracle, in the output topic and in the RocksDB stores;
// wiping the local state restores it from the changelog exactly; a corrupt
// checkpoint is detected and the state rebuilt from the changelog.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gtest/gtest.h"
#include "runnel/kafka/consumer.h"
#include "runnel/runnel.h"
#include "runnel/state/rocksdb_kv_store.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::ConsumeAll;
using testing_fixtures::CreateTopic;
using testing_fixtures::UniqueName;

constexpr int kPartitions = 4;
using Counts = std::map<std::string, int64_t>;

// What the stateful topology computes per key: count, max and sum of the
// values (decimal strings).
struct Oracle {
  Counts count, max, sum;
};

// Produces `n` records with keys drawn uniformly from `keys` keys and values
// 0..999; adds them to `oracle`.
void ProduceRandom(const std::string& topic, int n, int keys, uint32_t seed, Oracle& oracle) {
  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()},
                                           {"linger.ms", "20"},
                                           {"batch.num.messages", "10000"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, keys - 1), number(0, 999);
  for (int i = 0; i < n; ++i) {
    std::string key = absl::StrCat("key-", pick(rng));
    const int v = number(rng);
    ++oracle.count[key];
    oracle.sum[key] += v;
    auto [it, fresh] = oracle.max.try_emplace(key, v);
    if (!fresh) it->second = std::max<int64_t>(it->second, v);
    std::string value = absl::StrCat(v);
    ASSERT_TRUE((*producer)->Send({.topic = topic, .key = key, .value = value}).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(120)).ok());
}

int64_t DecodeLong(std::string_view bytes) {
  auto v = serdes::Int64()->Deserialize(bytes);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : -1;
}

// Everything the tasks' RocksDB stores hold (the app must be closed).
Counts ReadStores(const std::string& app_dir, const std::string& store, int subtopology = 0) {
  Counts out;
  auto resources = RocksDbResources::Create(8 << 20, 4 << 20);
  for (int p = 0; p < kPartitions; ++p) {
    std::string dir = absl::StrCat(app_dir, "/", subtopology, "_", p, "/", store);
    if (!std::filesystem::exists(dir)) continue;
    auto db = RocksDbKeyValueStore::Open(store, dir, resources);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) continue;
    auto it = (*db)->All();
    auto entries = Collect(**it);
    for (const auto& e : *entries) out[e.key] = DecodeLong(e.value);
  }
  return out;
}

int64_t TopicSize(const std::string& topic) {
  auto consumer = kafka::Consumer::Create({{"bootstrap.servers", BootstrapServers()}, {"group.id", UniqueName("size")}});
  EXPECT_TRUE(consumer.ok());
  int64_t total = 0;
  for (int p = 0; p < kPartitions; ++p) {
    auto marks = (*consumer)->Watermarks({topic, Partition(p)}, absl::Seconds(30));
    EXPECT_TRUE(marks.ok()) << marks.status();
    if (marks.ok()) total += marks->second.value() - marks->first.value();
  }
  return total;
}

// The last value per key of a table's output topic.
Counts LastOutputValues(const std::string& topic) {
  int64_t n = TopicSize(topic);
  auto records = ConsumeAll(topic, static_cast<size_t>(n), absl::Seconds(120));
  EXPECT_TRUE(records.ok()) << records.status();
  Counts out;
  if (!records.ok()) return out;
  for (const auto& r : *records) out[*r.key] = DecodeLong(*r.value);
  return out;
}

class StatefulTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = UniqueName("count");
    in_ = app_ + "-in";
    out_ = app_ + "-out";
    ASSERT_TRUE(CreateTopic(in_, kPartitions).ok());
    ASSERT_TRUE(CreateTopic(out_, kPartitions).ok());
    state_dir_ = std::filesystem::temp_directory_path() / UniqueName("runnel-state");
  }
  void TearDown() override { std::filesystem::remove_all(state_dir_); }

  // count, reduce (max) and aggregate (sum) of one grouped stream.
  std::shared_ptr<const Topology> CountTopology() {
    StreamsBuilder builder;
    auto grouped = builder.Stream(in_, Consumed(serdes::String(), serdes::String()))
                       .MapValues([](const std::string& v) { return static_cast<int64_t>(std::stoll(v)); })
                       .GroupByKey();
    grouped.Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
        .ToStream()
        .To(out_, Produced(serdes::String(), serdes::Int64()));
    grouped.Reduce([](int64_t a, int64_t b) { return std::max(a, b); },
                   Materialized<std::string, int64_t>::As("max", serdes::String(), serdes::Int64()));
    grouped.Aggregate([] { return int64_t{0}; }, [](const std::string&, int64_t v, int64_t sum) { return sum + v; },
                      Materialized<std::string, int64_t>::As("sum", serdes::String(), serdes::Int64()));
    auto topology = builder.Build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    return *topology;
  }

  // Starts `topology` (default: CountTopology()) as this test's application
  // on 2 threads, with its own state.dir.
  std::unique_ptr<KafkaStreams> Start(std::shared_ptr<const Topology> topology = nullptr,
                                      const std::string& commit_interval_ms = "500",
                                      const std::map<std::string, std::string>& more = {}) {
    std::map<std::string, std::string> values{{"application.id", app_},
                                              {"bootstrap.servers", BootstrapServers()},
                                              {"num.stream.threads", "2"},
                                              {"commit.interval.ms", commit_interval_ms},
                                              {"state.dir", state_dir_}};
    for (const auto& [k, v] : more) values[k] = v;
    auto config = StreamsConfig::Create(values);
    EXPECT_TRUE(config.ok()) << config.status();
    auto streams = KafkaStreams::Create(topology ? topology : CountTopology(), *config);
    EXPECT_TRUE(streams.ok()) << streams.status();
    absl::Status started = (*streams)->Start();
    EXPECT_TRUE(started.ok()) << started;
    return *std::move(streams);
  }

  // Waits until `done` or the instance fails; then closes it cleanly.
  void RunUntil(KafkaStreams& streams, const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(240);
    while (!done() && absl::Now() < deadline) {
      ASSERT_NE(streams.state(), KafkaStreams::State::kError) << streams.Wait().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(done()) << "timed out";
    ASSERT_TRUE(streams.Close().ok());
  }

  std::string app_dir() const { return absl::StrCat(state_dir_, "/", app_); }
  bool AllCheckpointed() const {
    for (int p = 0; p < kPartitions; ++p) {
      if (!std::filesystem::exists(absl::StrCat(app_dir(), "/0_", p, "/.checkpoint"))) return false;
    }
    return true;
  }

  std::string app_, in_, out_, state_dir_;
};

TEST_F(StatefulTest, CountReduceAggregateMatchOracleAndSurviveStateLossAndCorruptCheckpoints) {
  Oracle all;
  Counts& oracle = all.count;
  ProduceRandom(in_, 500'000, 10'000, 7, all);

  // 1. Count the first half; while it runs, the local store view (the base
  //    of interactive queries) converges to the oracle once committed.
  {
    auto streams = Start();
    EXPECT_EQ(streams->Store("nope").status().code(), absl::StatusCode::kInvalidArgument);
    auto view = streams->Store("counts");
    ASSERT_TRUE(view.ok()) << view.status();
    auto queried = [&]() -> Counts {
      Counts out;
      auto all = (*view)->All();
      if (!all.ok()) return out;
      auto entries = Collect(**all);
      if (!entries.ok()) return out;
      for (const auto& e : *entries) out[e.key] = DecodeLong(e.value);
      return out;
    };
    RunUntil(*streams, [&] { return streams->processed() >= 500'000 && queried() == oracle; });
    auto one = (*view)->Get("key-42");
    EXPECT_FALSE(one.ok());  // closed: no local task holds the store any more
  }
  EXPECT_EQ(ReadStores(app_dir(), "counts"), oracle);
  EXPECT_EQ(ReadStores(app_dir(), "max"), all.max);
  EXPECT_EQ(ReadStores(app_dir(), "sum"), all.sum);
  EXPECT_EQ(LastOutputValues(out_), oracle);
  EXPECT_EQ(TopicSize(absl::StrCat(app_, "-counts-changelog")) > 0, true);

  // 2. Lose the local state: a restart restores it from the changelog.
  std::filesystem::remove_all(app_dir());
  {
    auto streams = Start();
    RunUntil(*streams, [&] { return AllCheckpointed(); });
  }
  EXPECT_EQ(ReadStores(app_dir(), "counts"), oracle) << "restored state differs from the state before";
  EXPECT_EQ(ReadStores(app_dir(), "max"), all.max);
  EXPECT_EQ(ReadStores(app_dir(), "sum"), all.sum);

  // 3. Corrupt two checkpoints: those tasks rebuild from the changelog, the
  //    others restore only the tail; then count the second half on top.
  for (int p : {0, 2}) {
    std::ofstream(absl::StrCat(app_dir(), "/0_", p, "/.checkpoint"), std::ios::trunc) << "runnel-checkpoint 1\n1\nbogus";
  }
  ProduceRandom(in_, 500'000, 10'000, 8, all);
  {
    auto streams = Start();
    RunUntil(*streams, [&] { return streams->processed() >= 500'000; });
  }
  EXPECT_EQ(ReadStores(app_dir(), "counts"), oracle);
  EXPECT_EQ(ReadStores(app_dir(), "max"), all.max);
  EXPECT_EQ(ReadStores(app_dir(), "sum"), all.sum);
  EXPECT_EQ(LastOutputValues(out_), oracle);
}

// Records keyed by sensor are counted per category (their value): a
// key-changing groupBy, so they cross a repartition topic that Runnel
// creates, sized like the input.
TEST_F(StatefulTest, GroupByANewKeyGoesThroughARepartitionTopicAndMatchesTheOracle) {
  Counts oracle;
  {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "20"}});
    ASSERT_TRUE(producer.ok());
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> sensor(0, 999), category(0, 49);
    for (int i = 0; i < 200'000; ++i) {
      std::string key = absl::StrCat("sensor-", sensor(rng)), value = absl::StrCat("cat-", category(rng));
      ++oracle[value];
      ASSERT_TRUE((*producer)->Send({.topic = in_, .key = key, .value = value}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }
  StreamsBuilder builder;
  builder.Stream(in_, Consumed(serdes::String(), serdes::String()))
      .GroupBy([](const std::string&, const std::string& category) { return category; },
               Grouped(serdes::String(), serdes::String()))
      .Count(Materialized<std::string, int64_t>::As("per-category", serdes::String(), serdes::Int64()))
      .ToStream()
      .To(out_, Produced(serdes::String(), serdes::Int64()));
  auto streams = Start(*builder.Build(), "500");
  // Every input record is processed twice: re-keyed, then counted.
  RunUntil(*streams, [&] { return streams->processed() >= 400'000; });
  EXPECT_EQ(TopicSize(absl::StrCat(app_, "-per-category-repartition")), 200'000);
  EXPECT_EQ(LastOutputValues(out_), oracle);
  EXPECT_EQ(ReadStores(app_dir(), "per-category", /*subtopology=*/1), oracle);
}

// A table of users (value: region) regrouped by region and counted, with
// users moving between regions and leaving (tombstones): the counts must
// equal the oracle computed from each user's last region. Exercises old
// values through the record cache and changes through a repartition topic.
TEST_F(StatefulTest, TableGroupByCountFollowsMovesAndDeletes) {
  std::map<std::string, std::string> last_region;
  {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "20"}});
    ASSERT_TRUE(producer.ok());
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> user(0, 4999), region(0, 19), del(0, 9);
    for (int i = 0; i < 100'000; ++i) {
      std::string key = absl::StrCat("user-", user(rng));
      if (del(rng) == 0) {
        last_region.erase(key);
        ASSERT_TRUE((*producer)->Send({.topic = in_, .key = key, .value = std::nullopt}).ok());
      } else {
        std::string r = absl::StrCat("region-", region(rng));
        last_region[key] = r;
        ASSERT_TRUE((*producer)->Send({.topic = in_, .key = key, .value = r}).ok());
      }
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }
  Counts oracle;
  for (const auto& [user, r] : last_region) ++oracle[r];
  StreamsBuilder builder;
  builder.Table(in_, Consumed(serdes::String(), serdes::String()),
                Materialized<std::string, std::string>::As("users", serdes::String(), serdes::String()))
      .GroupBy([](const std::string& user, const std::string& r) { return KeyValue<std::string, std::string>{r, user}; },
               Grouped(serdes::String(), serdes::String()))
      .Count(Materialized<std::string, int64_t>::As("per-region", serdes::String(), serdes::Int64()))
      .ToStream()
      .To(out_, Produced(serdes::String(), serdes::Int64()));
  auto streams = Start(*builder.Build(), "300");
  auto view = streams->Store("per-region");
  ASSERT_TRUE(view.ok());
  auto queried = [&]() {
    Counts out;
    auto all = (*view)->All();
    if (!all.ok()) return out;
    auto entries = Collect(**all);
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      if (int64_t n = DecodeLong(e.value); n != 0) out[e.key] = n;
    }
    return out;
  };
  RunUntil(*streams, [&] { return streams->processed() >= 100'000 && queried() == oracle; });
}

}  // namespace
}  // namespace runnel

namespace runnel {
namespace {

// Stream threads added and removed while running, under exactly_once_v2:
// the group rebalances each time, tasks move between threads (their stores
// handed over through the task locks), and the committed counts still match
// the oracle.
TEST_F(StatefulTest, ThreadsAddedAndRemovedWhileRunningExactlyOnce) {
  Oracle oracle;
  auto streams = Start(nullptr, "200", {{"num.stream.threads", "1"}, {"processing.guarantee", "exactly_once_v2"}});
  auto wait_for = [&](int64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (streams->processed() < n && absl::Now() < deadline) {
      ASSERT_NE(streams->state(), KafkaStreams::State::kError);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GE(streams->processed(), n);
  };
  ProduceRandom(in_, 50'000, 1000, 1, oracle);
  wait_for(50'000);

  auto added = streams->AddStreamThread();
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 2);
  EXPECT_EQ(streams->num_stream_threads(), 2);
  // Input keeps coming until the new thread, once the group has rebalanced,
  // processes part of it.
  Counter* second = streams->metrics().GetCounter("runnel_records_processed_total",
                                                  {{"thread", absl::StrCat(app_, "-StreamThread-2")}});
  int64_t produced = 50'000;
  for (uint32_t seed = 2; second->value() == 0 && seed < 200; ++seed) {
    ProduceRandom(in_, 2'000, 1000, seed, oracle);
    produced += 2'000;
    wait_for(produced);
  }
  EXPECT_GT(second->value(), 0) << "the added thread took no task";

  auto removed = streams->RemoveStreamThread();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(streams->num_stream_threads(), 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(streams->RemoveStreamThread().status()));
  ProduceRandom(in_, 50'000, 1000, 1000, oracle);
  produced += 50'000;
  RunUntil(*streams, [&] { return streams->processed() >= produced; });
  EXPECT_EQ(ReadStores(app_dir(), "counts"), oracle.count);
}

}  // namespace
}  // namespace runnel

namespace runnel {
namespace {

// Joins after key changes, on the broker: clicks (4 partitions) and views
// (2 partitions), both keyed by session, are re-keyed by item and joined
// in a window; the clicks are also re-keyed and joined with a table of
// items (3 partitions). Runnel inserts the repartition topics itself and
// sizes them so that each join's inputs are co-partitioned: 4 for both
// sides of the stream-stream join (the most of its sources), 3 for the
// stream-table join's (the table's). Every pair and every enriched click
// must come out, once.
TEST_F(StatefulTest, JoinsAfterAKeyChangeGetRepartitionTopicsSizedForCoPartitioning) {
  const std::string clicks = app_ + "-clicks", views = app_ + "-views", items = app_ + "-items";
  const std::string pairs_out = app_ + "-pairs", enriched_out = app_ + "-enriched";
  ASSERT_TRUE(CreateTopic(clicks, 4).ok());
  ASSERT_TRUE(CreateTopic(views, 2).ok());
  ASSERT_TRUE(CreateTopic(items, 3).ok());
  ASSERT_TRUE(CreateTopic(pairs_out, kPartitions).ok());
  ASSERT_TRUE(CreateTopic(enriched_out, kPartitions).ok());
  constexpr int kItems = 30, kClicks = 2000, kViews = 600;
  std::map<std::string, int64_t> clicks_per_item, views_per_item;
  {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "20"}});
    ASSERT_TRUE(producer.ok());
    // Items first and earliest, so that every click finds its item.
    const int64_t base = absl::ToUnixMillis(absl::Now()) - 600'000;
    for (int i = 0; i < kItems; ++i) {
      std::string key = absl::StrCat("item-", i), value = absl::StrCat("name-", i);
      ASSERT_TRUE((*producer)->Send({.topic = items, .key = key, .value = value, .timestamp = Timestamp(base)}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
    std::mt19937 rng(17);
    std::uniform_int_distribution<int> item(0, kItems - 1), session(0, 99);
    for (int i = 0; i < kClicks + kViews; ++i) {
      const bool click = i < kClicks;
      std::string key = absl::StrCat("session-", session(rng)), value = absl::StrCat("item-", item(rng));
      ++(click ? clicks_per_item : views_per_item)[value];
      ASSERT_TRUE((*producer)
                      ->Send({.topic = click ? clicks : views, .key = key, .value = value,
                              .timestamp = Timestamp(base + 1000 + i)})
                      .ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }
  int64_t expected_pairs = 0;
  for (const auto& [item, n] : clicks_per_item) expected_pairs += n * views_per_item[item];

  StreamsBuilder builder;
  const auto strings = Consumed(serdes::String(), serdes::String());
  auto by_item = [](const std::string&, const std::string& item) { return item; };
  auto table = builder.Table(items, strings,
                             Materialized<std::string, std::string>::As("items", serdes::String(), serdes::String()));
  auto clicked = builder.Stream(clicks, strings).SelectKey(by_item);
  auto viewed = builder.Stream(views, strings).SelectKey(by_item);
  clicked
      .Join(viewed, [](const std::string& c, const std::string& v) { return c + "+" + v; },
            JoinWindows::OfTimeDifferenceWithNoGrace(absl::Hours(1)),
            StreamJoined<std::string, std::string, std::string>::With(serdes::String(), serdes::String(),
                                                                      serdes::String())
                .WithName("pair"))
      .To(pairs_out, Produced(serdes::String(), serdes::String()));
  clicked
      .Join(table, [](const std::string& c, const std::string& name) { return c + "@" + name; },
            Joined<std::string, std::string, std::string>::With(serdes::String(), serdes::String(), serdes::String())
                .WithName("enrich"))
      .To(enriched_out, Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto streams = Start(*topology);
  RunUntil(*streams, [&] { return TopicSize(pairs_out) >= expected_pairs && TopicSize(enriched_out) >= kClicks; });

  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok());
  for (const auto& [topic, partitions] : std::vector<std::pair<std::string, int32_t>>{
           {"pair-left-repartition", 4}, {"pair-right-repartition", 4}, {"enrich-repartition", 3}}) {
    auto count = (*producer)->PartitionCount(absl::StrCat(app_, "-", topic), absl::Seconds(30));
    ASSERT_TRUE(count.ok()) << topic << ": " << count.status();
    EXPECT_EQ(*count, partitions) << topic;
  }

  auto pairs = ConsumeAll(pairs_out, static_cast<size_t>(expected_pairs), absl::Seconds(120));
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  std::map<std::string, int64_t> pairs_per_item;
  for (const auto& r : *pairs) {
    EXPECT_EQ(*r.value, *r.key + "+" + *r.key);
    ++pairs_per_item[*r.key];
  }
  std::map<std::string, int64_t> expected_per_item;
  for (const auto& [item, n] : clicks_per_item) {
    if (int64_t v = views_per_item[item] * n; v > 0) expected_per_item[item] = v;
  }
  EXPECT_EQ(pairs_per_item, expected_per_item);
  EXPECT_EQ(TopicSize(pairs_out), expected_pairs) << "no pair twice";

  auto enriched = ConsumeAll(enriched_out, kClicks, absl::Seconds(120));
  ASSERT_TRUE(enriched.ok()) << enriched.status();
  std::map<std::string, int64_t> enriched_per_item;
  for (const auto& r : *enriched) {
    EXPECT_EQ(*r.value, *r.key + "@name-" + r.key->substr(std::string("item-").size()));
    ++enriched_per_item[*r.key];
  }
  EXPECT_EQ(enriched_per_item, clicks_per_item);
  EXPECT_EQ(TopicSize(enriched_out), kClicks);
}

}  // namespace
}  // namespace runnel
