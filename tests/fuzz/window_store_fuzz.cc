// Window and session stores over arbitrary stored bytes: the entries of the
// key-value store below (restored from a changelog topic, so written by
// anyone) are taken from the input, then the stores are opened and read the
// way tasks and interactive queries read them (state/window_store.h: entry
// keys <segment 8><key><start 8><seq 4> and <segment 8><key><end 8><start 8>,
// the persisted stream time under the 0xFF x 8 meta prefix).
// Properties: a corrupt store is an error (DataLoss), never a crash,
// undefined behaviour or a hang; what is returned lies in the asked range.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/strings/str_cat.h"
#include "fuzz_check.h"
#include "runnel/state/in_memory_kv_store.h"
#include "runnel/state/window_store.h"

namespace {

using runnel::Timestamp;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string BigEndian64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(static_cast<uint64_t>(v) & 0xff);
    v = static_cast<int64_t>(static_cast<uint64_t>(v) >> 8);
  }
  return out;
}

void Windows(runnel::InMemoryKeyValueStore& kv, const runnel::SegmentedStoreOptions& options, std::string_view key,
             int64_t from, int64_t to) {
  runnel::WindowStore view(static_cast<const runnel::ReadOnlyKeyValueStore*>(&kv), options);
  if (!view.Init().ok()) return;
  if (auto w = view.Fetch(key, Timestamp(from), Timestamp(to)); w.ok()) {
    for (const auto& e : *w) {
      FUZZ_CHECK(e.key == key && e.start.value() >= from && e.start.value() <= to,
                 absl::StrCat("window at ", e.start.value(), " is outside [", from, ", ", to, "]"));
    }
  }
  (void)view.FetchRange(key, std::nullopt, Timestamp(from), Timestamp(to));
  (void)view.FetchAll(Timestamp(from), Timestamp(to));
  (void)view.Fetch(key, Timestamp(from));

  runnel::WindowStore store(&kv, options);
  if (!store.Init().ok()) return;
  (void)store.FetchAll(Timestamp(from), Timestamp(to));
  if (from >= 0 && store.Put(key, Timestamp(from), "v").ok()) (void)store.Fetch(key, Timestamp(from));
}

void Sessions(runnel::InMemoryKeyValueStore& kv, const runnel::SegmentedStoreOptions& options, std::string_view key,
              int64_t from, int64_t to) {
  runnel::SessionStore view(static_cast<const runnel::ReadOnlyKeyValueStore*>(&kv), options);
  if (!view.Init().ok()) return;
  if (auto s = view.FindSessions(key, Timestamp(from), Timestamp(to)); s.ok()) {
    for (const auto& e : *s) {
      FUZZ_CHECK(e.key == key && e.end.value() >= from && e.start.value() <= to,
                 absl::StrCat("session [", e.start.value(), ", ", e.end.value(), "] is outside ends >= ", from,
                              ", starts <= ", to));
    }
  }
  (void)view.FetchAllEndingIn(Timestamp(from), Timestamp(to));
  runnel::SessionStore store(&kv, options);
  if (!store.Init().ok()) return;
  (void)store.FindSessions(std::nullopt, std::nullopt, Timestamp(from), Timestamp(to));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  runnel::SegmentedStoreOptions options;
  options.retention_ms = in.ConsumeIntegralInRange<int64_t>(1, 7LL * 24 * 3600 * 1000);
  // 0 is the default (max(retention / 2, 60 s)); like Kafka Streams', a
  // segment is at least a minute (the option exists for tests).
  if (in.ConsumeBool()) options.segment_interval_ms = in.ConsumeIntegralInRange<int64_t>(60'000, 24LL * 3600 * 1000);
  const bool sessions = in.ConsumeBool();
  const std::string key = in.ConsumeRandomLengthString(16);
  int64_t from = in.ConsumeIntegral<int64_t>();
  int64_t to = in.ConsumeBool() ? kMax : in.ConsumeIntegral<int64_t>();
  if (from > to) std::swap(from, to);

  runnel::InMemoryKeyValueStore kv("fuzz-store");
  // The persisted stream time, when given.
  if (in.ConsumeBool()) {
    FUZZ_CHECK(kv.Put(std::string(8, '\xff') + "stream-time", in.ConsumeRandomLengthString(12)).ok(), "put");
  }
  while (in.remaining_bytes() > 0) {
    // Mostly well-framed entries near the asked key (so the readers get past
    // the segment and key checks), some arbitrary.
    std::string store_key;
    if (in.ConsumeBool()) {
      store_key = BigEndian64(in.ConsumeIntegralInRange<int64_t>(-2, 64)) + key +
                  in.ConsumeBytesAsString(sessions ? 16 : 12);
    } else {
      store_key = in.ConsumeRandomLengthString(40);
    }
    FUZZ_CHECK(kv.Put(store_key, in.ConsumeRandomLengthString(16)).ok(), "put");
  }
  if (sessions) {
    Sessions(kv, options, key, from, to);
  } else {
    Windows(kv, options, key, from, to);
  }
  return 0;
}
