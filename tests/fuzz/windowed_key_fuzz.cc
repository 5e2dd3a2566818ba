// Windowed keys, in every byte format Runnel reads them:
//  - Kafka Streams' time-windowed key (<key><start 8>) and session-windowed
//    key (<key><end 8><start 8>), serde/windowed.h, with string and int64 keys;
//  - the window store's entry key (<segment 8><key><start 8><seq 4>) as the
//    DSL decodes it into a Windowed<K> (dsl/internal/windowed_output.h).
// Properties: short or undecodable input is an error, never a crash or
// undefined behaviour; a decoded key serializes back to the same bytes;
// windows are never inverted (end >= start).

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_check.h"
#include "runnel/dsl/internal/windowed_output.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"

namespace {

using runnel::Serde;
using runnel::Windowed;

template <typename K>
void CheckWindowed(const Serde<Windowed<K>>& serde, std::string_view bytes, size_t suffix) {
  auto w = serde.Deserialize(bytes);
  if (!w.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(w.status()), w.status().ToString());
    return;
  }
  FUZZ_CHECK(w->window.end >= w->window.start, std::string(serde.Name()) + ": window ends before it starts");
  std::string out;
  FUZZ_CHECK(serde.Serialize(*w, out).ok(), "a decoded windowed key does not serialize");
  FUZZ_CHECK(out == bytes, std::string(serde.Name()) + " does not round-trip");
  FUZZ_CHECK(serde.PartitionBytes(bytes) == bytes.substr(0, bytes.size() - suffix),
             "partition bytes are not the base key");
}

template <typename K>
void CheckStoreKey(const Serde<K>& key_serde, std::string_view bytes, int64_t size) {
  auto w = runnel::dsl::internal::DecodeWindowStoreKey(key_serde, bytes, size);
  if (!w.ok()) return;  // DataLoss (too short) or the key serde's error
  FUZZ_CHECK(w->window.end >= w->window.start, "window store key: window ends before it starts");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace serdes = runnel::serdes;
  FuzzedDataProvider in(data, size);
  // Window sizes are positive (TimeWindows checks); none means "unknown".
  std::optional<int64_t> window_size;
  if (in.ConsumeBool()) window_size = in.ConsumeIntegralInRange<int64_t>(1, std::numeric_limits<int64_t>::max());
  const std::string bytes = in.ConsumeRemainingBytesAsString();

  CheckWindowed(*serdes::TimeWindowed(serdes::String(), window_size), bytes, 8);
  CheckWindowed(*serdes::TimeWindowed(serdes::Int64(), window_size), bytes, 8);
  CheckWindowed(*serdes::SessionWindowed(serdes::String()), bytes, 16);
  CheckWindowed(*serdes::SessionWindowed(serdes::Int64()), bytes, 16);
  CheckStoreKey(*serdes::String(), bytes, window_size.value_or(1));
  CheckStoreKey(*serdes::Int64(), bytes, window_size.value_or(1));
  return 0;
}
