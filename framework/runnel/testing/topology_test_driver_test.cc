#include "runnel/testing/topology_test_driver.h"

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/common/status.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using KV = TestKeyValue<std::string, int64_t>;

std::unique_ptr<TopologyTestDriver> Driver(StreamsBuilder& builder) {
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  auto driver = TopologyTestDriver::Create(*topology);
  EXPECT_TRUE(driver.ok()) << driver.status();
  return *std::move(driver);
}

// lines -> words -> groupBy(word) -> count (kept
// in `store`) -> `out`: the key-changing topology several tests use.
std::shared_ptr<const Topology> WordCount(const std::string& store, const std::string& out) {
  StreamsBuilder builder;
  builder.Stream("lines", Consumed(serdes::String(), serdes::String()))
      .FlatMapValues([](const std::string& line) { return std::vector<std::string>(absl::StrSplit(line, ' ')); })
      .GroupBy([](const std::string&, const std::string& word) { return word; },
               Grouped(serdes::String(), serdes::String()))
      .Count(Materialized<std::string, int64_t>::As(store, serdes::String(), serdes::Int64()))
      .ToStream()
      .To(out, Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

TEST(TopologyTestDriverTest, CountEmitsEveryUpdateAndKeepsTheStoreAndChangelog) {
  StreamsBuilder builder;
  builder.Stream("words", Consumed(serdes::String(), serdes::String()))
      .GroupByKey()
      .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
      .ToStream()
      .To("counts-out", Produced(serdes::String(), serdes::Int64()));
  auto driver = Driver(builder);
  auto in = driver->CreateInputTopic("words", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("counts-out", serdes::String(), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(10)).ok());
  ASSERT_TRUE(in.PipeInput("b", "x", Timestamp(20)).ok());
  ASSERT_TRUE(in.PipeInput("a", "x", Timestamp(30)).ok());
  EXPECT_THAT(*out.ReadKeyValuesToList(),
              ElementsAre(KV{"a", 1, Timestamp(10)}, KV{"b", 1, Timestamp(20)}, KV{"a", 2, Timestamp(30)}));
  auto store = driver->GetKeyValueStore("counts", serdes::String(), serdes::Int64());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*store->Get("a"), 2);
  EXPECT_EQ(*store->Get("b"), 1);
  EXPECT_EQ(*store->Get("c"), std::nullopt);
  auto changelog = driver->CreateOutputTopic("test-app-counts-changelog", serdes::String(), serdes::Int64());
  EXPECT_EQ(changelog.ReadKeyValuesToMap()->at("a"), 2);
}

TEST(TopologyTestDriverTest, ReduceStartsFromTheFirstValueNotADefault) {
  StreamsBuilder builder;
  builder.Stream("temps", Consumed(serdes::String(), serdes::Int64()))
      .GroupByKey()
      .Reduce([](int64_t a, int64_t b) { return std::max(a, b); },
              Materialized<std::string, int64_t>::As("max", serdes::String(), serdes::Int64()))
      .ToStream()
      .To("max-out", Produced(serdes::String(), serdes::Int64()));
  auto driver = Driver(builder);
  auto in = driver->CreateInputTopic("temps", serdes::String(), serdes::Int64());
  auto out = driver->CreateOutputTopic("max-out", serdes::String(), serdes::Int64());
  for (int64_t v : {-5, -3, -10}) ASSERT_TRUE(in.PipeInput("s1", v, Timestamp(1)).ok());
  auto list = out.ReadKeyValuesToList();
  ASSERT_TRUE(list.ok());
  std::vector<int64_t> values;
  for (const auto& kv : *list) values.push_back(kv.value);
  EXPECT_THAT(values, ElementsAre(-5, -3, -3));
}

TEST(TopologyTestDriverTest, AggregateFoldsFromTheInitializerPerKey) {
  StreamsBuilder builder;
  builder.Stream("words", Consumed(serdes::String(), serdes::String()))
      .GroupByKey()
      .Aggregate([] { return int64_t{100}; },
                 [](const std::string&, const std::string& v, int64_t agg) { return agg + static_cast<int64_t>(v.size()); },
                 Materialized<std::string, int64_t>(serdes::String(), serdes::Int64()).InMemory().WithCachingDisabled())
      .ToStream()
      .To("lengths", Produced(serdes::String(), serdes::Int64()));
  auto driver = Driver(builder);
  auto in = driver->CreateInputTopic("words", serdes::String(), serdes::String());
  ASSERT_TRUE(in.PipeInput("k", "abc", Timestamp(1)).ok());
  ASSERT_TRUE(in.PipeInput("k", "de", Timestamp(2)).ok());
  ASSERT_TRUE(in.PipeInput("j", "", Timestamp(3)).ok());
  auto out = driver->CreateOutputTopic("lengths", serdes::String(), serdes::Int64());
  EXPECT_THAT(*out.ReadKeyValuesToList(),
              ElementsAre(KV{"k", 103, Timestamp(1)}, KV{"k", 105, Timestamp(2)}, KV{"j", 100, Timestamp(3)}));
  EXPECT_NE(driver->GetKeyValueStore("KSTREAM-AGGREGATE-STATE-STORE-0000000001"), nullptr);
}

TEST(TopologyTestDriverTest, StatelessChainAndErrorsThatNameTheirCause) {
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), serdes::Int64()))
      .Filter([](const std::string&, int64_t v) { return v % 2 == 0; })
      .MapValues([](int64_t v) { return v * 10; })
      .To("out", Produced(serdes::String(), serdes::Int64()));
  auto driver = Driver(builder);
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::Int64());
  for (int64_t v = 1; v <= 4; ++v) ASSERT_TRUE(in.PipeInput("k", v, Timestamp(v)).ok());
  auto out = driver->CreateOutputTopic("out", serdes::String(), serdes::Int64());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"k", 20, Timestamp(2)}, KV{"k", 40, Timestamp(4)}));

  absl::Status unknown = driver->PipeRaw("nope", {.key = "k", .value = "v"});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  absl::Status bad = driver->PipeRaw("in", {.key = "k", .value = std::string("abc")});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.message()), HasSubstr("node 'KSTREAM-SOURCE-0000000000'"));
  StreamsBuilder other;
  other.Stream("x", Consumed(serdes::String(), serdes::String())).To("y", Produced(serdes::String(), serdes::String()));
  auto bad_config = TopologyTestDriver::Create(*other.Build(), {{"no.such.key", "1"}});
  EXPECT_EQ(bad_config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_config.status().message()), HasSubstr("no.such.key"));
}

TEST(TopologyTestDriverTest, GroupByANewKeyGoesThroughARepartitionTopic) {
  auto topology = WordCount("word-counts", "counts");
  EXPECT_EQ(topology->subtopologies().size(), 2u);
  EXPECT_THAT(topology->internal_topics(), ElementsAre("word-counts-repartition"));
  auto driver = TopologyTestDriver::Create(topology, {{"application.id", "wc"}});
  ASSERT_TRUE(driver.ok()) << driver.status();
  auto in = (*driver)->CreateInputTopic("lines", serdes::String(), serdes::String());
  ASSERT_TRUE(in.PipeInput("l1", "a b a", Timestamp(1)).ok());
  ASSERT_TRUE(in.PipeInput("l2", "b c", Timestamp(2)).ok());
  auto out = (*driver)->CreateOutputTopic("counts", serdes::String(), serdes::Int64());
  EXPECT_EQ(*out.ReadKeyValuesToMap(), (std::map<std::string, int64_t>{{"a", 2}, {"b", 2}, {"c", 1}}));
  // The re-keyed records really went through <application.id>-<store>-repartition.
  auto repartition = (*driver)->CreateOutputTopic("wc-word-counts-repartition", serdes::String(), serdes::String());
  EXPECT_EQ(repartition.ReadKeyValuesToList()->size(), 5u);
}

TEST(TopologyBuildTest, GroupingAfterAKeyChangeWithoutSerdesIsABuildError) {
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), serdes::String()))
      .Map([](const std::string& k, const std::string& v) { return KeyValue<std::string, std::string>{v, k}; })
      .GroupByKey()
      .Count(Materialized<std::string, int64_t>(serdes::String(), serdes::Int64()));
  auto built = builder.Build();
  ASSERT_FALSE(built.ok());
  EXPECT_THAT(std::string(built.status().message()), HasSubstr("needs a repartition topic"));
}

// A Processor API processor: counts records, reports the count every 10 ms
// of stream time and every second of wall-clock time.
class Reporter final : public Processor<std::string, std::string, std::string, int64_t> {
 public:
  absl::Status Init(ProcessorContext<std::string, int64_t>& context) override {
    RUNNEL_RETURN_IF_ERROR(Processor::Init(context));
    context.Schedule(absl::Milliseconds(10), PunctuationType::kStreamTime, [this](Timestamp t) {
      return this->context().Forward(Record<std::string, int64_t>{"stream", seen_, t, {}});
    });
    context.Schedule(absl::Seconds(1), PunctuationType::kWallClockTime, [this](Timestamp t) {
      return this->context().Forward(Record<std::string, int64_t>{"wall", seen_, t, {}});
    });
    return absl::OkStatus();
  }
  absl::Status Process(Record<std::string, std::string>) override {
    ++seen_;
    return absl::OkStatus();
  }

 private:
  int64_t seen_ = 0;
};

TEST(TopologyTestDriverTest, PunctuatorsFollowStreamTimeAndTheManualClock) {
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), serdes::String()))
      .Process<std::string, int64_t>([] { return std::make_unique<Reporter>(); })
      .To("reports", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok());
  auto driver = TopologyTestDriver::Create(*topology, {}, absl::FromUnixMillis(0));
  ASSERT_TRUE(driver.ok());
  auto in = (*driver)->CreateInputTopic("in", serdes::String(), serdes::String());
  auto out = (*driver)->CreateOutputTopic("reports", serdes::String(), serdes::Int64());
  for (int64_t ts : {100, 105, 110, 200}) ASSERT_TRUE(in.PipeInput("k", "v", Timestamp(ts)).ok());
  // Stream time: at the first record, then at 110 (100 + 10), then at 200.
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"stream", 1, Timestamp(100)}, KV{"stream", 3, Timestamp(110)},
                                                      KV{"stream", 4, Timestamp(200)}));
  ASSERT_TRUE((*driver)->AdvanceWallClockTime(absl::Milliseconds(999)).ok());
  EXPECT_TRUE(out.IsEmpty());
  ASSERT_TRUE((*driver)->AdvanceWallClockTime(absl::Milliseconds(1)).ok());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"wall", 4, Timestamp(1000)}));
}

TEST(TopologyTestDriverTest, TableKeepsTheLatestValueAndTombstonesDelete) {
  StreamsBuilder builder;
  builder.Table("prices", Consumed(serdes::String(), serdes::Int64()),
                Materialized<std::string, int64_t>::As("prices-store", serdes::String(), serdes::Int64()))
      .Filter([](const std::string&, int64_t price) { return price > 10; })
      .MapValues([](int64_t price) { return price * 2; })
      .ToStream()
      .To("doubled", Produced(serdes::String(), serdes::Int64()));
  auto driver = Driver(builder);
  auto in = driver->CreateInputTopic("prices", serdes::String(), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("a", 5, Timestamp(1)).ok());
  ASSERT_TRUE(in.PipeInput("b", 20, Timestamp(2)).ok());
  ASSERT_TRUE(in.PipeInput("a", 30, Timestamp(3)).ok());
  ASSERT_TRUE(driver->PipeRaw("prices", {.key = "b", .value = std::nullopt, .timestamp = Timestamp(4)}).ok());
  auto out = driver->CreateOutputTopic("doubled", serdes::String(), serdes::Int64());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"b", 40, Timestamp(2)}, KV{"a", 60, Timestamp(3)}));
  auto store = driver->GetKeyValueStore("prices-store", serdes::String(), serdes::Int64());
  EXPECT_EQ(*store->Get("a"), 30);
  EXPECT_EQ(*store->Get("b"), std::nullopt);  // the tombstone deleted it
}

TEST(TopologyTestDriverTest, SplitMergeAndRepartition) {
  StreamsBuilder builder;
  auto branches = builder.Stream("in", Consumed(serdes::String(), serdes::Int64()))
                      .Split({[](const std::string&, int64_t v) { return v < 0; },
                              [](const std::string&, int64_t v) { return v == 0; }},
                             /*with_default=*/true, Named("sign"));
  ASSERT_EQ(branches.size(), 3u);
  branches[0].To("negative", Produced(serdes::String(), serdes::Int64()));
  branches[1].Merge(branches[2]).Repartition(Produced(serdes::String(), serdes::Int64()), Named("rest"))
      .To("rest-out", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  EXPECT_THAT((*topology)->Describe(), HasSubstr("Processor: sign (stores: [])\n      --> sign-1, sign-2, sign-0"));
  auto driver = TopologyTestDriver::Create(*topology);
  ASSERT_TRUE(driver.ok());
  auto in = (*driver)->CreateInputTopic("in", serdes::String(), serdes::Int64());
  for (int64_t v : {-1, 0, 7, -2}) ASSERT_TRUE(in.PipeInput("k", v, Timestamp(v + 10)).ok());
  auto negative = (*driver)->CreateOutputTopic("negative", serdes::String(), serdes::Int64());
  auto rest = (*driver)->CreateOutputTopic("rest-out", serdes::String(), serdes::Int64());
  EXPECT_THAT(*negative.ReadKeyValuesToList(), ElementsAre(KV{"k", -1, Timestamp(9)}, KV{"k", -2, Timestamp(8)}));
  EXPECT_THAT(*rest.ReadKeyValuesToList(), ElementsAre(KV{"k", 0, Timestamp(10)}, KV{"k", 7, Timestamp(17)}));
  auto through = (*driver)->CreateOutputTopic("test-app-rest-repartition", serdes::String(), serdes::Int64());
  EXPECT_EQ(through.ReadKeyValuesToList()->size(), 2u);
}

// A KTable filter retracts rows that stop passing: a count per region of
// the users that are active, as users change region and status.
TEST(TopologyTestDriverTest, TableGroupBySubtractsWhatLeavesAGroup) {
  StreamsBuilder builder;
  builder.Table("users", Consumed(serdes::String(), serdes::String()),
                Materialized<std::string, std::string>::As("users-store", serdes::String(), serdes::String()))
      .Filter([](const std::string&, const std::string& v) { return v.ends_with(":active"); })
      .GroupBy([](const std::string& user, const std::string& v) {
                 return KeyValue<std::string, std::string>{v.substr(0, v.find(':')), user};
               },
               Grouped(serdes::String(), serdes::String()))
      .Count(Materialized<std::string, int64_t>::As("per-region", serdes::String(), serdes::Int64()))
      .ToStream()
      .To("region-counts", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto driver = TopologyTestDriver::Create(*topology);
  ASSERT_TRUE(driver.ok()) << driver.status();
  auto users = (*driver)->CreateInputTopic("users", serdes::String(), serdes::String());
  auto out = (*driver)->CreateOutputTopic("region-counts", serdes::String(), serdes::Int64());
  auto counts = (*driver)->GetKeyValueStore("per-region", serdes::String(), serdes::Int64());
  ASSERT_TRUE(counts.ok());
  auto region = [&](const std::string& r) { return counts->Get(r)->value_or(0); };
  ASSERT_TRUE(users.PipeInput("ann", "eu:active", Timestamp(1)).ok());
  ASSERT_TRUE(users.PipeInput("bob", "eu:active", Timestamp(2)).ok());
  ASSERT_TRUE(users.PipeInput("cat", "us:active", Timestamp(3)).ok());
  EXPECT_EQ(region("eu"), 2);
  EXPECT_EQ(region("us"), 1);
  ASSERT_TRUE(users.PipeInput("bob", "us:active", Timestamp(4)).ok());  // moves: leaves eu, joins us
  EXPECT_EQ(region("eu"), 1);
  EXPECT_EQ(region("us"), 2);
  ASSERT_TRUE(users.PipeInput("cat", "us:inactive", Timestamp(5)).ok());  // filtered out: retracted
  EXPECT_EQ(region("us"), 1);
  ASSERT_TRUE((*driver)->PipeRaw("users", {.key = "ann", .value = std::nullopt, .timestamp = Timestamp(6)}).ok());
  EXPECT_EQ(region("eu"), 0);  // deleted: retracted
  auto last = out.ReadKeyValuesToMap();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, (std::map<std::string, int64_t>{{"eu", 0}, {"us", 1}}));
}

TEST(TopologyTestDriverTest, TableReduceWithSubtractorAndAggregate) {
  StreamsBuilder builder;
  auto table = builder.Table("balances", Consumed(serdes::String(), serdes::Int64()),
                             Materialized<std::string, int64_t>::As("balances-store", serdes::String(), serdes::Int64()));
  // Total per bank ("bank/account" keys), by reduce and by aggregate.
  auto by_bank = [](const std::string& account, int64_t v) {
    return KeyValue<std::string, int64_t>{account.substr(0, account.find('/')), v};
  };
  table.GroupBy(by_bank, Grouped(serdes::String(), serdes::Int64(), "by-bank-reduce"))
      .Reduce([](int64_t a, int64_t b) { return a + b; }, [](int64_t a, int64_t b) { return a - b; },
              Materialized<std::string, int64_t>::As("totals-reduce", serdes::String(), serdes::Int64()));
  table.GroupBy(by_bank, Grouped(serdes::String(), serdes::Int64(), "by-bank-aggregate"))
      .Aggregate([] { return int64_t{1000}; }, [](const std::string&, int64_t v, int64_t agg) { return agg + v; },
                 [](const std::string&, int64_t v, int64_t agg) { return agg - v; },
                 Materialized<std::string, int64_t>::As("totals-aggregate", serdes::String(), serdes::Int64()));
  auto driver = Driver(builder);
  auto in = driver->CreateInputTopic("balances", serdes::String(), serdes::Int64());
  for (auto [account, v] : std::vector<std::pair<std::string, int64_t>>{
           {"b1/x", 10}, {"b1/y", 5}, {"b2/z", 7}, {"b1/x", 3}, {"b2/z", 0}}) {
    ASSERT_TRUE(in.PipeInput(account, v, Timestamp(1)).ok());
  }
  auto reduce = driver->GetKeyValueStore("totals-reduce", serdes::String(), serdes::Int64());
  auto aggregate = driver->GetKeyValueStore("totals-aggregate", serdes::String(), serdes::Int64());
  EXPECT_EQ(*reduce->Get("b1"), 8);   // 10 + 5, then x: 10 -> 3
  EXPECT_EQ(*reduce->Get("b2"), 0);
  EXPECT_EQ(*aggregate->Get("b1"), 1008);
  EXPECT_EQ(*aggregate->Get("b2"), 1000);
}

// Describe() of an aggregation reads as Kafka Streams' TopologyDescription.
TEST(TopologyDescribeTest, CountTopologyGolden) {
  StreamsBuilder builder;
  builder.Stream("input", Consumed(serdes::String(), serdes::String()))
      .GroupByKey()
      .Count(Materialized<std::string, int64_t>(serdes::String(), serdes::Int64()))
      .ToStream()
      .To("output", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok());
  EXPECT_EQ((*topology)->Describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
            "      --> KSTREAM-AGGREGATE-0000000002\n"
            "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
            "      --> KTABLE-TOSTREAM-0000000003\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: KTABLE-TOSTREAM-0000000003 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000004\n"
            "      <-- KSTREAM-AGGREGATE-0000000002\n"
            "    Sink: KSTREAM-SINK-0000000004 (topic: output)\n"
            "      <-- KTABLE-TOSTREAM-0000000003\n");
  EXPECT_THAT((*topology)->DescribeJson(),
              HasSubstr("\"stores\":[\"KSTREAM-AGGREGATE-STATE-STORE-0000000001\"]"));
}

// A key-changing grouping: two sub-topologies joined by a repartition topic,
// with Kafka Streams' node names (filter, sink and source of the topic).
TEST(TopologyDescribeTest, GroupByTopologyGolden) {
  auto topology = WordCount("counts", "word-counts");
  EXPECT_EQ(topology->Describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [lines])\n"
            "      --> KSTREAM-FLATMAPVALUES-0000000001\n"
            "    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])\n"
            "      --> KSTREAM-KEY-SELECT-0000000002\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])\n"
            "      --> counts-repartition-filter\n"
            "      <-- KSTREAM-FLATMAPVALUES-0000000001\n"
            "    Processor: counts-repartition-filter (stores: [])\n"
            "      --> counts-repartition-sink\n"
            "      <-- KSTREAM-KEY-SELECT-0000000002\n"
            "    Sink: counts-repartition-sink (topic: counts-repartition)\n"
            "      <-- counts-repartition-filter\n"
            "   Sub-topology: 1\n"
            "    Source: counts-repartition-source (topics: [counts-repartition])\n"
            "      --> KSTREAM-AGGREGATE-0000000003\n"
            "    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts])\n"
            "      --> KTABLE-TOSTREAM-0000000004\n"
            "      <-- counts-repartition-source\n"
            "    Processor: KTABLE-TOSTREAM-0000000004 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000005\n"
            "      <-- KSTREAM-AGGREGATE-0000000003\n"
            "    Sink: KSTREAM-SINK-0000000005 (topic: word-counts)\n"
            "      <-- KTABLE-TOSTREAM-0000000004\n");
  // The JSON form names the same nodes, stores and topics.
  const std::string json = topology->DescribeJson();
  EXPECT_THAT(json, HasSubstr("{\"name\":\"counts-repartition-source\",\"type\":\"source\",\"topics\":[\"counts-repartition\"]"));
  EXPECT_THAT(json, HasSubstr("\"stores\":[\"counts\"]"));
  // Deterministic: the same calls give the same text.
  EXPECT_EQ(WordCount("counts", "word-counts")->Describe(), topology->Describe());
}

TEST(TopologyBuildTest, StoreErrorsNameTheStoreAndNode) {
  TopologyBuilder tb;
  tb.AddSource<std::string, std::string>("src", {"t"}, serdes::String(), serdes::String());
  tb.AddStateStore(StoreSpec{.name = "s"}, {"missing"});
  auto built = tb.Build();
  ASSERT_FALSE(built.ok());
  EXPECT_THAT(std::string(built.status().message()), HasSubstr("state store 's': processor 'missing' does not exist"));

  TopologyBuilder dup;
  dup.AddSource<std::string, std::string>("src", {"t"}, serdes::String(), serdes::String());
  dup.AddStateStore(StoreSpec{.name = "s"}, {"src"});
  EXPECT_THAT(std::string(dup.Build().status().message()), HasSubstr("node 'src' is not a processor"));
}

}  // namespace
}  // namespace runnel
