#ifndef RUNNEL_TESTS_PROPERTY_PROPTEST_H_
#define RUNNEL_TESTS_PROPERTY_PROPTEST_H_

// Shared pieces of the property tests (tests/property/README.md): seeds and
// iteration counts, a small deterministic random source, random inputs,
// the stateless operations a random topology chains (each as a plain
// description that both the DSL lambda and the oracle evaluate with the
// same pure function), and reading the driver's raw output.
//
// The oracles never call the framework's operators: they interpret the
// description over std containers. What they share with the topology is
// only the user functions (a filter's predicate, a map's arithmetic).
//
// Threading: one test thread.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel::proptest {

// How many topologies a family runs: RUNNEL_PROPTEST_ITERATIONS, else 200
// (40 in a sanitizer build, RUNNEL_PROPTEST_SANITIZED). RUNNEL_PROPTEST_SEED
// runs that one seed only (what a failure prints).
struct Plan {
  std::vector<uint64_t> seeds;
};
inline Plan PlanFromEnv(uint64_t family_salt) {
  Plan plan;
  if (const char* one = std::getenv("RUNNEL_PROPTEST_SEED"); one != nullptr && *one != '\0') {
    plan.seeds.push_back(std::strtoull(one, nullptr, 10));
    return plan;
  }
#ifdef RUNNEL_PROPTEST_SANITIZED
  int64_t n = 40;
#else
  int64_t n = 200;
#endif
  if (const char* it = std::getenv("RUNNEL_PROPTEST_ITERATIONS"); it != nullptr && *it != '\0') {
    n = std::strtoll(it, nullptr, 10);
  }
  uint64_t base = family_salt * 1'000'000'007ULL;
  if (const char* b = std::getenv("RUNNEL_PROPTEST_BASE_SEED"); b != nullptr && *b != '\0') {
    base += std::strtoull(b, nullptr, 10) * 0x9E3779B97F4A7C15ULL;
  }
  for (int64_t i = 0; i < n; ++i) plan.seeds.push_back(base + static_cast<uint64_t>(i));
  return plan;
}

// splitmix64: the same numbers on every platform for a seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  int64_t In(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1)); }
  bool Chance(int percent) { return In(0, 99) < percent; }

 private:
  uint64_t state_;
};

// Keys are one letter of a small alphabet, values small non-negative
// integers, so that keys collide and every path is taken.
inline constexpr int64_t kLetters = 6;
inline constexpr int64_t kValues = 100;
inline std::string Letter(int64_t i) { return std::string(1, static_cast<char>('a' + ((i % kLetters) + kLetters) % kLetters)); }
inline int64_t KeyIndex(const std::string& k) { return k.empty() ? 0 : k[0] - 'a'; }

struct Input {
  std::string topic;
  std::string key;
  std::optional<int64_t> value;  // nullopt: a tombstone (tables only)
  int64_t ts = 0;
};

// Timestamps that mostly advance, with some records `disorder` ms or more
// behind (out of order, within or beyond grace).
inline int64_t NextTimestamp(Rng& rng, int64_t& clock, int64_t step, int64_t disorder) {
  clock += rng.In(0, step);
  if (rng.Chance(25)) return std::max<int64_t>(0, clock - rng.In(0, disorder));
  return clock;
}

// ---- Stateless operations on KStream<std::string, int64_t> ----

struct Op {
  enum Kind { kFilter, kFilterNot, kMap, kMapValues, kMapValuesKeyed, kFlatMap, kFlatMapValues, kSelectKey, kPeek };
  Kind kind;
  int64_t a = 0, b = 0, c = 0;

  bool ChangesKey() const { return kind == kMap || kind == kFlatMap || kind == kSelectKey; }
  std::string Describe() const {
    static const char* names[] = {"filter", "filterNot", "map", "mapValues", "mapValues(k,v)", "flatMap",
                                  "flatMapValues", "selectKey", "peek"};
    return absl::StrCat(names[kind], "(", a, ",", b, ",", c, ")");
  }
};

// The user functions, shared by the DSL lambdas and the oracle.
inline bool OpPredicate(const Op& op, const std::string& k, int64_t v) { return (v + KeyIndex(k)) % op.a != op.b; }
inline KeyValue<std::string, int64_t> OpMap(const Op& op, const std::string& k, int64_t v) {
  return {Letter(KeyIndex(k) + op.c + v), (v * op.a + op.b) % kValues};
}
inline int64_t OpMapValue(const Op& op, int64_t v) { return (v * op.a + op.b) % kValues; }
inline int64_t OpMapValueKeyed(const Op& op, const std::string& k, int64_t v) {
  return (v * op.a + op.b + KeyIndex(k)) % kValues;
}
inline std::vector<KeyValue<std::string, int64_t>> OpFlatMap(const Op& op, const std::string& k, int64_t v) {
  std::vector<KeyValue<std::string, int64_t>> out;
  for (int64_t i = 0; i < v % (op.a + 1); ++i) out.push_back({Letter(KeyIndex(k) + i * op.c), (v + i * op.b) % kValues});
  return out;
}
inline std::vector<int64_t> OpFlatMapValues(const Op& op, int64_t v) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < (v + op.b) % (op.a + 1); ++i) out.push_back((v * (i + 1) + op.c) % kValues);
  return out;
}
inline std::string OpSelectKey(const Op& op, const std::string& k, int64_t v) {
  return Letter((v + op.b * KeyIndex(k)) % op.a);
}

inline Op RandomOp(Rng& rng, bool allow_key_change) {
  Op op{static_cast<Op::Kind>(rng.In(0, 8))};
  if (!allow_key_change && op.ChangesKey()) op.kind = rng.Chance(50) ? Op::kFilter : Op::kMapValues;
  switch (op.kind) {
    case Op::kFilter:
    case Op::kFilterNot:
      op.a = rng.In(2, 4);
      op.b = rng.In(0, op.a - 1);
      break;
    case Op::kFlatMap:
    case Op::kFlatMapValues:
      op.a = rng.In(1, 3);
      op.b = rng.In(0, 9);
      op.c = rng.In(0, 3);
      break;
    case Op::kSelectKey:
      op.a = rng.In(1, kLetters);
      op.b = rng.In(0, 3);
      break;
    default:
      op.a = rng.In(1, 9);
      op.b = rng.In(0, 50);
      op.c = rng.In(0, 5);
  }
  return op;
}

inline std::vector<Op> RandomChain(Rng& rng, int max_len, bool allow_key_change) {
  std::vector<Op> ops;
  const int64_t n = rng.In(0, max_len);
  for (int64_t i = 0; i < n; ++i) ops.push_back(RandomOp(rng, allow_key_change));
  return ops;
}

inline bool ChainChangesKey(const std::vector<Op>& ops) {
  return std::any_of(ops.begin(), ops.end(), [](const Op& op) { return op.ChangesKey(); });
}

inline std::string DescribeChain(const std::vector<Op>& ops) {
  std::vector<std::string> parts;
  for (const Op& op : ops) parts.push_back(op.Describe());
  return parts.empty() ? "(none)" : absl::StrJoin(parts, " . ");
}

using Stream = KStream<std::string, int64_t>;

// Adds `op` after `s` with the DSL.
inline Stream ApplyOp(Stream s, const Op& op) {
  switch (op.kind) {
    case Op::kFilter:
      return s.Filter([op](const std::string& k, const int64_t& v) { return OpPredicate(op, k, v); });
    case Op::kFilterNot:
      return s.FilterNot([op](const std::string& k, const int64_t& v) { return OpPredicate(op, k, v); });
    case Op::kMap:
      return s.Map([op](const std::string& k, const int64_t& v) { return OpMap(op, k, v); });
    case Op::kMapValues:
      return s.MapValues([op](const int64_t& v) { return OpMapValue(op, v); });
    case Op::kMapValuesKeyed:
      return s.MapValues([op](const std::string& k, const int64_t& v) { return OpMapValueKeyed(op, k, v); });
    case Op::kFlatMap:
      return s.FlatMap([op](const std::string& k, const int64_t& v) { return OpFlatMap(op, k, v); });
    case Op::kFlatMapValues:
      return s.FlatMapValues([op](const int64_t& v) { return OpFlatMapValues(op, v); });
    case Op::kSelectKey:
      return s.SelectKey([op](const std::string& k, const int64_t& v) { return OpSelectKey(op, k, v); });
    case Op::kPeek:
      return s.Peek([](const std::string&, const int64_t&) {});
  }
  return s;
}
inline Stream ApplyChain(Stream s, const std::vector<Op>& ops) {
  for (const Op& op : ops) s = ApplyOp(s, op);
  return s;
}

// The oracle of a chain: what one record becomes, in order.
struct KV {
  std::string key;
  int64_t value;
};
inline std::vector<KV> EvalChain(const std::vector<Op>& ops, const std::string& key, int64_t value) {
  std::vector<KV> records{{key, value}};
  for (const Op& op : ops) {
    std::vector<KV> next;
    for (const KV& r : records) {
      switch (op.kind) {
        case Op::kFilter:
          if (OpPredicate(op, r.key, r.value)) next.push_back(r);
          break;
        case Op::kFilterNot:
          if (!OpPredicate(op, r.key, r.value)) next.push_back(r);
          break;
        case Op::kMap: {
          auto kv = OpMap(op, r.key, r.value);
          next.push_back({kv.key, kv.value});
          break;
        }
        case Op::kMapValues:
          next.push_back({r.key, OpMapValue(op, r.value)});
          break;
        case Op::kMapValuesKeyed:
          next.push_back({r.key, OpMapValueKeyed(op, r.key, r.value)});
          break;
        case Op::kFlatMap:
          for (const auto& kv : OpFlatMap(op, r.key, r.value)) next.push_back({kv.key, kv.value});
          break;
        case Op::kFlatMapValues:
          for (int64_t v : OpFlatMapValues(op, r.value)) next.push_back({r.key, v});
          break;
        case Op::kSelectKey:
          next.push_back({OpSelectKey(op, r.key, r.value), r.value});
          break;
        case Op::kPeek:
          next.push_back(r);
          break;
      }
    }
    records = std::move(next);
  }
  return records;
}

// ---- Outputs ----

// One output record, decoded; start/end are -1 for unwindowed keys.
struct Rec {
  std::string key;
  int64_t start = -1;
  int64_t end = -1;
  int64_t value = 0;
  int64_t ts = 0;
  auto operator<=>(const Rec&) const = default;
  std::string ToString() const {
    std::string w = start < 0 ? "" : absl::StrCat("@[", start, ",", end, "]");
    return absl::StrCat(key, w, "=", value, " ts=", ts);
  }
};
inline std::string ToString(const std::vector<Rec>& recs) {
  std::vector<std::string> parts;
  for (const Rec& r : recs) parts.push_back(r.ToString());
  return absl::StrCat("[", absl::StrJoin(parts, "; "), "]");
}

enum class KeyFormat { kPlain, kTimeWindowed, kSessionWindowed };

inline absl::StatusOr<int64_t> DecodeInt64(const std::optional<std::string>& bytes) {
  if (!bytes || bytes->size() != 8) return absl::DataLossError("output value is not 8 bytes");
  return static_cast<int64_t>(serdes::ReadBigEndian64(bytes->data()));
}

// Every unread record of `topic`, decoded.
inline absl::StatusOr<std::vector<Rec>> ReadOutput(TopologyTestDriver& driver, std::string_view topic, KeyFormat format,
                                                   int64_t window_size = 0) {
  std::vector<Rec> out;
  auto& queue = driver.Output(topic);
  while (!queue.empty()) {
    TestRecord r = std::move(queue.front());
    queue.pop_front();
    Rec rec;
    std::string key = r.key.value_or("");
    if (format == KeyFormat::kTimeWindowed) {
      if (key.size() < 8) return absl::DataLossError("windowed key too short");
      rec.start = static_cast<int64_t>(serdes::ReadBigEndian64(key.data() + key.size() - 8));
      rec.end = rec.start + window_size;
      key.resize(key.size() - 8);
    } else if (format == KeyFormat::kSessionWindowed) {
      if (key.size() < 16) return absl::DataLossError("session key too short");
      rec.end = static_cast<int64_t>(serdes::ReadBigEndian64(key.data() + key.size() - 16));
      rec.start = static_cast<int64_t>(serdes::ReadBigEndian64(key.data() + key.size() - 8));
      key.resize(key.size() - 16);
    }
    rec.key = std::move(key);
    auto v = DecodeInt64(r.value);
    if (!v.ok()) return v.status();
    rec.value = *v;
    rec.ts = r.timestamp.value();
    out.push_back(std::move(rec));
  }
  return out;
}

// How a step's actual output is compared with the oracle's.
enum class Compare {
  kExact,       // the same records in the same order
  kUnordered,   // the same records, any order
  kLastPerKey,  // a cached store: per (windowed) key, the last value of the step
};

inline std::optional<std::string> CompareStep(Compare mode, std::vector<Rec> expected, std::vector<Rec> actual,
                                              bool compare_ts = true) {
  if (!compare_ts) {
    for (Rec& r : expected) r.ts = 0;
    for (Rec& r : actual) r.ts = 0;
  }
  if (mode == Compare::kLastPerKey) {
    auto last = [](const std::vector<Rec>& recs) {
      std::map<std::tuple<std::string, int64_t, int64_t>, Rec> m;
      for (const Rec& r : recs) m[{r.key, r.start, r.end}] = r;
      std::vector<Rec> out;
      for (auto& [k, r] : m) out.push_back(r);
      return out;
    };
    expected = last(expected);
    actual = last(actual);
  } else if (mode == Compare::kUnordered) {
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
  }
  if (expected == actual) return std::nullopt;
  return absl::StrCat("expected ", ToString(expected), "\n  actual   ", ToString(actual));
}

inline TestRecord Raw(const std::string& key, std::optional<int64_t> value, int64_t ts) {
  TestRecord r{.key = key, .value = std::nullopt, .timestamp = Timestamp(ts), .headers = {}};
  if (value) {
    r.value.emplace();
    serdes::AppendBigEndian64(static_cast<uint64_t>(*value), *r.value);
  }
  return r;
}

inline std::string DescribeInputs(const std::vector<Input>& inputs) {
  std::vector<std::string> parts;
  for (const Input& in : inputs) {
    parts.push_back(absl::StrCat(in.topic, ":", in.key, "=", in.value ? absl::StrCat(*in.value) : "null", "@", in.ts));
  }
  return absl::StrJoin(parts, " ");
}

// A driver whose state.dir is under RUNNEL_PROPTEST_TMPDIR, else /dev/shm
// when there is one (RocksDB's syncs on a shared disk cost more than the
// test), else the system's temporary directory; removed with the driver.
inline absl::StatusOr<std::shared_ptr<TopologyTestDriver>> MakeDriver(StreamsBuilder& builder) {
  auto topology = builder.Build();
  if (!topology.ok()) return topology.status();
  std::error_code ec;
  std::filesystem::path base;
  if (const char* dir = std::getenv("RUNNEL_PROPTEST_TMPDIR"); dir != nullptr && *dir != '\0') {
    base = dir;
  } else if (std::filesystem::is_directory("/dev/shm", ec)) {
    base = "/dev/shm";
  } else {
    base = std::filesystem::temp_directory_path();
  }
  std::string dir = (base / "runnel-proptest-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return absl::InternalError(absl::StrCat("cannot create a state.dir under ", base.string()));
  auto driver = TopologyTestDriver::Create(*topology, {{"application.id", "proptest"}, {"state.dir", dir}});
  if (!driver.ok()) {
    std::filesystem::remove_all(dir, ec);
    return driver.status();
  }
  return std::shared_ptr<TopologyTestDriver>(driver->release(), [dir](TopologyTestDriver* d) {
    delete d;
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  });
}

// Runs `run(seed)` for every seed of the plan; a failure names its seed
// and how to run it alone. Stops a family at its third failure.
inline void RunFamily(std::string_view family, uint64_t salt,
                      const std::function<std::optional<std::string>(uint64_t)>& run) {
  Plan plan = PlanFromEnv(salt);
  int failures = 0;
  for (uint64_t seed : plan.seeds) {
    std::optional<std::string> failure = run(seed);
    if (!failure) continue;
    ADD_FAILURE() << family << " seed " << seed << " failed; reproduce with RUNNEL_PROPTEST_SEED=" << seed
                  << " ctest -R " << family << "\n" << *failure;
    if (++failures == 3) return;
  }
}

}  // namespace runnel::proptest

#endif  // RUNNEL_TESTS_PROPERTY_PROPTEST_H_
