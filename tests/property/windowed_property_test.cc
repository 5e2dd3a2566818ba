// Property tests of random windowed aggregations (tumbling, hopping and
// session windows; count, reduce, aggregate; emit-on-update with and
// without caching, and emit-final) against an oracle of the documented
// semantics (docs/windows-and-joins.md, framework/runnel/dsl/README.md):
//   - stream time is the highest timestamp the operator has seen, moved
//     before the record is judged;
//   - a time window [s, s+size) takes a record while s + size + grace >
//     stream time; a session a record forms (merging every session of its
//     key with end >= t - gap and start <= t + gap, oldest first) while
//     its end + grace >= stream time; otherwise the record is late;
//   - emit-final sends a time window once s + size + grace <= stream time
//     and a session once end + gap + grace < stream time;
//   - results carry the highest timestamp folded into the window.
// The final window/session store must hold every window retention keeps.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"
#include "runnel/state/window_store.h"
#include "runnel/testing/topology_test_driver.h"
#include "proptest.h"

namespace runnel::proptest {
namespace {

enum class AggKind { kCount, kReduce, kAggregate };
constexpr int64_t kMod = 1'000'003;
int64_t Reduce(int64_t agg, int64_t v) { return (agg * 31 + v) % kMod; }
int64_t Aggregate(const std::string& k, int64_t v, int64_t agg) { return (agg * 7 + v + KeyIndex(k)) % kMod; }
int64_t MergeSessions(int64_t a, int64_t b) { return (a * 13 + b) % kMod; }

struct WindowedCase {
  bool session = false;
  int64_t size = 0, advance = 0, gap = 0, grace = 0;
  std::vector<Op> chain;
  AggKind agg = AggKind::kCount;
  int64_t init = 0;
  bool emit_final = false;
  bool caching = true;
  bool in_memory = false;

  std::string Describe() const {
    static const char* aggs[] = {"count", "reduce", "aggregate"};
    std::string w = session ? absl::StrCat("sessions(gap ", gap, ", grace ", grace, ")")
                            : absl::StrCat("timeWindows(size ", size, ", advance ", advance, ", grace ", grace, ")");
    return absl::StrCat("stream(in) . ", DescribeChain(chain), " . groupByKey . windowedBy(", w, ") . emit(",
                        emit_final ? "final" : "update", ") . ", aggs[static_cast<int>(agg)], "(init ", init,
                        ", caching ", caching, ", in_memory ", in_memory, ") . toStream . to(out)");
  }
};

// The fold of one record into a window's aggregate (nullopt: the first).
int64_t Fold(const WindowedCase& c, const std::string& k, int64_t v, std::optional<int64_t> agg) {
  switch (c.agg) {
    case AggKind::kCount:
      return agg.value_or(0) + 1;
    case AggKind::kReduce:
      return agg ? Reduce(*agg, v) : v;
    case AggKind::kAggregate:
      return Aggregate(k, v, agg.value_or(c.init));
  }
  return 0;
}
// Folding a merged session's aggregate in (Kafka Streams' order: the
// initializer, then each merged session oldest first, then the record).
int64_t Merge(const WindowedCase& c, std::optional<int64_t> agg, int64_t session) {
  switch (c.agg) {
    case AggKind::kCount:
      return agg.value_or(0) + session;
    case AggKind::kReduce:
      return agg ? Reduce(*agg, session) : session;
    case AggKind::kAggregate:
      return MergeSessions(agg.value_or(c.init), session);
  }
  return 0;
}

template <typename W>
KTable<Windowed<std::string>, int64_t> AddAggregation(const WindowedCase& c, W& w,
                                                      Materialized<std::string, int64_t> m) {
  switch (c.agg) {
    case AggKind::kCount:
      return w.Count(m);
    case AggKind::kReduce:
      return w.Reduce([](int64_t a, int64_t v) { return Reduce(a, v); }, m);
    case AggKind::kAggregate:
      break;
  }
  auto init = [i = c.init] { return i; };
  auto add = [](const std::string& k, const int64_t& v, int64_t a) { return Aggregate(k, v, a); };
  if constexpr (std::is_same_v<W, SessionWindowedKStream<std::string, int64_t>>) {
    return w.template Aggregate<int64_t>(init, add, [](const std::string&, int64_t a, int64_t b) {
      return MergeSessions(a, b);
    }, m);
  } else {
    return w.template Aggregate<int64_t>(init, add, m);
  }
}

struct Agg {
  int64_t value;
  int64_t ts;
};

// The oracle: every window ever formed, by (key, start, end).
class WindowOracle {
 public:
  explicit WindowOracle(const WindowedCase& c) : c_(c) {}

  // One record reaching the aggregation; appends what goes downstream.
  void Process(const std::string& k, int64_t v, int64_t t, std::vector<Rec>& out) {
    const int64_t observed = std::max(stream_time_, t);
    if (c_.emit_final) EmitClosed(observed, out);
    stream_time_ = observed;
    if (c_.session) {
      ProcessSession(k, v, t, out);
    } else {
      ProcessTime(k, v, t, out);
    }
  }

  int64_t stream_time() const { return stream_time_; }
  // How long the store keeps a window (time: start, session: end): until
  // it closes. A session closes once end + gap + grace < stream time.
  int64_t retention() const { return c_.session ? c_.gap + c_.grace + 1 : c_.size + c_.grace; }
  // (key, start, end) -> aggregate of every live window.
  const std::map<std::tuple<std::string, int64_t, int64_t>, Agg>& windows() const { return windows_; }

 private:
  void ProcessTime(const std::string& k, int64_t v, int64_t t, std::vector<Rec>& out) {
    for (int64_t s = 0; s <= t; s += c_.advance) {
      if (t >= s + c_.size) continue;
      if (s + c_.size + c_.grace <= stream_time_) continue;  // late for this window
      auto key = std::make_tuple(k, s, s + c_.size);
      auto it = windows_.find(key);
      Agg next{Fold(c_, k, v, it == windows_.end() ? std::nullopt : std::optional<int64_t>(it->second.value)),
               it == windows_.end() ? t : std::max(t, it->second.ts)};
      windows_[key] = next;
      if (!c_.emit_final) out.push_back({k, s, s + c_.size, next.value, next.ts});
    }
  }

  void ProcessSession(const std::string& k, int64_t v, int64_t t, std::vector<Rec>& out) {
    std::vector<std::tuple<std::string, int64_t, int64_t>> merged;
    int64_t start = t, end = t;
    // By end: sessions of a key do not overlap, so this is oldest first.
    std::vector<std::pair<int64_t, std::tuple<std::string, int64_t, int64_t>>> by_end;
    for (const auto& [key, agg] : windows_) {
      const auto& [wk, ws, we] = key;
      // A session past retention is gone (emit-final has sent it): a
      // record bridging to a later session does not reach it.
      if (we <= stream_time_ - retention()) continue;
      if (wk == k && we >= t - c_.gap && ws <= t + c_.gap) by_end.push_back({we, key});
    }
    std::sort(by_end.begin(), by_end.end());
    for (const auto& [e, key] : by_end) {
      start = std::min(start, std::get<1>(key));
      end = std::max(end, std::get<2>(key));
    }
    if (end + c_.grace < stream_time_) return;  // late
    std::optional<int64_t> agg;
    int64_t ts = t;
    for (const auto& [e, key] : by_end) {
      const Agg& a = windows_.at(key);
      agg = Merge(c_, agg, a.value);
      ts = std::max(ts, a.ts);
      windows_.erase(key);
      emitted_.erase(key);
    }
    Agg next{Fold(c_, k, v, agg), ts};
    windows_[{k, start, end}] = next;
    if (!c_.emit_final) out.push_back({k, start, end, next.value, next.ts});
  }

  // Emit-final: every window closed at `observed` that was not sent yet.
  void EmitClosed(int64_t observed, std::vector<Rec>& out) {
    for (const auto& [key, agg] : windows_) {
      const auto& [k, s, e] = key;
      const bool closed = c_.session ? e + c_.gap + c_.grace < observed : e + c_.grace <= observed;
      if (closed && emitted_.insert(key).second) out.push_back({k, s, e, agg.value, agg.ts});
    }
  }

  const WindowedCase& c_;
  int64_t stream_time_ = -1;
  std::map<std::tuple<std::string, int64_t, int64_t>, Agg> windows_;
  std::set<std::tuple<std::string, int64_t, int64_t>> emitted_;
};

// Compares the window or session store with the oracle: whatever it holds
// is right, and it holds every window retention keeps.
std::optional<std::string> CheckStore(const WindowedCase& c, TopologyTestDriver& driver, const WindowOracle& oracle) {
  const KeyValueStore* kv = driver.GetKeyValueStore("win-store");
  if (kv == nullptr) return "no store win-store";
  const auto* reader = static_cast<const ReadOnlyKeyValueStore*>(kv);
  SegmentedStoreOptions options{.retention_ms = oracle.retention()};
  std::map<std::tuple<std::string, int64_t, int64_t>, Agg> stored;
  auto add = [&](const std::string& key, int64_t start, int64_t end, const std::string& value) -> absl::Status {
    if (value.size() != 16) return absl::DataLossError(absl::StrCat("stored value of ", key, " has ", value.size(), " bytes"));
    stored[{key, start, end}] = Agg{static_cast<int64_t>(serdes::ReadBigEndian64(value.data() + 8)),
                                    static_cast<int64_t>(serdes::ReadBigEndian64(value.data()))};
    return absl::OkStatus();
  };
  constexpr int64_t kEndOfTime = std::numeric_limits<int64_t>::max() / 2;
  if (c.session) {
    SessionStore store(reader, options);
    if (absl::Status s = store.Init(); !s.ok()) return s.ToString();
    auto all = store.FindSessions(std::nullopt, std::nullopt, Timestamp(0), Timestamp(kEndOfTime));
    if (!all.ok()) return all.status().ToString();
    for (const SessionEntry& e : *all) {
      if (absl::Status s = add(e.key, e.start.value(), e.end.value(), e.value); !s.ok()) return s.ToString();
    }
  } else {
    WindowStore store(reader, options);
    if (absl::Status s = store.Init(); !s.ok()) return s.ToString();
    auto all = store.FetchAll(Timestamp(0), Timestamp(kEndOfTime));
    if (!all.ok()) return all.status().ToString();
    for (const WindowEntry& e : *all) {
      if (absl::Status s = add(e.key, e.start.value(), e.start.value() + c.size, e.value); !s.ok()) return s.ToString();
    }
  }
  for (const auto& [key, agg] : stored) {
    auto it = oracle.windows().find(key);
    if (it == oracle.windows().end() || it->second.value != agg.value || it->second.ts != agg.ts) {
      return absl::StrCat("store holds ", Rec{std::get<0>(key), std::get<1>(key), std::get<2>(key), agg.value, agg.ts}.ToString(),
                          it == oracle.windows().end()
                              ? std::string(", which the oracle lacks")
                              : absl::StrCat(", the oracle ", it->second.value, " ts=", it->second.ts));
    }
  }
  for (const auto& [key, agg] : oracle.windows()) {
    // Window stores file a window under its start, session stores under its end.
    const int64_t time = c.session ? std::get<2>(key) : std::get<1>(key);
    if (time > oracle.stream_time() - oracle.retention() && !stored.contains(key)) {
      return absl::StrCat("store lacks ", Rec{std::get<0>(key), std::get<1>(key), std::get<2>(key), agg.value, agg.ts}.ToString(),
                          " (stream time ", oracle.stream_time(), ")");
    }
  }
  return std::nullopt;
}

std::optional<std::string> RunWindowed(uint64_t seed, bool session) {
  Rng rng(seed);
  WindowedCase c;
  c.session = session;
  // Times in seconds for a quarter of the seeds, so that stores span
  // several segments (at least 60 s each) and retention drops some.
  const int64_t scale = rng.Chance(25) ? 1000 : 1;
  if (session) {
    c.gap = rng.In(1, 30) * scale;
  } else {
    c.size = rng.In(1, 60) * scale;
    c.advance = rng.Chance(50) ? c.size : rng.In(1, c.size);
  }
  c.grace = rng.Chance(20) ? 0 : rng.In(0, 40) * scale;
  c.chain = RandomChain(rng, 2, true);
  c.agg = static_cast<AggKind>(rng.In(0, 2));
  c.init = rng.In(0, 9);
  c.emit_final = rng.Chance(50);
  c.caching = rng.Chance(50);
  c.in_memory = rng.Chance(30);
  std::vector<Input> inputs;
  int64_t clock = 0;
  const int64_t n = rng.In(1, 30);
  const int64_t step = rng.In(1, 20) * scale;
  for (int64_t i = 0; i < n; ++i) {
    inputs.push_back({"in", Letter(rng.In(0, 3)), rng.In(0, kValues - 1), NextTimestamp(rng, clock, step, 90 * scale)});
  }
  const std::string what = absl::StrCat("seed ", seed, "\ntopology: ", c.Describe(), "\ninputs: ", DescribeInputs(inputs));

  StreamsBuilder builder;
  Stream s = ApplyChain(builder.Stream("in", Consumed(serdes::String(), serdes::Int64())), c.chain);
  auto grouped = s.GroupByKey(Grouped<std::string, int64_t>(serdes::String(), serdes::Int64()));
  auto m = Materialized<std::string, int64_t>::As("win-store", serdes::String(), serdes::Int64());
  if (!c.caching) m.WithCachingDisabled();
  if (c.in_memory) m.InMemory();
  const EmitStrategy emit = c.emit_final ? EmitStrategy::OnWindowClose() : EmitStrategy::OnWindowUpdate();
  KeyFormat format = KeyFormat::kSessionWindowed;
  if (session) {
    auto w = grouped.WindowedBy(SessionWindows::OfInactivityGapAndGrace(absl::Milliseconds(c.gap),
                                                                        absl::Milliseconds(c.grace)));
    w.Emit(emit);
    AddAggregation(c, w, m).ToStream().To("out", Produced(serdes::SessionWindowed(serdes::String()), serdes::Int64()));
  } else {
    auto w = grouped.WindowedBy(TimeWindows::OfSizeAndGrace(absl::Milliseconds(c.size), absl::Milliseconds(c.grace))
                                    .AdvanceBy(absl::Milliseconds(c.advance)));
    w.Emit(emit);
    AddAggregation(c, w, m).ToStream().To("out",
                                          Produced(serdes::TimeWindowed(serdes::String(), c.size), serdes::Int64()));
    format = KeyFormat::kTimeWindowed;
  }
  auto driver = MakeDriver(builder);
  if (!driver.ok()) return absl::StrCat(what, "\ndriver: ", driver.status().ToString());

  WindowOracle oracle(c);
  // Uncached updates go out record by record, windows in start order;
  // emit-final sends a step's closed windows by start (or end) then key.
  const Compare mode = c.emit_final ? Compare::kUnordered : c.caching ? Compare::kLastPerKey : Compare::kExact;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    if (absl::Status st = (*driver)->PipeRaw("in", Raw(in.key, in.value, in.ts)); !st.ok()) {
      return absl::StrCat(what, "\nstep ", i, ": ", st.ToString());
    }
    std::vector<Rec> expected;
    for (const KV& kv : EvalChain(c.chain, in.key, *in.value)) oracle.Process(kv.key, kv.value, in.ts, expected);
    auto actual = ReadOutput(**driver, "out", format, c.size);
    if (!actual.ok()) return absl::StrCat(what, "\nstep ", i, ": ", actual.status().ToString());
    if (auto diff = CompareStep(mode, expected, *actual)) return absl::StrCat(what, "\nstep ", i, ": ", *diff);
  }
  if (auto diff = CheckStore(c, **driver, oracle)) return absl::StrCat(what, "\nfinal store: ", *diff);
  return std::nullopt;
}

TEST(PropertyTest, TimeWindowedAggregationsMatchTheOracle) {
  RunFamily("TimeWindowedAggregations", 3, [](uint64_t seed) { return RunWindowed(seed, false); });
}

TEST(PropertyTest, SessionWindowedAggregationsMatchTheOracle) {
  RunFamily("SessionWindowedAggregations", 4, [](uint64_t seed) { return RunWindowed(seed, true); });
}

}  // namespace
}  // namespace runnel::proptest
