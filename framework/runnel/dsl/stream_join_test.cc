// KStream-KStream windowed joins through the TopologyTestDriver: exact
// output (key, value, timestamp) against hand-computed expectations, and a
// seeded random comparison with a naive model of the join rules
// (NaiveJoin) that keeps every record in a vector.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel {

void PrintTo(const TestKeyValue<std::string, std::string>& kv, std::ostream* os) {
  *os << kv.key << "=" << kv.value << "@" << kv.timestamp.value();
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Out = TestKeyValue<std::string, std::string>;
using Joined = StreamJoined<std::string, std::string, std::string>;

Out O(std::string key, std::string value, int64_t t) { return Out{std::move(key), std::move(value), Timestamp(t)}; }

enum class Kind { kInner, kLeft, kOuter };

Joined Strings() { return Joined::With(serdes::String(), serdes::String(), serdes::String()); }

// left.<kind>Join(right) -> "out"; values "<left>|<right>", "null" for none.
void AddJoin(StreamsBuilder& builder, Kind kind, const JoinWindows& windows, Joined joined = Strings()) {
  auto left = builder.Stream("left", Consumed(serdes::String(), serdes::String()));
  auto right = builder.Stream("right", Consumed(serdes::String(), serdes::String()));
  const Produced<std::string, std::string> produced(serdes::String(), serdes::String());
  switch (kind) {
    case Kind::kInner:
      left.Join(right, [](const std::string& l, const std::string& r) { return l + "|" + r; }, windows, joined)
          .To("out", produced);
      break;
    case Kind::kLeft:
      left.LeftJoin(
              right,
              [](const std::string& l, const std::optional<std::string>& r) { return l + "|" + r.value_or("null"); },
              windows, joined)
          .To("out", produced);
      break;
    case Kind::kOuter:
      left.OuterJoin(
              right,
              [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
                return l.value_or("null") + "|" + r.value_or("null");
              },
              windows, joined)
          .To("out", produced);
      break;
  }
}

int64_t DroppedRecords(TopologyTestDriver& driver, const std::string& reason) {
  int64_t total = 0;
  for (const MetricSample& m : driver.metrics().Snapshot()) {
    if (m.name == "runnel_dropped_records_total" && m.labels.at("reason") == reason) total += m.value;
  }
  return total;
}

JoinWindows Windows(int64_t before, int64_t after, int64_t grace) { return JoinWindows{before, after, grace}; }

class Harness {
 public:
  Harness(Kind kind, const JoinWindows& windows, bool in_memory = false) {
    StreamsBuilder builder;
    Joined joined = Strings();
    if (in_memory) joined.InMemory();
    AddJoin(builder, kind, windows, joined);
    auto topology = builder.Build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    auto driver = TopologyTestDriver::Create(*topology);
    EXPECT_TRUE(driver.ok()) << driver.status();
    driver_ = *std::move(driver);
  }

  void Left(const std::string& key, const std::string& value, int64_t t) { Pipe("left", key, value, t); }
  void Right(const std::string& key, const std::string& value, int64_t t) { Pipe("right", key, value, t); }
  std::vector<Out> Read() {
    auto out = driver_->CreateOutputTopic("out", serdes::String(), serdes::String()).ReadKeyValuesToList();
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : std::vector<Out>{};
  }
  int64_t Dropped(const std::string& reason) const { return DroppedRecords(*driver_, reason); }
  TopologyTestDriver& driver() { return *driver_; }

 private:
  void Pipe(const std::string& topic, const std::string& key, const std::string& value, int64_t t) {
    auto in = driver_->CreateInputTopic(topic, serdes::String(), serdes::String());
    absl::Status s = in.PipeInput(key, value, Timestamp(t));
    EXPECT_TRUE(s.ok()) << s;
  }
  std::unique_ptr<TopologyTestDriver> driver_;
};

TEST(StreamJoinTest, InnerJoinPairsRecordsWithinTheWindowInAnyArrivalOrder) {
  Harness h(Kind::kInner, Windows(10, 10, 5));
  h.Left("a", "A1", 100);
  EXPECT_THAT(h.Read(), IsEmpty());
  h.Right("a", "r1", 105);  // after the left record
  h.Right("a", "r2", 95);   // before it, arriving out of order
  h.Right("b", "rb", 100);  // another key
  h.Left("a", "A2", 104);   // meets both right records, in time order
  EXPECT_THAT(h.Read(), ElementsAre(O("a", "A1|r1", 105), O("a", "A1|r2", 100), O("a", "A2|r2", 104),
                                    O("a", "A2|r1", 105)));
  EXPECT_EQ(h.Dropped("late"), 0);
}

// A left record at 100 meets right records in [100 - before, 100 + after];
// a right record at 500 meets left ones in [500 - after, 500 + before]. One
// millisecond outside either bound meets nothing.
void ExpectInclusiveBounds(int64_t before, int64_t after) {
  SCOPED_TRACE(absl::StrCat("before ", before, " after ", after));
  Harness h(Kind::kInner, Windows(before, after, 1000));
  h.Left("k", "L", 100);
  for (int64_t t : {100 - before - 1, 100 - before, 100 + after, 100 + after + 1}) {
    h.Right("k", absl::StrCat("r", t), t);
  }
  const std::string lo = absl::StrCat(100 - before);
  const std::string hi = absl::StrCat(100 + after);
  EXPECT_THAT(h.Read(), ElementsAre(O("k", "L|r" + lo, 100), O("k", "L|r" + hi, 100 + after)));
  h.Right("m", "R", 500);
  for (int64_t t : {500 + before + 1, 500 + before, 500 - after, 500 - after - 1}) {
    h.Left("m", absl::StrCat("l", t), t);
  }
  EXPECT_THAT(h.Read(), ElementsAre(O("m", absl::StrCat("l", 500 + before, "|R"), 500 + before),
                                    O("m", absl::StrCat("l", 500 - after, "|R"), 500)));
}

TEST(StreamJoinTest, WindowBoundsAreInclusiveOnBothSides) { ExpectInclusiveBounds(10, 10); }

TEST(StreamJoinTest, AsymmetricWindowsMirrorForTheRightSide) {
  ExpectInclusiveBounds(5, 20);
  ExpectInclusiveBounds(20, 0);
}

TEST(StreamJoinTest, DuplicateTimestampsAreAllKeptAndJoinedInArrivalOrder) {
  Harness h(Kind::kInner, Windows(0, 0, 0));
  h.Left("d", "x", 50);
  h.Left("d", "y", 50);
  h.Right("d", "z", 50);
  h.Right("d", "w", 50);
  h.Left("d", "v", 50);
  EXPECT_THAT(h.Read(), ElementsAre(O("d", "x|z", 50), O("d", "y|z", 50), O("d", "x|w", 50), O("d", "y|w", 50),
                                    O("d", "v|z", 50), O("d", "v|w", 50)));
}

TEST(StreamJoinTest, LateRecordsAreDroppedAndCountedPerSide) {
  // Left late when t + after + grace < stream time; right when
  // t + before + grace < stream time.
  Harness h(Kind::kInner, Windows(5, 20, 10));
  h.Left("a", "A", 100);
  h.Left("z", "Z", 200);  // stream time 200
  h.Right("a", "late", 184);  // 184 + 5 + 10 = 199 < 200: late
  h.Right("a", "r185", 185);  // 185 + 15 = 200: on time; its window [165, 190] holds no left record
  h.Left("a", "late", 169);   // 169 + 20 + 10 = 199: late, though r185 is in its window
  h.Left("a", "l170", 170);   // on time, meets r185
  EXPECT_THAT(h.Read(), ElementsAre(O("a", "l170|r185", 185)));
  EXPECT_EQ(h.Dropped("late"), 2);
  EXPECT_EQ(h.Dropped("null_key_or_value"), 0);
}

TEST(StreamJoinTest, StreamTimeIsSharedByBothSides) {
  Harness h(Kind::kInner, Windows(10, 10, 0));
  h.Left("a", "A", 100);
  h.Right("z", "Z", 300);  // only the right side moves stream time
  h.Right("a", "late", 100);
  EXPECT_THAT(h.Read(), IsEmpty());
  EXPECT_EQ(h.Dropped("late"), 1);
}

TEST(StreamJoinTest, NegativeTimestampsAreDroppedAndCounted) {
  Harness h(Kind::kOuter, Windows(10, 10, 0));
  h.Left("a", "neg", -1);
  h.Right("a", "R", 0);
  h.Left("z", "Z", 100);
  EXPECT_THAT(h.Read(), ElementsAre(O("a", "null|R", 0)));
  EXPECT_EQ(h.Dropped("negative_timestamp"), 1);
}

TEST(StreamJoinTest, LeftJoinEmitsAnUnmatchedRecordOnlyOnceItsPartnersWouldBeLate) {
  // Window 10/10, grace 5: a right record at t' is late once
  // t' + 10 + 5 < stream time, so one at 110 (the last that meets a left
  // record at 100) may come until stream time 125. A|null waits for 126.
  Harness h(Kind::kLeft, Windows(10, 10, 5));
  h.Left("a", "A", 100);
  h.Left("x", "X1", 110);
  h.Left("x", "X2", 125);
  EXPECT_THAT(h.Read(), IsEmpty());
  h.Right("a", "r110", 110);  // on time at stream time 125: a real pair, and A leaves the buffer
  EXPECT_THAT(h.Read(), ElementsAre(O("a", "A|r110", 110)));
  h.Left("b", "B", 126);
  h.Left("x", "X3", 200);  // closes everything before 175, oldest first
  EXPECT_THAT(h.Read(), ElementsAre(O("x", "X1|null", 110), O("x", "X2|null", 125), O("b", "B|null", 126)));
  h.Left("y", "Y", 300);
  EXPECT_THAT(h.Read(), ElementsAre(O("x", "X3|null", 200)));
}

TEST(StreamJoinTest, LeftJoinEmitsNothingBeforeTheWindowClosesEvenOutOfOrder) {
  Harness h(Kind::kLeft, Windows(10, 10, 0));
  h.Left("a", "A", 100);
  h.Left("b", "B", 120);  // 100 + 20 = 120: not yet closed
  EXPECT_THAT(h.Read(), IsEmpty());
  h.Left("c", "C", 110);  // out of order, on time; stream time stays 120
  h.Right("c", "rc", 112);
  EXPECT_THAT(h.Read(), ElementsAre(O("c", "C|rc", 112)));
  h.Left("d", "D", 121);  // closes A only
  EXPECT_THAT(h.Read(), ElementsAre(O("a", "A|null", 100)));
  // Right records never produce output of their own in a left join.
  h.Right("r", "alone", 121);
  h.Left("e", "E", 1000);
  EXPECT_THAT(h.Read(), ElementsAre(O("b", "B|null", 120), O("d", "D|null", 121)));
}

TEST(StreamJoinTest, OuterJoinEmitsUnmatchedRecordsOfBothSidesOldestFirst) {
  // Late: t + 15 < stream time. Unmatched records close at t + 20.
  Harness h(Kind::kOuter, Windows(5, 5, 10));
  h.Right("a", "ra", 100);
  h.Left("b", "B", 100);
  h.Right("b", "rb", 90);  // outside B's window [95, 105]: both stay unmatched
  h.Left("c", "C", 102);
  h.Right("c", "rc", 104);  // meets C
  h.Left("a", "A", 94);     // outside ra's window [95, 105]
  EXPECT_THAT(h.Read(), ElementsAre(O("c", "C|rc", 104)));
  h.Left("z", "Z", 115);  // closes what is before 95
  EXPECT_THAT(h.Read(), ElementsAre(O("b", "null|rb", 90), O("a", "A|null", 94)));
  h.Left("z", "Z2", 121);  // closes B and ra (100): at one time, left before right
  EXPECT_THAT(h.Read(), ElementsAre(O("b", "B|null", 100), O("a", "null|ra", 100)));
  h.Left("z", "Z3", 200);
  EXPECT_THAT(h.Read(), ElementsAre(O("z", "Z|null", 115), O("z", "Z2|null", 121)));
}

TEST(StreamJoinTest, OuterJoinMatchRemovesEveryBufferedPartnerAtThatTime) {
  Harness h(Kind::kOuter, Windows(10, 10, 0), /*in_memory=*/true);
  h.Left("k", "L1", 100);
  h.Left("k", "L2", 100);
  h.Right("k", "R", 105);  // meets both L1 and L2
  h.Right("k", "R2", 111); // meets neither (111 - 10 = 101)
  h.Left("z", "Z", 500);
  EXPECT_THAT(h.Read(), ElementsAre(O("k", "L1|R", 105), O("k", "L2|R", 105), O("k", "null|R2", 111)));
}

TEST(StreamJoinTest, SelfJoinSeesEachRecordAsLeftThenRight) {
  StreamsBuilder builder;
  auto s = builder.Stream("in", Consumed(serdes::String(), serdes::String()));
  s.Join(s, [](const std::string& l, const std::string& r) { return l + "|" + r; },
         JoinWindows::OfTimeDifferenceWithNoGrace(absl::Milliseconds(10)), Strings())
      .To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto driver = *TopologyTestDriver::Create(*topology);
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::String());
  auto out = driver->CreateOutputTopic("out", serdes::String(), serdes::String());
  ASSERT_TRUE(in.PipeInput("k", "a", Timestamp(100)).ok());
  ASSERT_TRUE(in.PipeInput("k", "b", Timestamp(105)).ok());
  ASSERT_TRUE(in.PipeInput("k", "c", Timestamp(200)).ok());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(O("k", "a|a", 100), O("k", "b|a", 105), O("k", "a|b", 105),
                                                      O("k", "b|b", 105), O("k", "c|c", 200)));
}

TEST(StreamJoinTest, NullValuesAreDroppedAndCounted) {
  StreamsBuilder builder;
  auto nullable = serdes::Nullable(serdes::String());
  auto left = builder.Stream("left", Consumed(serdes::String(), nullable));
  auto right = builder.Stream("right", Consumed(serdes::String(), serdes::String()));
  left.LeftJoin(
          right,
          [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
            return l.value_or("null") + "|" + r.value_or("null");
          },
          JoinWindows{10, 10, 0},
          StreamJoined<std::string, std::optional<std::string>, std::string>::With(serdes::String(), nullable,
                                                                                   serdes::String()))
      .To("out", Produced(serdes::String(), serdes::String()));
  auto driver = *TopologyTestDriver::Create(*builder.Build());
  auto in = driver->CreateInputTopic("left", serdes::String(), nullable);
  ASSERT_TRUE(in.PipeInput("k", std::nullopt, Timestamp(100)).ok());
  ASSERT_TRUE(in.PipeInput("k", "v", Timestamp(100)).ok());
  ASSERT_TRUE(in.PipeInput("z", "w", Timestamp(1000)).ok());
  auto out = driver->CreateOutputTopic("out", serdes::String(), serdes::String());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(O("k", "v|null", 100)));
  EXPECT_EQ(DroppedRecords(*driver, "null_key_or_value"), 1);
}

TEST(StreamJoinTest, StoresAreNamedLikeKafkaStreamsAndShareOneSubtopology) {
  StreamsBuilder builder;
  AddJoin(builder, Kind::kLeft, Windows(10, 20, 5));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  const auto& stores = (*topology)->stores();
  ASSERT_EQ(stores.size(), 3u);
  const StoreSpec& left = stores.at("KSTREAM-JOINTHIS-0000000002-store");
  const StoreSpec& right = stores.at("KSTREAM-OUTEROTHER-0000000003-store");
  const StoreSpec& shared = stores.at("KSTREAM-OUTERSHARED-0000000002-store");
  EXPECT_EQ(left.retention_ms, 35);
  EXPECT_EQ(right.retention_ms, 35);
  EXPECT_EQ(shared.retention_ms, std::nullopt);
  EXPECT_FALSE(left.caching);
  EXPECT_TRUE(left.logging);
  ASSERT_EQ((*topology)->subtopologies().size(), 1u);
  EXPECT_EQ((*topology)->subtopologies()[0].source_topics, (std::set<std::string>{"left", "right"}));
  EXPECT_THAT((*topology)->Describe(), HasSubstr("KSTREAM-MERGE-0000000004"));

  StreamsBuilder named;
  AddJoin(named, Kind::kOuter, Windows(10, 10, 0), Strings().WithName("j").WithStoreName("s"));
  auto named_topology = named.Build();
  ASSERT_TRUE(named_topology.ok()) << named_topology.status();
  std::vector<std::string> names;
  for (const auto& [name, spec] : (*named_topology)->stores()) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("s-outer-other-join-store", "s-outer-this-join-store", "s-shared-outer-join-store"));
  EXPECT_THAT((*named_topology)->Describe(), HasSubstr("j-merge"));
}

TEST(StreamJoinTest, BuildRejectsInvalidWindowsAndNamesTheJoin) {
  StreamsBuilder builder;
  AddJoin(builder, Kind::kInner, Windows(10, 10, -1));
  auto topology = builder.Build();
  ASSERT_FALSE(topology.ok());
  EXPECT_EQ(topology.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(topology.status().message(), HasSubstr("join 'KSTREAM-MERGE-0000000004'"));
  EXPECT_THAT(topology.status().message(), HasSubstr("grace"));

  StreamsBuilder negative_size;
  AddJoin(negative_size, Kind::kInner, Windows(-10, 5, 0));
  EXPECT_EQ(negative_size.Build().status().code(), absl::StatusCode::kInvalidArgument);
}

// Re-keys by the value's first letter.
KStream<std::string, std::string> ByInitial(StreamsBuilder& builder, const std::string& topic) {
  return builder.Stream(topic, Consumed(serdes::String(), serdes::String()))
      .SelectKey([](const std::string&, const std::string& v) { return v.substr(0, 1); });
}

std::string Concat(const std::string& l, const std::string& r) { return l + "|" + r; }

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Kafka Streams inserts a repartition topic on each side whose key changed:
// <upstream node>-repartition, or <name>-left/-right-repartition for a named
// join. The records cross it and meet by their new key.
TEST(StreamJoinTest, AJoinAfterAKeyChangeRepartitionsTheChangedSides) {
  StreamsBuilder builder;
  auto left = ByInitial(builder, "left");
  auto right = ByInitial(builder, "right");
  left.Join(right, Concat, Windows(10, 10, 0), Strings()).To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  const std::string described = (*topology)->Describe();
  EXPECT_THAT(described, HasSubstr("Sink: KSTREAM-KEY-SELECT-0000000001-repartition-sink (topic: "
                                   "KSTREAM-KEY-SELECT-0000000001-repartition)"));
  EXPECT_THAT(described, HasSubstr("Source: KSTREAM-KEY-SELECT-0000000003-repartition-source (topics: "
                                   "[KSTREAM-KEY-SELECT-0000000003-repartition])"));
  EXPECT_EQ((*topology)->internal_topics().size(), 2u);
  // The sides' sub-topologies write the topics; the join reads both.
  EXPECT_EQ((*topology)->subtopologies().size(), 3u);
  auto driver = TopologyTestDriver::Create(*topology);
  ASSERT_TRUE(driver.ok()) << driver.status();
  auto l = (*driver)->CreateInputTopic("left", serdes::String(), serdes::String());
  auto r = (*driver)->CreateInputTopic("right", serdes::String(), serdes::String());
  ASSERT_TRUE(l.PipeInput("k1", "apple", Timestamp(100)).ok());
  ASSERT_TRUE(r.PipeInput("k2", "avocado", Timestamp(105)).ok());
  ASSERT_TRUE(r.PipeInput("k1", "banana", Timestamp(106)).ok());
  ASSERT_TRUE(l.PipeInput("k3", "blueberry", Timestamp(120)).ok());  // 14 ms after banana: outside
  ASSERT_TRUE(l.PipeInput("k4", "bean", Timestamp(110)).ok());
  auto out = (*driver)->CreateOutputTopic("out", serdes::String(), serdes::String()).ReadKeyValuesToList();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, ElementsAre(O("a", "apple|avocado", 105), O("b", "bean|banana", 110)));
}

TEST(StreamJoinTest, ANamedJoinNamesItsRepartitionTopicsAfterItself) {
  StreamsBuilder builder;
  auto left = ByInitial(builder, "left");
  auto right = builder.Stream("right", Consumed(serdes::String(), serdes::String()));
  left.Join(right, Concat, Windows(10, 10, 0), Strings().WithName("j"))
      .To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  // Only the side whose key changed is repartitioned.
  EXPECT_THAT((*topology)->internal_topics(), ElementsAre("j-left-repartition"));
  EXPECT_THAT((*topology)->Describe(), HasSubstr("Processor: j-left-repartition-filter"));
}

// A re-keyed stream joined twice writes one repartition topic, read by
// both joins (as Kafka Streams reuses it); two streams that would need the
// same topic name are a naming conflict.
TEST(StreamJoinTest, ARekeyedStreamJoinedTwiceSharesItsRepartitionTopic) {
  StreamsBuilder builder;
  auto left = ByInitial(builder, "left");
  auto first = builder.Stream("first", Consumed(serdes::String(), serdes::String()));
  auto second = builder.Stream("second", Consumed(serdes::String(), serdes::String()));
  left.Join(first, Concat, Windows(10, 10, 0), Strings()).To("out", Produced(serdes::String(), serdes::String()));
  left.Join(second, Concat, Windows(10, 10, 0), Strings()).To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  EXPECT_EQ(Occurrences((*topology)->Describe(), "Sink: KSTREAM-KEY-SELECT-0000000001-repartition-sink"), 1u);
  auto driver = TopologyTestDriver::Create(*topology);
  ASSERT_TRUE(driver.ok()) << driver.status();
  ASSERT_TRUE((*driver)->CreateInputTopic("first", serdes::String(), serdes::String())
                  .PipeInput("c", "one", Timestamp(100)).ok());
  ASSERT_TRUE((*driver)->CreateInputTopic("second", serdes::String(), serdes::String())
                  .PipeInput("c", "two", Timestamp(101)).ok());
  ASSERT_TRUE((*driver)->CreateInputTopic("left", serdes::String(), serdes::String())
                  .PipeInput("x", "cherry", Timestamp(102)).ok());
  auto out = (*driver)->CreateOutputTopic("out", serdes::String(), serdes::String()).ReadKeyValuesToList();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, testing::UnorderedElementsAre(O("c", "cherry|one", 102), O("c", "cherry|two", 102)));

  StreamsBuilder conflicting;
  auto a = ByInitial(conflicting, "a");
  auto b = ByInitial(conflicting, "b");
  auto other = conflicting.Stream("other", Consumed(serdes::String(), serdes::String()));
  a.Join(other, Concat, Windows(10, 10, 0), Strings().WithName("j"));
  b.Join(other, Concat, Windows(10, 10, 0), Strings().WithName("j"));
  auto failed = conflicting.Build();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(failed.status().message(), HasSubstr("repartition topic 'j-left-repartition'"));
}

// Repartition topics are sized so that each join's inputs are
// co-partitioned: two re-keyed sides take the larger of their writers'
// counts (left from 4 partitions, right from 2: both 4); a re-keyed stream
// joining a table takes the table's count whatever its own source has.
TEST(StreamJoinTest, RepartitionTopicsAreSizedForCoPartitionedJoins) {
  StreamsBuilder builder;
  auto left = ByInitial(builder, "left");
  auto right = ByInitial(builder, "right");
  left.Join(right, Concat, Windows(10, 10, 0), Strings().WithName("pair"))
      .To("out", Produced(serdes::String(), serdes::String()));
  auto table = builder.Table("table", Consumed(serdes::String(), serdes::String()),
                             Materialized<std::string, std::string>::As("t", serdes::String(), serdes::String()));
  ByInitial(builder, "orders")
      .Join(table, Concat, runnel::Joined<std::string, std::string, std::string>::With(
                               serdes::String(), serdes::String(), serdes::String()).WithName("enrich"))
      .To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  std::map<std::string, int32_t> partitions{{"left", 4}, {"right", 2}, {"table", 3}, {"orders", 8}};
  ASSERT_TRUE((*topology)->SizeInternalTopics(&partitions).ok());
  EXPECT_EQ(partitions["pair-left-repartition"], 4);
  EXPECT_EQ(partitions["pair-right-repartition"], 4);
  EXPECT_EQ(partitions["enrich-repartition"], 3);
  EXPECT_TRUE((*topology)->CheckCoPartitioned(partitions).ok());

  // Without the counts of the topics upstream, a repartition topic cannot
  // be sized.
  std::map<std::string, int32_t> unknown{{"table", 3}};
  absl::Status s = (*topology)->SizeInternalTopics(&unknown);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("cannot size repartition topic"));
}

// ---- A naive model of the rules, for random inputs ----

struct Input {
  int side;  // 0 left, 1 right
  std::string key;
  std::string value;
  int64_t t;
};

struct NaiveResult {
  std::vector<Out> out;
  int64_t late = 0;
};

// Every accepted record is kept forever; the rules are applied literally.
NaiveResult NaiveJoin(Kind kind, const JoinWindows& w, const std::vector<Input>& inputs) {
  const bool outer[2] = {kind != Kind::kInner, kind == Kind::kOuter};
  const int64_t reach[2] = {std::max<int64_t>(w.after_ms, 0), std::max<int64_t>(w.before_ms, 0)};
  // The latest partner of a left record is at t + after and is late after
  // its own reach + grace; likewise for a right one at t' + before.
  const int64_t horizon[2] = {w.after_ms + reach[1] + w.grace_ms, w.before_ms + reach[0] + w.grace_ms};
  NaiveResult result;
  int64_t stream_time = -1;
  std::vector<std::pair<Input, size_t>> accepted;  // with arrival index
  std::vector<std::pair<Input, size_t>> waiting;   // unmatched, outer sides
  auto joined = [](const std::string* l, const std::string* r) {
    return (l ? *l : std::string("null")) + "|" + (r ? *r : std::string("null"));
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    const int64_t st = std::max(stream_time, in.t);
    if (in.t + reach[in.side] + w.grace_ms < st) {
      ++result.late;
      continue;
    }
    if (st > stream_time) {
      std::vector<std::pair<Input, size_t>> closed, open;
      for (auto& p : waiting) (p.first.t + horizon[p.first.side] < st ? closed : open).push_back(p);
      std::sort(closed.begin(), closed.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first.t, a.first.side, a.first.key, a.second) <
               std::tie(b.first.t, b.first.side, b.first.key, b.second);
      });
      for (const auto& [c, idx] : closed) {
        result.out.push_back(O(c.key, c.side == 0 ? joined(&c.value, nullptr) : joined(nullptr, &c.value), c.t));
      }
      waiting = open;
    }
    stream_time = st;
    const int64_t from = in.side == 0 ? in.t - w.before_ms : in.t - w.after_ms;
    const int64_t to = in.side == 0 ? in.t + w.after_ms : in.t + w.before_ms;
    std::vector<std::pair<Input, size_t>> partners;
    for (const auto& p : accepted) {
      if (p.first.side != in.side && p.first.key == in.key && p.first.t >= from && p.first.t <= to) {
        partners.push_back(p);
      }
    }
    std::stable_sort(partners.begin(), partners.end(),
                     [](const auto& a, const auto& b) { return a.first.t < b.first.t; });
    for (const auto& [p, idx] : partners) {
      std::erase_if(waiting, [&](const auto& wt) { return wt.second == idx; });
      const std::string& l = in.side == 0 ? in.value : p.value;
      const std::string& r = in.side == 0 ? p.value : in.value;
      result.out.push_back(O(in.key, joined(&l, &r), std::max(in.t, p.t)));
    }
    if (partners.empty() && outer[in.side]) waiting.emplace_back(in, i);
    accepted.emplace_back(in, i);
  }
  return result;
}

TEST(StreamJoinTest, RandomInputsMatchTheNaiveModel) {
  const std::vector<JoinWindows> windows = {Windows(10, 10, 0), Windows(10, 10, 15), Windows(0, 25, 5),
                                            Windows(30, 3, 2),  Windows(-5, 20, 4),  Windows(0, 0, 0)};
  std::mt19937 rng(20261128);
  int case_index = 0;
  for (Kind kind : {Kind::kInner, Kind::kLeft, Kind::kOuter}) {
    for (const JoinWindows& w : windows) {
      for (bool in_memory : {false, true}) {
        SCOPED_TRACE(absl::StrCat("case ", case_index++, ": kind ", static_cast<int>(kind), " before ", w.before_ms,
                                  " after ", w.after_ms, " grace ", w.grace_ms, in_memory ? " in memory" : ""));
        std::vector<Input> inputs;
        int64_t clock = 0;
        for (int i = 0; i < 100; ++i) {
          clock += std::uniform_int_distribution<int64_t>(0, 4)(rng);
          const int64_t jitter = std::uniform_int_distribution<int64_t>(0, 30)(rng);
          const int side = std::uniform_int_distribution<int>(0, 1)(rng);
          inputs.push_back(Input{side, absl::StrCat("k", std::uniform_int_distribution<int>(0, 2)(rng)),
                                 absl::StrCat(side == 0 ? "L" : "R", i), std::max<int64_t>(0, clock - jitter)});
        }
        // A final record far ahead closes every window.
        inputs.push_back(Input{0, "end", "Lend", clock + 1000});
        const NaiveResult expected = NaiveJoin(kind, w, inputs);
        Harness h(kind, w, in_memory);
        for (const Input& in : inputs) {
          if (in.side == 0) {
            h.Left(in.key, in.value, in.t);
          } else {
            h.Right(in.key, in.value, in.t);
          }
        }
        EXPECT_EQ(h.Read(), expected.out);
        EXPECT_EQ(h.Dropped("late"), expected.late);
      }
    }
  }
}

}  // namespace
}  // namespace runnel
