// Property tests of random joins and table operations against oracles of
// the documented semantics (framework/runnel/dsl/README.md,
// docs/windows-and-joins.md):
//   - tables: a topic read as a table (null value deletes), Filter and
//     MapValues on it (ToStream forwards new values only), GroupBy with
//     count, reduce and aggregate (subtract the row's old group, add its
//     new one), and a stream joined with it (looked up when the stream
//     record is processed; inner drops a missing row, left passes none);
//   - stream-stream joins, inner, left and outer: a left record at t meets
//     the right records of its key in [t - before, t + after]; stream time
//     is one for both sides; a record is late when t + reach + grace <
//     stream time; an unmatched left (right) record of a left/outer join is
//     sent with no partner once stream time passes t + after (before) +
//     before (after) + grace; results carry the later timestamp.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"
#include "proptest.h"

namespace runnel::proptest {
namespace {

constexpr int64_t kMod = 1'000'003;
constexpr int64_t kNone = 999;  // the joiners' stand-in for a missing side


// ---- Tables: table ops, ToStream, GroupBy aggregations, stream-table join ----

enum class TableAgg { kCount, kReduce, kAggregate };

struct TableCase {
  std::vector<Op> table_ops;  // kFilter or kMapValues only
  Op group_by{Op::kSelectKey};
  TableAgg agg = TableAgg::kCount;
  int64_t init = 0;
  std::vector<Op> stream_chain;
  bool left_join = false;
  bool table_caching = true;
  bool agg_caching = true;
  bool in_memory = false;

  std::string Describe() const {
    static const char* aggs[] = {"count", "reduce", "aggregate"};
    return absl::StrCat("T = table(tin, caching ", table_caching, ", in_memory ", in_memory, ") . ",
                        DescribeChain(table_ops), "; T . toStream . to(tout); T . groupBy(", group_by.Describe(),
                        ") . ", aggs[static_cast<int>(agg)], "(init ", init, ", caching ", agg_caching,
                        ") . toStream . to(gout); stream(sin) . ", DescribeChain(stream_chain), " . ",
                        left_join ? "leftJoin" : "join", "(T) . to(out)");
  }
};

std::optional<int64_t> Derive(const std::vector<Op>& ops, const std::string& k, std::optional<int64_t> v) {
  for (const Op& op : ops) {
    if (!v) return v;
    if (op.kind == Op::kFilter) {
      if (!OpPredicate(op, k, *v)) v.reset();
    } else {
      v = OpMapValue(op, *v);
    }
  }
  return v;
}

int64_t TableAdd(const TableCase& c, const std::string& k, int64_t v, std::optional<int64_t> agg) {
  switch (c.agg) {
    case TableAgg::kCount:
      return agg.value_or(0) + 1;
    case TableAgg::kReduce:
      return agg ? (*agg + v) % kMod : v;
    case TableAgg::kAggregate:
      return (agg.value_or(c.init) * 2 + v + KeyIndex(k)) % kMod;
  }
  return 0;
}
int64_t TableSubtract(const TableCase& c, const std::string& k, int64_t v, int64_t agg) {
  switch (c.agg) {
    case TableAgg::kCount:
      return agg - 1;
    case TableAgg::kReduce:
      return agg - v;
    case TableAgg::kAggregate:
      return agg - v - KeyIndex(k);
  }
  return 0;
}

std::optional<std::string> StoreEquals(TopologyTestDriver& driver, const std::string& name,
                                       const std::map<std::string, int64_t>& oracle) {
  KeyValueStore* store = driver.GetKeyValueStore(name);
  if (store == nullptr) return absl::StrCat("no store ", name);
  auto it = store->All();
  if (!it.ok()) return it.status().ToString();
  auto entries = Collect(**it);
  if (!entries.ok()) return entries.status().ToString();
  std::vector<Rec> got, want;
  for (const KeyValueEntry& e : *entries) {
    auto v = DecodeInt64(e.value);
    if (!v.ok()) return absl::StrCat(name, ": value of ", e.key, ": ", v.status().ToString());
    got.push_back({e.key, -1, -1, *v, 0});
  }
  for (const auto& [k, v] : oracle) want.push_back({k, -1, -1, v, 0});
  if (got == want) return std::nullopt;
  return absl::StrCat("store ", name, ": expected ", ToString(want), "\n  actual ", ToString(got));
}

std::optional<std::string> RunTables(uint64_t seed) {
  Rng rng(seed);
  TableCase c;
  for (int64_t i = rng.In(0, 2); i > 0; --i) {
    Op op = RandomOp(rng, false);
    op.kind = rng.Chance(50) ? Op::kFilter : Op::kMapValues;
    if (op.kind == Op::kFilter) {
      op.a = rng.In(2, 4);
      op.b = rng.In(0, op.a - 1);
    }
    c.table_ops.push_back(op);
  }
  c.group_by.a = rng.In(1, 3);
  c.group_by.b = rng.In(0, 3);
  c.agg = static_cast<TableAgg>(rng.In(0, 2));
  c.init = rng.In(0, 9);
  c.stream_chain = RandomChain(rng, 2, true);
  c.left_join = rng.Chance(50);
  c.table_caching = rng.Chance(50);
  c.agg_caching = rng.Chance(50);
  c.in_memory = rng.Chance(30);
  std::vector<Input> inputs;
  int64_t clock = 0;
  for (int64_t i = rng.In(1, 30); i > 0; --i) {
    const bool table = rng.Chance(40);
    std::optional<int64_t> value = rng.In(0, kValues - 1);
    if (table && rng.Chance(25)) value.reset();
    inputs.push_back({table ? "tin" : "sin", Letter(rng.In(0, 3)), value, NextTimestamp(rng, clock, 10, 30)});
  }
  const std::string what = absl::StrCat("seed ", seed, "\ntopology: ", c.Describe(), "\ninputs: ", DescribeInputs(inputs));

  StreamsBuilder builder;
  auto tm = Materialized<std::string, int64_t>::As("table-store", serdes::String(), serdes::Int64());
  if (!c.table_caching) tm.WithCachingDisabled();
  if (c.in_memory) tm.InMemory();
  KTable<std::string, int64_t> table = builder.Table("tin", Consumed(serdes::String(), serdes::Int64()), tm);
  for (const Op& op : c.table_ops) {
    if (op.kind == Op::kFilter) {
      table = table.Filter([op](const std::string& k, const int64_t& v) { return OpPredicate(op, k, v); });
    } else {
      table = table.MapValues([op](const int64_t& v) { return OpMapValue(op, v); });
    }
  }
  table.ToStream().To("tout", Produced(serdes::String(), serdes::Int64()));
  auto grouped = table.GroupBy(
      [sel = c.group_by](const std::string& k, const int64_t& v) {
        return KeyValue<std::string, int64_t>{OpSelectKey(sel, k, v), v};
      },
      Grouped<std::string, int64_t>(serdes::String(), serdes::Int64()));
  auto am = Materialized<std::string, int64_t>::As("gagg-store", serdes::String(), serdes::Int64());
  if (!c.agg_caching) am.WithCachingDisabled();
  std::optional<KTable<std::string, int64_t>> aggregated;
  switch (c.agg) {
    case TableAgg::kCount:
      aggregated = grouped.Count(am);
      break;
    case TableAgg::kReduce:
      aggregated = grouped.Reduce([](int64_t a, int64_t v) { return (a + v) % kMod; },
                                  [](int64_t a, int64_t v) { return a - v; }, am);
      break;
    case TableAgg::kAggregate:
      aggregated = grouped.Aggregate<int64_t>(
          [init = c.init] { return init; },
          [](const std::string& k, const int64_t& v, int64_t a) { return (a * 2 + v + KeyIndex(k)) % kMod; },
          [](const std::string& k, const int64_t& v, int64_t a) { return a - v - KeyIndex(k); }, am);
      break;
  }
  aggregated->ToStream().To("gout", Produced(serdes::String(), serdes::Int64()));
  Stream stream = ApplyChain(builder.Stream("sin", Consumed(serdes::String(), serdes::Int64())), c.stream_chain);
  auto joined = Joined<std::string, int64_t, int64_t>::With(serdes::String(), serdes::Int64(), serdes::Int64());
  if (c.left_join) {
    stream.LeftJoin(table, [](const int64_t& v, const std::optional<int64_t>& vt) { return v * 1000 + vt.value_or(kNone); },
                    joined)
        .To("out", Produced(serdes::String(), serdes::Int64()));
  } else {
    stream.Join(table, [](const int64_t& v, const int64_t& vt) { return v * 1000 + vt; }, joined)
        .To("out", Produced(serdes::String(), serdes::Int64()));
  }
  auto driver = MakeDriver(builder);
  if (!driver.ok()) return absl::StrCat(what, "\ndriver: ", driver.status().ToString());

  std::map<std::string, int64_t> raw, groups;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    if (absl::Status st = (*driver)->PipeRaw(in.topic, Raw(in.key, in.value, in.ts)); !st.ok()) {
      return absl::StrCat(what, "\nstep ", i, ": ", st.ToString());
    }
    std::vector<Rec> tout, gout, out;
    if (in.topic == "tin") {
      std::optional<int64_t> old_raw;
      if (auto it = raw.find(in.key); it != raw.end()) old_raw = it->second;
      if (in.value) {
        raw[in.key] = *in.value;
      } else {
        raw.erase(in.key);
      }
      const std::optional<int64_t> old_v = Derive(c.table_ops, in.key, old_raw);
      const std::optional<int64_t> new_v = Derive(c.table_ops, in.key, in.value);
      if (new_v) tout.push_back({in.key, -1, -1, *new_v, in.ts});
      std::optional<std::string> old_g, new_g;
      if (old_v) old_g = OpSelectKey(c.group_by, in.key, *old_v);
      if (new_v) new_g = OpSelectKey(c.group_by, in.key, *new_v);
      auto update = [&](const std::string& g, std::optional<int64_t> removed, std::optional<int64_t> added) {
        std::optional<int64_t> agg;
        if (auto it = groups.find(g); it != groups.end()) agg = it->second;
        if (c.agg == TableAgg::kReduce) {
          if (removed && agg) agg = TableSubtract(c, g, *removed, *agg);
          if (added) agg = TableAdd(c, g, *added, agg);
        } else {
          int64_t a = agg.value_or(c.agg == TableAgg::kCount ? 0 : c.init);
          if (removed) a = TableSubtract(c, g, *removed, a);
          if (added) a = TableAdd(c, g, *added, a);
          agg = a;
        }
        groups[g] = agg.value_or(0);
        gout.push_back({g, -1, -1, groups[g], in.ts});
      };
      if (old_g && new_g && *old_g == *new_g) {
        update(*new_g, old_v, new_v);
      } else {
        if (old_g) update(*old_g, old_v, std::nullopt);
        if (new_g) update(*new_g, std::nullopt, new_v);
      }
    } else {
      for (const KV& kv : EvalChain(c.stream_chain, in.key, *in.value)) {
        std::optional<int64_t> row;
        if (auto it = raw.find(kv.key); it != raw.end()) row = Derive(c.table_ops, kv.key, it->second);
        if (row || c.left_join) out.push_back({kv.key, -1, -1, kv.value * 1000 + row.value_or(kNone), in.ts});
      }
    }
    for (auto [topic, expected, mode, ts] :
         {std::make_tuple("tout", &tout, c.table_caching ? Compare::kLastPerKey : Compare::kExact, true),
          std::make_tuple("gout", &gout, c.agg_caching ? Compare::kLastPerKey : Compare::kExact, false),
          std::make_tuple("out", &out, Compare::kExact, true)}) {
      auto actual = ReadOutput(**driver, topic, KeyFormat::kPlain);
      if (!actual.ok()) return absl::StrCat(what, "\nstep ", i, ": ", actual.status().ToString());
      if (auto diff = CompareStep(mode, *expected, *actual, ts)) {
        return absl::StrCat(what, "\nstep ", i, " ", topic, ": ", *diff);
      }
    }
  }
  if (auto diff = StoreEquals(**driver, "table-store", raw)) return absl::StrCat(what, "\nfinal ", *diff);
  if (auto diff = StoreEquals(**driver, "gagg-store", groups)) return absl::StrCat(what, "\nfinal ", *diff);
  return std::nullopt;
}

TEST(PropertyTest, TablesAndStreamTableJoinsMatchTheOracle) { RunFamily("TablesAndStreamTableJoins", 5, RunTables); }

// ---- Stream-stream joins ----

enum class JoinKind { kInner, kLeft, kOuter };

struct StreamJoinCase {
  JoinKind kind = JoinKind::kInner;
  int64_t before = 0, after = 0, grace = 0;
  std::vector<Op> left_chain, right_chain;
  bool in_memory = false;
  std::string Describe() const {
    static const char* kinds[] = {"join", "leftJoin", "outerJoin"};
    return absl::StrCat("stream(left) . ", DescribeChain(left_chain), " . ", kinds[static_cast<int>(kind)],
                        "(stream(right) . ", DescribeChain(right_chain), ", before ", before, ", after ", after,
                        ", grace ", grace, ", in_memory ", in_memory, ") . to(out)");
  }
};

int64_t JoinValue(std::optional<int64_t> l, std::optional<int64_t> r) { return l.value_or(kNone) * 1000 + r.value_or(kNone); }

class StreamJoinOracle {
 public:
  explicit StreamJoinOracle(const StreamJoinCase& c) : c_(c) {}

  void Process(int side, const std::string& k, int64_t v, int64_t t, std::vector<Rec>& out) {
    const int64_t previous = stream_time_;
    stream_time_ = std::max(stream_time_, t);
    const int64_t reach = side == 0 ? c_.after : c_.before;
    if (t + reach + c_.grace < stream_time_) return;  // late
    if (stream_time_ > previous) {
      for (auto it = unmatched_.begin(); it != unmatched_.end();) {
        const Buffered& u = buffered_[it->second];
        if (u.t + Horizon(u.side) < stream_time_) {
          out.push_back({u.key, -1, -1, u.side == 0 ? JoinValue(u.v, std::nullopt) : JoinValue(std::nullopt, u.v), u.t});
          it = unmatched_.erase(it);
        } else {
          ++it;
        }
      }
    }
    const int64_t from = side == 0 ? t - c_.before : t - c_.after;
    const int64_t to = side == 0 ? t + c_.after : t + c_.before;
    bool matched = false;
    for (size_t i = 0; i < buffered_.size(); ++i) {
      const Buffered& p = buffered_[i];
      if (p.side == side || p.key != k || p.t < from || p.t > to) continue;
      matched = true;
      std::erase_if(unmatched_, [i](const auto& e) { return e.second == i; });
      out.push_back({k, -1, -1, side == 0 ? JoinValue(v, p.v) : JoinValue(p.v, v), std::max(t, p.t)});
    }
    buffered_.push_back({side, k, v, t});
    if (!matched && Outer(side)) unmatched_.insert({t, buffered_.size() - 1});
  }

 private:
  struct Buffered {
    int side;
    std::string key;
    int64_t v;
    int64_t t;
  };
  bool Outer(int side) const { return side == 0 ? c_.kind != JoinKind::kInner : c_.kind == JoinKind::kOuter; }
  // After t + Horizon(side), no on-time partner can reach a record at t.
  int64_t Horizon(int side) const { return side == 0 ? c_.after + c_.before + c_.grace : c_.before + c_.after + c_.grace; }

  const StreamJoinCase& c_;
  int64_t stream_time_ = -1;
  std::vector<Buffered> buffered_;
  std::multimap<int64_t, size_t> unmatched_;  // time -> index in buffered_
};

std::optional<std::string> RunStreamJoins(uint64_t seed) {
  Rng rng(seed);
  StreamJoinCase c;
  c.kind = static_cast<JoinKind>(rng.In(0, 2));
  // Times in seconds for a quarter of the seeds: the window stores then
  // span several segments and retention drops some.
  const int64_t scale = rng.Chance(25) ? 1000 : 1;
  c.before = rng.In(0, 30) * scale;
  c.after = rng.Chance(50) ? c.before : rng.In(0, 30) * scale;
  c.grace = rng.Chance(20) ? 0 : rng.In(0, 30) * scale;
  c.left_chain = RandomChain(rng, 2, rng.Chance(30));
  c.right_chain = RandomChain(rng, 2, rng.Chance(30));
  c.in_memory = rng.Chance(30);
  std::vector<Input> inputs;
  int64_t clock = 0;
  const int64_t step = rng.In(1, 12) * scale;
  for (int64_t i = rng.In(1, 30); i > 0; --i) {
    inputs.push_back({rng.Chance(50) ? "left" : "right", Letter(rng.In(0, 2)), rng.In(0, kValues - 1),
                      NextTimestamp(rng, clock, step, c.before + c.after + c.grace + 30 * scale)});
  }
  const std::string what = absl::StrCat("seed ", seed, "\ntopology: ", c.Describe(), "\ninputs: ", DescribeInputs(inputs));

  StreamsBuilder builder;
  Stream left = ApplyChain(builder.Stream("left", Consumed(serdes::String(), serdes::Int64())), c.left_chain);
  Stream right = ApplyChain(builder.Stream("right", Consumed(serdes::String(), serdes::Int64())), c.right_chain);
  const JoinWindows windows = JoinWindows::OfTimeDifferenceAndGrace(absl::Milliseconds(c.before), absl::Milliseconds(c.grace))
                                  .After(absl::Milliseconds(c.after));
  auto joined = StreamJoined<std::string, int64_t, int64_t>::With(serdes::String(), serdes::Int64(), serdes::Int64());
  if (c.in_memory) joined.InMemory();
  const Produced<std::string, int64_t> produced(serdes::String(), serdes::Int64());
  switch (c.kind) {
    case JoinKind::kInner:
      left.Join(right, [](const int64_t& l, const int64_t& r) { return JoinValue(l, r); }, windows, joined)
          .To("out", produced);
      break;
    case JoinKind::kLeft:
      left.LeftJoin(right, [](const int64_t& l, const std::optional<int64_t>& r) { return JoinValue(l, r); }, windows,
                    joined)
          .To("out", produced);
      break;
    case JoinKind::kOuter:
      left.OuterJoin(right,
                     [](const std::optional<int64_t>& l, const std::optional<int64_t>& r) { return JoinValue(l, r); },
                     windows, joined)
          .To("out", produced);
      break;
  }
  auto driver = MakeDriver(builder);
  if (!driver.ok()) return absl::StrCat(what, "\ndriver: ", driver.status().ToString());

  StreamJoinOracle oracle(c);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    if (absl::Status st = (*driver)->PipeRaw(in.topic, Raw(in.key, in.value, in.ts)); !st.ok()) {
      return absl::StrCat(what, "\nstep ", i, ": ", st.ToString());
    }
    const int side = in.topic == "left" ? 0 : 1;
    std::vector<Rec> expected;
    for (const KV& kv : EvalChain(side == 0 ? c.left_chain : c.right_chain, in.key, *in.value)) {
      oracle.Process(side, kv.key, kv.value, in.ts, expected);
    }
    auto actual = ReadOutput(**driver, "out", KeyFormat::kPlain);
    if (!actual.ok()) return absl::StrCat(what, "\nstep ", i, ": ", actual.status().ToString());
    if (auto diff = CompareStep(Compare::kUnordered, expected, *actual)) {
      return absl::StrCat(what, "\nstep ", i, ": ", *diff);
    }
  }
  return std::nullopt;
}

TEST(PropertyTest, StreamStreamJoinsMatchTheOracle) { RunFamily("StreamStreamJoins", 6, RunStreamJoins); }

}  // namespace
}  // namespace runnel::proptest
