#ifndef RUNNEL_TESTS_SYSTEM_CHAOS_CHAOS_INPUT_H_
#define RUNNEL_TESTS_SYSTEM_CHAOS_CHAOS_INPUT_H_

// The chaos suite's input and its oracle, computed from the seed alone.
//
// Record i of `count` is a pure function of (seed, i): key "k<n>" with n
// uniform in [0, keys), value "1", timestamp base + i * span / count, every
// fifth record up to 2 s earlier (out of order, within the 5 s grace of the
// windowed count). The producer writes exactly these records; the oracle
// recomputes them without any broker or framework code and counts them per
// 1-minute tumbling window: "<key>@<window start>" -> records. So the
// verdict depends on neither the input topic (a producer that lost or
// doubled a record shows up as wrong windows) nor Runnel's window code.
//
// The windows here must match runnel-keyed-count run-windowed (60 s
// windows, 5 s grace, emit-final): a record is never later than 2 s behind
// its partition's stream time, so none is dropped as late, and the close
// records (timestamp base + span + 10 minutes, one per partition) close
// every window.
//
// Threading: pure functions.

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace runnel_chaos {

inline constexpr int64_t kWindowMs = 60'000;
inline constexpr int64_t kGraceMs = 5'000;
inline constexpr char kCloseKey[] = "~close";

struct InputSpec {
  uint64_t seed = 1;
  int64_t count = 0;
  int64_t keys = 1;
  int64_t base_ms = 0;  // a whole minute
  int64_t span_ms = 3'600'000;
};

struct InputRecord {
  std::string key;
  int64_t timestamp_ms = 0;
};

// splitmix64: a good 64-bit mix, so record i needs no state of record i-1.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline InputRecord RecordAt(const InputSpec& spec, int64_t i) {
  const uint64_t h = Mix(spec.seed * 0x100000001b3ULL + static_cast<uint64_t>(i));
  const int64_t key = static_cast<int64_t>(h % static_cast<uint64_t>(spec.keys));
  const int64_t jitter = i % 5 == 0 ? static_cast<int64_t>(Mix(h) % 2000) : 0;
  // i * span overflows int64 only past ~2.5e9 records of an hour: far away.
  const int64_t ts = spec.base_ms + i * spec.span_ms / spec.count - jitter;
  return {absl::StrCat("k", key), ts < spec.base_ms ? spec.base_ms : ts};
}

inline int64_t CloseTimestamp(const InputSpec& spec) { return spec.base_ms + spec.span_ms + 10 * kWindowMs; }

inline std::string WindowName(const std::string& key, int64_t timestamp_ms) {
  return absl::StrCat(key, "@", timestamp_ms / kWindowMs * kWindowMs);
}

// Every window of the input with its record count: what the output must
// hold, each exactly once.
inline absl::flat_hash_map<std::string, int64_t> Oracle(const InputSpec& spec) {
  absl::flat_hash_map<std::string, int64_t> windows;
  for (int64_t i = 0; i < spec.count; ++i) {
    InputRecord r = RecordAt(spec, i);
    ++windows[WindowName(r.key, r.timestamp_ms)];
  }
  return windows;
}

}  // namespace runnel_chaos

#endif  // RUNNEL_TESTS_SYSTEM_CHAOS_CHAOS_INPUT_H_
