// The topology compatibility check's comparison, without a broker: each
// change that would orphan or misread state is breaking and named, each
// harmless one is not, and a stateless branch or a renamed processor is no
// change that matters.

#include "runnel/runtime/topology_compatibility.h"

#include <algorithm>
#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kApp[] = "app";

using Partitions = std::map<std::string, int32_t>;
using Build = std::function<void(StreamsBuilder&)>;

// The summary of the topology `build` makes, resolved for kApp, with the
// source topics' partition counts `sources` and internal topics sized as
// KafkaStreams sizes them.
v1::TopologySummary Summarize(const Build& build, Partitions sources = {{"in", 2}, {"other", 2}}) {
  StreamsBuilder builder;
  build(builder);
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  auto resolved = (*topology)->Resolve(kApp);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  Partitions partitions;
  for (const auto& topic : (*resolved)->SourceTopics()) {
    if (!(*resolved)->internal_topics().contains(topic)) partitions[topic] = sources.at(topic);
  }
  EXPECT_TRUE((*resolved)->SizeInternalTopics(&partitions).ok());
  return SummarizeTopology(**resolved, kApp, partitions);
}

std::vector<std::string> Messages(const std::vector<TopologyChange>& changes, TopologyChange::Severity severity) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    if (c.severity == severity) out.push_back(c.message);
  }
  return out;
}
std::vector<std::string> Breaking(const std::vector<TopologyChange>& changes) {
  return Messages(changes, TopologyChange::Severity::kBreaking);
}
std::vector<std::string> Harmless(const std::vector<TopologyChange>& changes) {
  return Messages(changes, TopologyChange::Severity::kHarmless);
}

KStream<std::string, std::string> Input(StreamsBuilder& b, const std::string& topic = "in") {
  return b.Stream(topic, Consumed(serdes::String(), serdes::String()));
}

// in -> count per key in store `store` -> out.
Build CountApp(std::string store = "counts", SerdePtr<std::string> key_serde = serdes::String()) {
  return [store, key_serde](StreamsBuilder& b) {
    Input(b).GroupByKey()
        .Count(Materialized<std::string, int64_t>::As(store, key_serde, serdes::Int64()))
        .ToStream()
        .To("out", Produced(serdes::String(), serdes::Int64()));
  };
}

// in -> re-keyed by value through repartition topic <grouping>-repartition
// -> count in "counts".
Build RekeyedCountApp(std::string grouping = "by-value") {
  return [grouping](StreamsBuilder& b) {
    Input(b)
        .GroupBy([](const std::string&, const std::string& v) { return v; },
                 Grouped<std::string, std::string>(serdes::String(), serdes::String(), grouping))
        .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
  };
}

Build WindowedCountApp(absl::Duration size) {
  return [size](StreamsBuilder& b) {
    Input(b).GroupByKey()
        .WindowedBy(TimeWindows::OfSizeAndGrace(size, absl::ZeroDuration()))
        .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
  };
}

TEST(TopologyCompatibilityTest, TheSameTopologyHasNoChangesAndTheSameRecord) {
  const auto a = Summarize(CountApp());
  const auto b = Summarize(CountApp());
  EXPECT_THAT(CompareTopologies(a, b), IsEmpty());
  EXPECT_EQ(SerializeTopologySummary(a), SerializeTopologySummary(b));
}

TEST(TopologyCompatibilityTest, TheSummaryHoldsTheStateRelevantShape) {
  const auto s = Summarize(RekeyedCountApp());
  ASSERT_EQ(s.stores_size(), 1);
  EXPECT_EQ(s.stores(0).name(), "counts");
  EXPECT_EQ(s.stores(0).layout(), "key_value");
  EXPECT_EQ(s.stores(0).kind(), "rocksdb");
  EXPECT_EQ(s.stores(0).changelog_topic(), "app-counts-changelog");
  EXPECT_EQ(s.stores(0).key_serde(), serdes::String()->Name());
  ASSERT_EQ(s.internal_topics_size(), 2);
  EXPECT_EQ(s.internal_topics(0).name(), "app-by-value-repartition");
  EXPECT_EQ(s.internal_topics(0).role(), "repartition");
  EXPECT_EQ(s.internal_topics(0).partitions(), 2);
  EXPECT_EQ(s.internal_topics(1).name(), "app-counts-changelog");
  EXPECT_EQ(s.internal_topics(1).partitions(), 2);
  EXPECT_EQ(s.subtopologies_size(), 2);
  EXPECT_THAT(s.description(), HasSubstr("counts"));
}

TEST(TopologyCompatibilityTest, AStatelessBranchAddedIsFine) {
  const auto before = Summarize(CountApp());
  const auto after = Summarize([](StreamsBuilder& b) {
    auto in = Input(b);
    in.GroupByKey()
        .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
        .ToStream()
        .To("out", Produced(serdes::String(), serdes::Int64()));
    // A branch off the same input, and a new input of its own.
    in.Filter([](const std::string&, const std::string& v) { return !v.empty(); })
        .To("non-empty", Produced(serdes::String(), serdes::String()));
    Input(b, "other").To("copy", Produced(serdes::String(), serdes::String()));
  });
  const auto changes = CompareTopologies(before, after);
  EXPECT_THAT(Breaking(changes), IsEmpty());
  EXPECT_THAT(Harmless(changes), ::testing::ElementsAre(HasSubstr("sub-topology 1 is new")));
}

TEST(TopologyCompatibilityTest, ARenamedProcessorIsNoChange) {
  auto app = [](std::string filter_name) {
    return [filter_name](StreamsBuilder& b) {
      Input(b).Filter([](const std::string&, const std::string&) { return true; }, Named(filter_name))
          .GroupByKey()
          .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
    };
  };
  EXPECT_THAT(CompareTopologies(Summarize(app("keep")), Summarize(app("keep-all"))), IsEmpty());
}

TEST(TopologyCompatibilityTest, ARenamedStoreIsBreakingAndNamesItsChangelog) {
  const auto changes = CompareTopologies(Summarize(CountApp("counts")), Summarize(CountApp("tallies")));
  EXPECT_THAT(Breaking(changes),
              ::testing::ElementsAre(AllOf(HasSubstr("store 'counts' is gone"), HasSubstr("renamed to 'tallies'?"),
                                           HasSubstr("'app-counts-changelog' still holds its state"))));
  EXPECT_THAT(Harmless(changes), ::testing::ElementsAre(HasSubstr("store 'tallies' is new")));
}

TEST(TopologyCompatibilityTest, ARemovedStoreIsBreaking) {
  const auto after = Summarize([](StreamsBuilder& b) {
    Input(b).To("out", Produced(serdes::String(), serdes::String()));
  });
  EXPECT_THAT(Breaking(CompareTopologies(Summarize(CountApp()), after)),
              ::testing::ElementsAre(HasSubstr("store 'counts' is gone: its changelog topic 'app-counts-changelog'")));
}

TEST(TopologyCompatibilityTest, AnAddedStoreStartsEmptyAndIsNotBreaking) {
  const auto after = Summarize([](StreamsBuilder& b) {
    CountApp()(b);
    Input(b, "other").GroupByKey().Count(
        Materialized<std::string, int64_t>::As("other-counts", serdes::String(), serdes::Int64()));
  });
  const auto changes = CompareTopologies(Summarize(CountApp()), after);
  EXPECT_THAT(Breaking(changes), IsEmpty());
  EXPECT_THAT(Harmless(changes), ::testing::Contains(AllOf(HasSubstr("store 'other-counts' is new"),
                                                           HasSubstr("starts empty"))));
}

TEST(TopologyCompatibilityTest, AStoreMovedToAnotherSubtopologyIsBreaking) {
  auto stateless = [](StreamsBuilder& b) { Input(b, "other").To("copy", Produced(serdes::String(), serdes::String())); };
  const auto before = Summarize([&](StreamsBuilder& b) {
    CountApp()(b);
    stateless(b);
  });
  const auto after = Summarize([&](StreamsBuilder& b) {
    stateless(b);
    CountApp()(b);
  });
  EXPECT_THAT(Breaking(CompareTopologies(before, after)),
              ::testing::ElementsAre(HasSubstr("store 'counts' moved from sub-topology 0 to sub-topology 1")));
}

TEST(TopologyCompatibilityTest, AStoreWhoseTypeChangedIsBreaking) {
  EXPECT_THAT(Breaking(CompareTopologies(Summarize(CountApp()), Summarize(WindowedCountApp(absl::Seconds(10))))),
              ::testing::Contains(HasSubstr("store 'counts' changed type from key_value to window")));
}

TEST(TopologyCompatibilityTest, AChangedWindowSizeIsBreaking) {
  EXPECT_THAT(Breaking(CompareTopologies(Summarize(WindowedCountApp(absl::Seconds(10))),
                                         Summarize(WindowedCountApp(absl::Seconds(20))))),
              ::testing::Contains(HasSubstr("store 'counts' changed window size from 10000 ms to 20000 ms")));
}

TEST(TopologyCompatibilityTest, ChangedSerdesAreBreakingWhereTheDslShowsThem) {
  const auto before = Summarize(CountApp("counts", serdes::String()));
  const auto after = Summarize(CountApp("counts", serdes::Bytes()));
  ASSERT_NE(serdes::String()->Name(), serdes::Bytes()->Name());
  EXPECT_THAT(Breaking(CompareTopologies(before, after)),
              ::testing::ElementsAre(HasSubstr("store 'counts' changed its key serde")));
  // A store whose serdes the topology does not know (the Processor API) is
  // not judged by them.
  auto unknown = after;
  unknown.mutable_stores(0)->clear_key_serde();
  EXPECT_THAT(CompareTopologies(before, unknown), IsEmpty());
}

TEST(TopologyCompatibilityTest, TurningLoggingOffIsBreaking) {
  const auto after = Summarize([](StreamsBuilder& b) {
    Input(b).GroupByKey().Count(
        Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()).WithLoggingDisabled());
  });
  EXPECT_THAT(Breaking(CompareTopologies(Summarize(CountApp()), after)),
              ::testing::Contains(AllOf(HasSubstr("changed logging from on to off"),
                                        HasSubstr("'app-counts-changelog' would be orphaned"))));
}

TEST(TopologyCompatibilityTest, ARenamedRepartitionTopicIsBreaking) {
  const auto changes = CompareTopologies(Summarize(RekeyedCountApp("by-value")), Summarize(RekeyedCountApp("by-word")));
  EXPECT_THAT(Breaking(changes), ::testing::ElementsAre(HasSubstr("repartition topic 'app-by-value-repartition' is gone")));
  EXPECT_THAT(Harmless(changes), ::testing::ElementsAre(HasSubstr("'app-by-word-repartition' is new")));
}

TEST(TopologyCompatibilityTest, AChangedRepartitionPartitionCountIsBreaking) {
  const auto before = Summarize(RekeyedCountApp(), {{"in", 2}});
  const auto after = Summarize(RekeyedCountApp(), {{"in", 4}});
  EXPECT_THAT(Breaking(CompareTopologies(before, after)),
              ::testing::Contains(HasSubstr(
                  "repartition topic 'app-by-value-repartition' has 2 partitions, the new topology needs 4")));
}

TEST(TopologyCompatibilityTest, AStatefulSourcePartitionCountChangedIsBreakingAStatelessOneIsNot) {
  const auto changes = CompareTopologies(Summarize(CountApp(), {{"in", 2}}), Summarize(CountApp(), {{"in", 3}}));
  EXPECT_THAT(Breaking(changes),
              ::testing::UnorderedElementsAre(
                  HasSubstr("changelog topic 'app-counts-changelog' has 2 partitions, the new topology needs 3"),
                  HasSubstr("source topic 'in' of sub-topology 0 (stores: counts) had 2 partitions and has 3")));
  auto copy = [](StreamsBuilder& b) { Input(b).To("copy", Produced(serdes::String(), serdes::String())); };
  EXPECT_THAT(CompareTopologies(Summarize(copy, {{"in", 2}}), Summarize(copy, {{"in", 3}})), IsEmpty());
}

TEST(TopologyCompatibilityTest, TheErrorNamesEveryBreakingChangeAndWhatToDo) {
  const auto recorded = Summarize(CountApp("counts"));
  const absl::Status error =
      IncompatibleTopologyError(CompareTopologies(recorded, Summarize(CountApp("tallies"))), recorded);
  EXPECT_TRUE(absl::IsFailedPrecondition(error));
  EXPECT_THAT(error.message(), AllOf(HasSubstr("store 'counts' is gone"), ::testing::Not(HasSubstr("'tallies' is new")),
                                     HasSubstr("runnel-reset"), HasSubstr("topology.compatibility.check=warn"),
                                     HasSubstr("app-topology"), HasSubstr(recorded.description())));
}

TEST(TopologyCompatibilityTest, TheRecordRoundTripsAndUnreadableOnesAreRefused) {
  const auto summary = Summarize(RekeyedCountApp());
  auto parsed = ParseTopologySummary(SerializeTopologySummary(summary));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(SerializeTopologySummary(*parsed), SerializeTopologySummary(summary));
  // Fields a newer Runnel adds are ignored; a newer format is refused.
  auto with_extra = ParseTopologySummary(R"({"format_version": 1, "application_id": "app", "later": 3})");
  EXPECT_TRUE(with_extra.ok()) << with_extra.status();
  EXPECT_TRUE(absl::IsInvalidArgument(ParseTopologySummary(R"({"format_version": 2})").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseTopologySummary("not json").status()));
}

}  // namespace
}  // namespace runnel
