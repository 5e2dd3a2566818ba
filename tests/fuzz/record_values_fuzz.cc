// The value and key formats the runtime decodes from its own topics and
// stores (the DSL's internal record envelopes):
//   Change<V>              repartitioned table updates (old/new value)
//   JoinTimestamps         a KTable-KTable join's row timestamps
//   Subscription / SubscriptionResponse  foreign-key join topics
//   timestamped aggregate  <ts 8><value> in window and session stores
//   unmatched record list  <len 4><bytes>... of outer stream-stream joins
// The first input byte picks the format. Properties: malformed bytes are an
// error, never a crash or undefined behaviour; whatever decodes encodes to
// bytes that decode to the same value.

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "runnel/dsl/internal/fk_join.h"
#include "runnel/dsl/internal/joins.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/stream_join.h"
#include "runnel/dsl/internal/windowed_output.h"
#include "runnel/serde/serdes.h"

namespace {

namespace internal = runnel::dsl::internal;

// decode -> encode -> decode gives the first decoding back (`same`
// compares two decodings).
template <typename T, typename Same>
void Stable(const runnel::Serde<T>& serde, std::string_view bytes, Same same) {
  auto first = serde.Deserialize(bytes);
  if (!first.ok()) return;
  std::string encoded;
  absl::Status s = serde.Serialize(*first, encoded);
  FUZZ_CHECK(s.ok(), s.ToString());
  auto second = serde.Deserialize(encoded);
  FUZZ_CHECK(second.ok(), std::string(serde.Name()) + ": its own encoding does not decode");
  FUZZ_CHECK(same(*first, *second), std::string(serde.Name()) + ": decodes differently after a round trip");
}

void Changes(std::string_view bytes) {
  static const auto* strings = new internal::ChangeSerde<std::string>(runnel::serdes::String());
  static const auto* numbers = new internal::ChangeSerde<int64_t>(runnel::serdes::Int64());
  Stable(*strings, bytes, [](const auto& a, const auto& b) { return a == b; });
  Stable(*numbers, bytes, [](const auto& a, const auto& b) { return a == b; });
}

void JoinTimestamps(std::string_view bytes) {
  internal::JoinTimestampsSerde serde;
  Stable(serde, bytes, [](const internal::JoinTimestamps& a, const internal::JoinTimestamps& b) {
    return a.left == b.left && a.right == b.right;
  });
}

void Subscriptions(std::string_view bytes) {
  internal::SubscriptionSerde subscriptions;
  Stable(subscriptions, bytes, [](const internal::Subscription& a, const internal::Subscription& b) {
    return a.hash == b.hash && a.instruction == b.instruction && a.primary_key == b.primary_key;
  });
  internal::SubscriptionResponseSerde responses;
  Stable(responses, bytes, [](const internal::SubscriptionResponse& a, const internal::SubscriptionResponse& b) {
    return a.hash == b.hash && a.foreign_value == b.foreign_value;
  });
}

void Timestamped(std::string_view bytes) {
  auto t = internal::DecodeTimestamped(bytes, "fuzz-store");
  if (!t.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(t.status()), t.status().ToString());
    return;
  }
  FUZZ_CHECK(internal::EncodeTimestamped(t->timestamp, t->value) == bytes, "timestamped value does not round-trip");
}

void UnmatchedList(std::string_view bytes) {
  auto values = internal::unmatched::Split(bytes);
  if (!values.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(values.status()), values.status().ToString());
    return;
  }
  std::string list;
  for (std::string_view v : *values) internal::unmatched::Append(v, list);
  FUZZ_CHECK(list == bytes, "unmatched list does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes = runnel::fuzz::AsView(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      Changes(bytes);
      break;
    case 1:
      JoinTimestamps(bytes);
      break;
    case 2:
      Subscriptions(bytes);
      break;
    case 3:
      Timestamped(bytes);
      break;
    default:
      UnmatchedList(bytes);
      break;
  }
  return 0;
}
