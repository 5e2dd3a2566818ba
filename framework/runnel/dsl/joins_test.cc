// KStream-KTable and KTable-KTable joins run through the TopologyTestDriver
// and compared, record by record, with a small model of Kafka Streams'
// semantics written independently of the processors.

#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Key = std::optional<std::string>;  // nullopt: a record without a key
using S = std::string;

SerdePtr<Key> Keys() { return serdes::Nullable(serdes::String()); }
Consumed<Key, S> Strings() { return Consumed(Keys(), serdes::String()); }
Materialized<Key, S> Store(std::string name) {
  return Materialized<Key, S>::As(std::move(name), Keys(), serdes::String());
}

// One input record: to `topic`, a null key or value when absent (a null
// value is a tombstone on a table topic).
struct Input {
  std::string topic;
  Key key;
  std::optional<S> value;
  int64_t ts;
};

std::unique_ptr<TopologyTestDriver> Driver(StreamsBuilder& builder) {
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  if (!topology.ok()) return nullptr;
  auto driver = TopologyTestDriver::Create(*topology);
  EXPECT_TRUE(driver.ok()) << driver.status();
  return driver.ok() ? *std::move(driver) : nullptr;
}

void PipeAll(TopologyTestDriver& driver, const std::vector<Input>& inputs) {
  for (const auto& in : inputs) {
    absl::Status s = driver.PipeRaw(in.topic, {.key = in.key, .value = in.value, .timestamp = Timestamp(in.ts)});
    ASSERT_TRUE(s.ok()) << s;
  }
}

// Pipes `inputs` one by one; after each (and its commit), `changes` must be
// what `oracle` computes for the inputs so far: no result may wait for a
// later commit.
template <typename Oracle>
void PipeAndCompare(TopologyTestDriver& driver, const std::vector<Input>& inputs,
                    const std::vector<std::string>& changes, Oracle oracle) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    PipeAll(driver, {inputs[i]});
    const std::vector<Input> so_far(inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    ASSERT_THAT(changes, ::testing::ContainerEq(oracle(so_far))) << "after input " << i;
  }
}

std::string Show(const Key& key, const std::optional<S>& value, int64_t ts) {
  return absl::StrCat(key.value_or("<null>"), "=", value.value_or("<none>"), "@", ts);
}

std::vector<std::string> ReadAll(TopologyTestDriver& driver, const std::string& topic) {
  auto out = driver.CreateOutputTopic(topic, Keys(), serdes::Nullable(serdes::String()));
  auto records = out.ReadKeyValuesToList();
  EXPECT_TRUE(records.ok()) << records.status();
  std::vector<std::string> shown;
  if (!records.ok()) return shown;
  for (const auto& r : *records) shown.push_back(Show(r.key, r.value, r.timestamp.value()));
  return shown;
}

// ---- KStream-KTable ----

// orders (stream) x users (table): the same sequence for every test, with
// an order before its user exists, out-of-order timestamps, duplicate keys
// and records, a tombstone, and null keys on both sides.
const std::vector<Input>& OrdersAndUsers() {
  static const auto* inputs = new std::vector<Input>{
      {"orders", "a", "o1", 10},   // no user yet
      {"users", "a", "ann", 20},   // a table update alone: no output
      {"orders", "a", "o2", 15},   // older than the user row: still joins
      {"users", "b", "bob", 5},
      {"orders", "b", "o3", 30},
      {"users", "a", "xavier", 25},  // a's row replaced
      {"orders", "a", "o4", 26},
      {"orders", "a", "o4", 26},   // the same record twice: two results
      {"users", "b", std::nullopt, 40},  // tombstone: b deleted
      {"orders", "b", "o5", 41},
      {"orders", std::nullopt, "o6", 50},  // null key: dropped
      {"users", std::nullopt, "nobody", 51},  // null key: dropped by the table
      {"orders", "c", "o7", 3},
      {"users", "c", "cat", 60},
      {"orders", "c", "o8", 2},
  };
  return *inputs;
}

// The model: the table as a map, updated in arrival order; each order looks
// it up (through view(key, row), the derived table's filter/mapValues) at
// once.
template <typename View>
std::vector<std::string> StreamTableOracle(const std::vector<Input>& inputs, bool left, View view) {
  std::map<S, S> users;
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    if (!in.key) continue;
    if (in.topic == "users") {
      if (in.value) {
        users[*in.key] = *in.value;
      } else {
        users.erase(*in.key);
      }
      continue;
    }
    auto it = users.find(*in.key);
    std::optional<S> user = it == users.end() ? std::nullopt : view(*in.key, it->second);
    if (user) {
      out.push_back(Show(in.key, *in.value + "@" + *user, in.ts));
    } else if (left) {
      out.push_back(Show(in.key, *in.value + "@-", in.ts));
    }
  }
  return out;
}

std::optional<S> AsIs(const S&, const S& v) { return v; }

// Runs OrdersAndUsers() through join(orders stream, users table) and returns
// what reaches "out".
template <typename MakeJoin>
std::vector<std::string> JoinOrdersAndUsers(MakeJoin join) {
  StreamsBuilder builder;
  auto users = builder.Table("users", Strings(), Store("users-store"));
  join(builder.Stream("orders", Strings()), users).To("out", Produced(Keys(), serdes::String()));
  auto driver = Driver(builder);
  if (driver == nullptr) return {"<no driver>"};
  PipeAll(*driver, OrdersAndUsers());
  return ReadAll(*driver, "out");
}

TEST(StreamTableJoinTest, InnerJoinLooksUpTheTableAtEachRecord) {
  auto got = JoinOrdersAndUsers([](KStream<Key, S> orders, const KTable<Key, S>& users) {
    return orders.Join(users, [](const S& order, const S& user) { return order + "@" + user; });
  });
  const auto expected = StreamTableOracle(OrdersAndUsers(), /*left=*/false, AsIs);
  EXPECT_THAT(got, ::testing::ContainerEq(expected));
  // Written down once, so the model itself is checked too.
  EXPECT_THAT(expected, ElementsAre("a=o2@ann@15", "b=o3@bob@30", "a=o4@xavier@26", "a=o4@xavier@26",
                                    "c=o8@cat@2"));
}

TEST(StreamTableJoinTest, LeftJoinGivesTheJoinerNoneWithoutARow) {
  auto got = JoinOrdersAndUsers([](KStream<Key, S> orders, const KTable<Key, S>& users) {
    return orders.LeftJoin(
        users, [](const S& order, const std::optional<S>& user) { return order + "@" + user.value_or("-"); });
  });
  const auto expected = StreamTableOracle(OrdersAndUsers(), /*left=*/true, AsIs);
  EXPECT_THAT(got, ::testing::ContainerEq(expected));
  EXPECT_THAT(expected, ElementsAre("a=o1@-@10", "a=o2@ann@15", "b=o3@bob@30", "a=o4@xavier@26",
                                    "a=o4@xavier@26", "b=o5@-@41", "c=o7@-@3", "c=o8@cat@2"));
}

// The derived table's store holds the unfiltered, unmapped users; the join
// must see the derived rows (Kafka Streams' value getter).
TEST(StreamTableJoinTest, JoinWithAFilteredMappedTableSeesTheDerivedRows) {
  auto got = JoinOrdersAndUsers([](KStream<Key, S> orders, const KTable<Key, S>& users) {
    auto derived = users.Filter([](const Key&, const S& name) { return name[0] != 'x'; })
                       .MapValues([](const Key& k, const S& name) { return *k + ":" + name; });
    return orders.LeftJoin(derived, [](const S& order, const std::optional<S>& user) {
      return order + "@" + user.value_or("-");
    });
  });
  const auto expected =
      StreamTableOracle(OrdersAndUsers(), /*left=*/true, [](const S& key, const S& name) -> std::optional<S> {
        if (name[0] == 'x') return std::nullopt;
        return key + ":" + name;
      });
  EXPECT_THAT(got, ::testing::ContainerEq(expected));
  EXPECT_THAT(expected, ::testing::Contains("a=o2@a:ann@15"));
  EXPECT_THAT(expected, ::testing::Contains("a=o4@-@26"));  // xavier is filtered out
}

TEST(StreamTableJoinTest, StreamAndTableShareASubtopologyAndMustBeCoPartitioned) {
  StreamsBuilder builder;
  auto users = builder.Table("users", Strings(), Store("users-store"));
  builder.Stream("orders", Strings())
      .Join(users, [](const S& order, const S& user) { return order + user; })
      .To("out", Produced(Keys(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  ASSERT_EQ((*topology)->subtopologies().size(), 1u);
  EXPECT_THAT((*topology)->Describe(), HasSubstr("Processor: KSTREAM-JOIN-0000000003 (stores: [users-store])"));
  EXPECT_TRUE((*topology)->CheckCoPartitioned({{"orders", 4}, {"users", 4}}).ok());
  absl::Status s = (*topology)->CheckCoPartitioned({{"orders", 3}, {"users", 2}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("orders (3), users (2)"));
  EXPECT_THAT(s.message(), HasSubstr("users-store"));
}

TEST(StreamTableJoinTest, JoinAfterAKeyChangeFailsAtBuild) {
  StreamsBuilder builder;
  auto users = builder.Table("users", Strings(), Store("users-store"));
  builder.Stream("orders", Strings())
      .SelectKey([](const Key&, const S& v) { return Key(v); })
      .Join(users, [](const S& order, const S& user) { return order + user; }, Named("enrich"))
      .To("out", Produced(Keys(), serdes::String()));
  auto topology = builder.Build();
  EXPECT_EQ(topology.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(topology.status().message(), HasSubstr("join 'enrich'"));
  EXPECT_THAT(topology.status().message(), HasSubstr("pass Joined::With("));
}

// With Joined's serdes the stream goes through a repartition topic by
// itself (<name>-repartition, else <upstream node>-repartition); a record
// re-keyed to a null key is dropped before it, as in Kafka Streams.
TEST(StreamTableJoinTest, JoinedAfterAKeyChangeRepartitionsTheStream) {
  for (bool named : {true, false}) {
    SCOPED_TRACE(named ? "named" : "unnamed");
    StreamsBuilder builder;
    auto users = builder.Table("users", Strings(), Store("users-store"));
    auto joined = Joined<Key, S, S>::With(Keys(), serdes::String(), serdes::String());
    if (named) joined.WithName("enrich");
    builder.Stream("orders", Strings())
        .SelectKey([](const Key&, const S& v) { return v.empty() ? Key() : Key(v.substr(0, 1)); })
        .LeftJoin(users, [](const S& order, const std::optional<S>& user) { return order + "@" + user.value_or("-"); },
                  joined)
        .To("out", Produced(Keys(), serdes::String()));
    auto topology = builder.Build();
    ASSERT_TRUE(topology.ok()) << topology.status();
    EXPECT_THAT((*topology)->internal_topics(),
                ElementsAre(named ? "enrich-repartition" : "KSTREAM-KEY-SELECT-0000000003-repartition"));
    EXPECT_THAT((*topology)->Describe(), HasSubstr(named ? "Processor: enrich (stores: [users-store])"
                                                         : "Processor: KSTREAM-LEFTJOIN-0000000004"));
    auto driver = TopologyTestDriver::Create(*topology);
    ASSERT_TRUE(driver.ok()) << driver.status();
    PipeAll(**driver,
            {{"users", "b", "bob", 1}, {"orders", "x", "b1", 7}, {"orders", "y", "c1", 8}, {"orders", "z", "", 9}});
    EXPECT_THAT(ReadAll(**driver, "out"), ElementsAre("b=b1@bob@7", "c=c1@-@8"));
  }
}

TEST(StreamTableJoinTest, JoinAfterRepartitionRuns) {
  StreamsBuilder builder;
  auto users = builder.Table("users", Strings(), Store("users-store"));
  builder.Stream("orders", Strings())
      .SelectKey([](const Key&, const S& v) { return Key(v.substr(0, 1)); })
      .Repartition(Produced(Keys(), serdes::String()), Named("by-user"))
      .Join(users, [](const S& order, const S& user) { return order + "@" + user; })
      .To("out", Produced(Keys(), serdes::String()));
  auto driver = Driver(builder);
  ASSERT_NE(driver, nullptr);
  PipeAll(*driver, {{"users", "b", "bob", 1}, {"orders", "x", "b1", 7}, {"orders", "y", "c1", 8}});
  EXPECT_THAT(ReadAll(*driver, "out"), ElementsAre("b=b1@bob@7"));
}

// ---- KTable-KTable ----

// Each change the joined table emits: key=new|old@timestamp.
std::string ShowChange(const Key& key, const Change<S>& c, int64_t ts) {
  return absl::StrCat(key.value_or("<null>"), "=", c.new_value.value_or("<none>"), "|",
                      c.old_value.value_or("<none>"), "@", ts);
}

// Records the changes of `table` (the join's own output, deletes included)
// into `log`; the test and its driver live on one thread.
void CaptureChanges(StreamsBuilder& builder, const KTable<Key, S>& table, std::vector<std::string>* log) {
  class Capture final : public Processor<Key, Change<S>, Key, Change<S>> {
   public:
    explicit Capture(std::vector<std::string>* log) : log_(log) {}
    absl::Status Process(Record<Key, Change<S>> r) override {
      log_->push_back(ShowChange(r.key, r.value, r.timestamp.value()));
      return absl::OkStatus();
    }

   private:
    std::vector<std::string>* log_;
  };
  builder.topology_builder().AddProcessor<Key, Change<S>, Key, Change<S>>(
      "capture-" + table.node_name(), [log] { return std::make_unique<Capture>(log); }, {table.node_name()});
}

enum class Kind { kInner, kLeft, kOuter };

// The model: both tables as maps, updated in arrival order. An update that
// changes the joined row emits it (new) with the row it replaces (old),
// stamped with the later of the two sides' row timestamps.
std::vector<std::string> TableJoinOracle(const std::vector<Input>& inputs, Kind kind) {
  std::map<S, S> left, right;
  std::map<S, int64_t> left_ts, right_ts;
  auto get = [](const std::map<S, S>& m, const S& k) -> std::optional<S> {
    auto it = m.find(k);
    return it == m.end() ? std::nullopt : std::optional<S>(it->second);
  };
  auto joined = [&](const S& k) -> std::optional<S> {
    const auto l = get(left, k), r = get(right, k);
    switch (kind) {
      case Kind::kInner:
        if (l && r) return *l + "+" + *r;
        return std::nullopt;
      case Kind::kLeft:
        if (l) return *l + "+" + r.value_or("-");
        return std::nullopt;
      case Kind::kOuter:
        if (l || r) return l.value_or("-") + "+" + r.value_or("-");
        return std::nullopt;
    }
    return std::nullopt;
  };
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    if (!in.key) continue;
    const S& k = *in.key;
    const bool is_left = in.topic == "left";
    auto& mine = is_left ? left : right;
    auto& mine_ts = is_left ? left_ts : right_ts;
    const auto& theirs = is_left ? right : left;
    const auto& theirs_ts = is_left ? right_ts : left_ts;
    if (!mine.contains(k) && !in.value) continue;  // deleting no row: the table sends nothing
    const auto before = joined(k);
    if (in.value) {
      mine[k] = *in.value;
      mine_ts[k] = in.ts;
    } else {
      mine.erase(k);
      mine_ts.erase(k);
    }
    const auto after = joined(k);
    if (!before && !after) continue;
    const int64_t ts = theirs.contains(k) ? std::max(in.ts, theirs_ts.at(k)) : in.ts;
    out.push_back(ShowChange(in.key, Change<S>{after, before}, ts));
  }
  return out;
}

const std::vector<Input>& LeftsAndRights() {
  static const auto* inputs = new std::vector<Input>{
      {"left", "a", "l1", 10},
      {"right", "a", "r1", 5},             // older than the left row
      {"right", "b", "r2", 20},
      {"left", "a", "l2", 7},              // out of order
      {"left", "a", "l2", 8},              // same value again
      {"right", "a", std::nullopt, 30},    // delete: retracts
      {"right", "a", std::nullopt, 31},    // deleting nothing: no change
      {"left", "b", "l3", 25},
      {"left", "b", std::nullopt, 26},
      {"left", std::nullopt, "z", 40},     // null key: dropped by the table
      {"right", "b", std::nullopt, 27},
      {"left", "c", "l4", 50},
      {"right", "c", "r4", 45},
      {"right", "c", "r5", 60},
      {"left", "d", std::nullopt, 70},     // tombstone for a key never seen
  };
  return *inputs;
}

// Tables from the topics `left` and `right` (stores <topic>-store), joined
// by build_join; after every input the join's changes must be the oracle's,
// and the oracle's whole answer must be `written_down`. Returns the driver
// (null on failure) for further checks.
template <typename BuildJoin, typename Oracle>
std::unique_ptr<TopologyTestDriver> ExpectJoinChanges(const S& left, const S& right, const std::vector<Input>& inputs,
                                                      BuildJoin build_join, Oracle oracle,
                                                      const std::vector<std::string>& written_down) {
  StreamsBuilder builder;
  auto left_table = builder.Table(left, Strings(), Store(left + "-store"));
  auto right_table = builder.Table(right, Strings(), Store(right + "-store"));
  std::vector<std::string> changes;
  CaptureChanges(builder, build_join(left_table, right_table), &changes);
  auto driver = Driver(builder);
  if (driver == nullptr) return nullptr;
  PipeAndCompare(*driver, inputs, changes, oracle);
  EXPECT_THAT(oracle(inputs), ::testing::ContainerEq(written_down));
  return driver;
}

template <typename BuildJoin>
void ExpectTableJoin(Kind kind, BuildJoin build_join, const std::vector<std::string>& written_down) {
  ExpectJoinChanges(
      "left", "right", LeftsAndRights(), build_join,
      [kind](const std::vector<Input>& inputs) { return TableJoinOracle(inputs, kind); }, written_down);
}

TEST(TableTableJoinTest, InnerJoinEmitsWhenBothSidesHaveARowAndRetractsOnDelete) {
  ExpectTableJoin(
      Kind::kInner,
      [](const KTable<Key, S>& l, const KTable<Key, S>& r) {
        return l.Join(r, [](const S& a, const S& b) { return a + "+" + b; });
      },
      {"a=l1+r1|<none>@10", "a=l2+r1|l1+r1@7", "a=l2+r1|l2+r1@8", "a=<none>|l2+r1@30", "b=l3+r2|<none>@25",
       "b=<none>|l3+r2@26", "c=l4+r4|<none>@50", "c=l4+r5|l4+r4@60"});
}

TEST(TableTableJoinTest, LeftJoinKeepsEveryLeftRow) {
  ExpectTableJoin(
      Kind::kLeft,
      [](const KTable<Key, S>& l, const KTable<Key, S>& r) {
        return l.LeftJoin(r, [](const S& a, const std::optional<S>& b) { return a + "+" + b.value_or("-"); });
      },
      {"a=l1+-|<none>@10", "a=l1+r1|l1+-@10", "a=l2+r1|l1+r1@7", "a=l2+r1|l2+r1@8", "a=l2+-|l2+r1@30",
       "b=l3+r2|<none>@25", "b=<none>|l3+r2@26", "c=l4+-|<none>@50", "c=l4+r4|l4+-@50", "c=l4+r5|l4+r4@60"});
}

TEST(TableTableJoinTest, OuterJoinKeepsEveryRowOfEitherSide) {
  ExpectTableJoin(
      Kind::kOuter,
      [](const KTable<Key, S>& l, const KTable<Key, S>& r) {
        return l.OuterJoin(r, [](const std::optional<S>& a, const std::optional<S>& b) {
          return a.value_or("-") + "+" + b.value_or("-");
        });
      },
      {"a=l1+-|<none>@10", "a=l1+r1|l1+-@10", "b=-+r2|<none>@20", "a=l2+r1|l1+r1@7", "a=l2+r1|l2+r1@8",
       "a=l2+-|l2+r1@30", "b=l3+r2|-+r2@25", "b=-+r2|l3+r2@26", "b=<none>|-+r2@27", "c=l4+-|<none>@50",
       "c=l4+r4|l4+-@50", "c=l4+r5|l4+r4@60"});
}

// Materialized (cached, as by default): the result is queryable, its old
// values are right for a downstream aggregation, and it can be joined
// again; a non-materialized result can be joined again too (through both
// sides' stores), and so can a filtered side.
TEST(TableTableJoinTest, MaterializedResultFeedsAnAggregationAndJoinsAgain) {
  StreamsBuilder builder;
  auto left = builder.Table("left", Strings(), Store("left-store"));
  auto right = builder.Table("right", Strings(), Store("right-store"));
  auto third = builder.Table("third", Strings(), Store("third-store"));
  auto joined = left.LeftJoin(
      right, [](const S& a, const std::optional<S>& b) { return a + "+" + b.value_or("-"); },
      Store("joined-store"));
  std::vector<std::string> changes;
  CaptureChanges(builder, joined, &changes);
  // Rows per joined value's right part ("-" or the right value).
  joined
      .GroupBy([](const Key& k, const S& v) { return KeyValue<Key, S>{Key(v.substr(v.find('+') + 1)), *k}; },
               Grouped<Key, S>(Keys(), serdes::String(), "by-right"))
      .Count(Materialized<Key, int64_t>::As("per-right", Keys(), serdes::Int64()));
  joined.Join(third, [](const S& j, const S& t) { return j + "*" + t; })
      .ToStream()
      .To("again", Produced(Keys(), serdes::String()));
  left.Filter([](const Key&, const S& v) { return v != "l2"; })
      .Join(right, [](const S& a, const S& b) { return a + "+" + b; })
      .Join(third, [](const S& j, const S& t) { return j + "*" + t; })
      .ToStream()
      .To("chained", Produced(Keys(), serdes::String()));
  auto driver = Driver(builder);
  ASSERT_NE(driver, nullptr);
  // Through the cache, as uncached: each record's commit sends its change,
  // old value and timestamp included.
  ASSERT_NO_FATAL_FAILURE(PipeAndCompare(
      *driver, LeftsAndRights(), changes,
      [](const std::vector<Input>& inputs) { return TableJoinOracle(inputs, Kind::kLeft); }));

  // The store holds the model's final rows.
  std::map<S, S> rows;
  for (const auto& line : TableJoinOracle(LeftsAndRights(), Kind::kLeft)) {
    const S key = line.substr(0, line.find('='));
    const S value = line.substr(line.find('=') + 1, line.find('|') - line.find('=') - 1);
    if (value == "<none>") {
      rows.erase(key);
    } else {
      rows[key] = value;
    }
  }
  EXPECT_THAT(rows, ElementsAre(::testing::Pair("a", "l2+-"), ::testing::Pair("c", "l4+r5")));
  auto store = driver->GetKeyValueStore("joined-store", Keys(), serdes::String());
  ASSERT_TRUE(store.ok()) << store.status();
  for (const auto& key : {"a", "b", "c", "d"}) {
    auto row = store->Get(Key(key));
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(*row, rows.contains(key) ? std::optional<S>(rows[key]) : std::nullopt) << key;
  }
  auto counts = driver->GetKeyValueStore("per-right", Keys(), serdes::Int64());
  ASSERT_TRUE(counts.ok());
  auto count = [&](const char* part) { return counts->Get(Key(part))->value_or(0); };
  EXPECT_EQ(count("-"), 1);   // a
  EXPECT_EQ(count("r5"), 1);  // c
  EXPECT_EQ(count("r1"), 0);
  EXPECT_EQ(count("r2"), 0);
  EXPECT_EQ(count("r4"), 0);

  PipeAll(*driver, {{"third", "c", "t1", 65}, {"third", "a", "t2", 66}, {"left", "a", "l5", 67},
                    {"left", "a", "l2", 68}});
  EXPECT_THAT(ReadAll(*driver, "again"),
              ElementsAre("c=l4+r5*t1@65", "a=l2+-*t2@66", "a=l5+-*t2@67", "a=l2+-*t2@68"));
  // a's left row is l2 (filtered out) or has no right row: only c joins.
  EXPECT_THAT(ReadAll(*driver, "chained"), ElementsAre("c=l4+r5*t1@65"));
}

TEST(TableTableJoinTest, NamesFollowKafkaStreams) {
  StreamsBuilder builder;
  auto left = builder.Table("left", Strings(), Store("left-store"));
  auto right = builder.Table("right", Strings(), Store("right-store"));
  left.Join(right, [](const S& a, const S& b) { return a + b; });
  left.OuterJoin(right, [](const std::optional<S>& a, const std::optional<S>& b) { return *a + *b; },
                 Named("both"));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  const std::string text = (*topology)->Describe();
  EXPECT_THAT(text, HasSubstr("Processor: KTABLE-JOINTHIS-0000000005 (stores: "
                              "[KTABLE-MERGE-0000000004-timestamps, right-store])"));
  EXPECT_THAT(text, HasSubstr("Processor: KTABLE-JOINOTHER-0000000006 (stores: "
                              "[KTABLE-MERGE-0000000004-timestamps, left-store])"));
  EXPECT_THAT(text, HasSubstr("Processor: both-join-this (stores: [both-timestamps, right-store])"));
  EXPECT_THAT(text, HasSubstr("Processor: both (stores: [])\n      <-- both-join-this, both-join-other"));
  ASSERT_EQ((*topology)->subtopologies().size(), 1u);
}

// ---- KTable-KTable foreign-key join ----

// orders (key: order id, value "product|qty"; no '|': no product) x
// products (key: product id).
Key ProductOf(const S& order) {
  const size_t bar = order.find('|');
  return bar == S::npos ? std::nullopt : Key(order.substr(0, bar));
}

const std::vector<Input>& OrdersAndProducts() {
  static const auto* inputs = new std::vector<Input>{
      {"orders", "o1", "p1|2", 10},          // no product yet
      {"products", "p1", "apple", 20},
      {"orders", "o2", "p1|5", 5},           // out of order
      {"products", "p1", "apricot", 30},     // both orders change
      {"orders", "o1", "p2|2", 35},          // new foreign key, no row there
      {"products", "p2", "banana", 36},
      {"products", "p1", std::nullopt, 40},  // foreign row deleted
      {"orders", "o2", std::nullopt, 41},    // left row deleted
      {"orders", "o3", "none", 42},          // null foreign key
      {"orders", "o3", "p2|1", 43},          // from a null foreign key to one
      {"orders", std::nullopt, "p2|9", 44},  // null key: dropped by the table
      {"orders", "o1", "p2|3", 45},          // same foreign key, new value
      {"orders", "o1", "p2|3", 46},          // the same again
      {"products", "p9", std::nullopt, 47},  // deleting no row
      {"orders", "o4", std::nullopt, 48},    // deleting no row
      {"orders", "o3", "p1|1", 49},          // moves to a deleted product
  };
  return *inputs;
}

// The model: both tables as maps. A left update is answered (and its result
// row set: a change unless it deletes no row) when the left row existed
// before, or for a left join, or when the foreign row exists; a foreign
// update answers every left row pointing at it, in key order. Results carry
// the triggering update's timestamp.
std::vector<std::string> ForeignKeyJoinOracle(const std::vector<Input>& inputs, bool left_join) {
  std::map<S, S> orders, products;
  std::map<S, S> results;
  std::vector<std::string> out;
  auto result_of = [&](const S& k) -> std::optional<S> {
    auto o = orders.find(k);
    if (o == orders.end()) return std::nullopt;
    const Key fk = ProductOf(o->second);
    auto p = fk ? products.find(*fk) : products.end();
    if (p != products.end()) return o->second + "/" + p->second;
    if (left_join) return o->second + "/-";
    return std::nullopt;
  };
  auto set = [&](const S& k, int64_t ts) {
    const std::optional<S> after = result_of(k);
    auto it = results.find(k);
    const std::optional<S> before = it == results.end() ? std::nullopt : std::optional<S>(it->second);
    if (!after && !before) return;
    out.push_back(ShowChange(Key(k), Change<S>{after, before}, ts));
    if (after) {
      results[k] = *after;
    } else {
      results.erase(k);
    }
  };
  for (const auto& in : inputs) {
    if (!in.key) continue;
    const S& k = *in.key;
    if (in.topic == "orders") {
      const bool existed = orders.contains(k);
      if (!existed && !in.value) continue;
      if (in.value) {
        orders[k] = *in.value;
      } else {
        orders.erase(k);
      }
      const Key fk = in.value ? ProductOf(*in.value) : std::nullopt;
      if (existed || left_join || (fk && products.contains(*fk))) set(k, in.ts);
      continue;
    }
    if (!products.contains(k) && !in.value) continue;
    if (in.value) {
      products[k] = *in.value;
    } else {
      products.erase(k);
    }
    for (const auto& [order, value] : orders) {
      if (ProductOf(value) == Key(k)) set(order, in.ts);
    }
  }
  return out;
}

template <typename BuildJoin>
void ExpectForeignKeyJoin(bool left_join, BuildJoin build_join, const std::vector<std::string>& written_down) {
  auto driver = ExpectJoinChanges(
      "orders", "products", OrdersAndProducts(), build_join,
      [left_join](const std::vector<Input>& inputs) { return ForeignKeyJoinOracle(inputs, left_join); },
      written_down);
  ASSERT_NE(driver, nullptr);
  auto store = driver->GetKeyValueStore("joined", Keys(), serdes::String());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*store->Get(Key("o1")), std::optional<S>("p2|3/banana"));
}

TEST(ForeignKeyJoinTest, InnerJoinFollowsBothSidesAndForeignKeyChanges) {
  ExpectForeignKeyJoin(
      false,
      [](const KTable<Key, S>& orders, const KTable<Key, S>& products) {
        return orders.Join(
            products, [](const S& order) { return ProductOf(order); },
            [](const S& order, const S& product) { return order + "/" + product; }, Store("joined"));
      },
      {"o1=p1|2/apple|<none>@20", "o2=p1|5/apple|<none>@5", "o1=p1|2/apricot|p1|2/apple@30",
       "o2=p1|5/apricot|p1|5/apple@30", "o1=<none>|p1|2/apricot@35", "o1=p2|2/banana|<none>@36",
       "o2=<none>|p1|5/apricot@40", "o3=p2|1/banana|<none>@43", "o1=p2|3/banana|p2|2/banana@45",
       "o1=p2|3/banana|p2|3/banana@46", "o3=<none>|p2|1/banana@49"});
}

TEST(ForeignKeyJoinTest, LeftJoinKeepsRowsWithoutAForeignRow) {
  ExpectForeignKeyJoin(
      true,
      [](const KTable<Key, S>& orders, const KTable<Key, S>& products) {
        return orders.LeftJoin(
            products, [](const S& order) { return ProductOf(order); },
            [](const S& order, const std::optional<S>& product) { return order + "/" + product.value_or("-"); },
            Store("joined"), Named("order-products"));
      },
      {"o1=p1|2/-|<none>@10", "o1=p1|2/apple|p1|2/-@20", "o2=p1|5/apple|<none>@5",
       "o1=p1|2/apricot|p1|2/apple@30", "o2=p1|5/apricot|p1|5/apple@30", "o1=p2|2/-|p1|2/apricot@35",
       "o1=p2|2/banana|p2|2/-@36", "o2=p1|5/-|p1|5/apricot@40", "o2=<none>|p1|5/-@41", "o3=none/-|<none>@42",
       "o3=p2|1/banana|none/-@43", "o1=p2|3/banana|p2|2/banana@45", "o1=p2|3/banana|p2|3/banana@46",
       "o3=p1|1/-|p2|1/banana@49"});
}

// A response computed for an older value of the left row (its hash differs)
// is dropped; one for the current value is joined.
TEST(ForeignKeyJoinTest, StaleResponsesAreDropped) {
  StreamsBuilder builder;
  auto orders = builder.Table("orders", Strings(), Store("orders-store"));
  auto products = builder.Table("products", Strings(), Store("products-store"));
  std::vector<std::string> changes;
  CaptureChanges(builder,
                 orders.Join(
                     products, [](const S& order) { return ProductOf(order); },
                     [](const S& order, const S& product) { return order + "/" + product; }, Store("joined"),
                     Named("fk")),
                 &changes);
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  EXPECT_EQ((*topology)->internal_topics(),
            (std::set<std::string>{"fk-subscription-registration-topic", "fk-subscription-response-topic"}));
  // Subscriptions are read beside the products, responses beside the orders.
  EXPECT_EQ((*topology)->SubtopologyForTopic("fk-subscription-registration-topic"),
            (*topology)->SubtopologyForTopic("products"));
  EXPECT_EQ((*topology)->SubtopologyForTopic("fk-subscription-response-topic"),
            (*topology)->SubtopologyForTopic("orders"));
  EXPECT_NE((*topology)->SubtopologyForTopic("orders"), (*topology)->SubtopologyForTopic("products"));
  auto driver = TopologyTestDriver::Create(*topology);
  ASSERT_TRUE(driver.ok()) << driver.status();
  PipeAll(**driver, {{"orders", "o1", "p1|2", 1}});
  auto respond = [&](const S& left_value, int64_t ts) {
    std::string bytes;
    ASSERT_TRUE(dsl::internal::SubscriptionResponseSerde()
                    .Serialize({.hash = dsl::internal::ValueHash(left_value), .foreign_value = "pear"}, bytes)
                    .ok());
    ASSERT_TRUE((*driver)->PipeRaw("test-app-fk-subscription-response-topic",
                                   {.key = "o1", .value = bytes, .timestamp = Timestamp(ts)})
                    .ok());
  };
  respond("p1|1", 2);  // for a value o1 never had (or no longer has)
  EXPECT_TRUE(changes.empty());
  respond("p1|2", 3);
  EXPECT_THAT(changes, ElementsAre("o1=p1|2/pear|<none>@3"));
}

TEST(ForeignKeyJoinTest, AMapValuesTableCannotBeTheForeignSide) {
  StreamsBuilder builder;
  auto orders = builder.Table("orders", Strings(), Store("orders-store"));
  auto products = builder.Table("products", Strings(), Store("products-store")).MapValues([](const S& v) {
    return v + "!";
  });
  orders.Join(
      products, [](const S& order) { return ProductOf(order); },
      [](const S& order, const S& product) { return order + product; }, Store("joined"), Named("fk"));
  auto topology = builder.Build();
  EXPECT_EQ(topology.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(topology.status().message(), HasSubstr("foreign-key join 'fk': the value serde of table "
                                                     "'KTABLE-MAPVALUES-0000000004' is unknown"));
}

}  // namespace
}  // namespace runnel
