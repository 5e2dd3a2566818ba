// The fixed-format serdes (string, bytes, int64, int32, double, nullable)
// and the text forms queries use for keys (serde/text_codec.h), on any
// bytes. Properties: a payload either decodes or is InvalidArgument; what
// decodes serializes back to the same bytes; a key text that parses names
// the key its text form prints.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "fuzz_check.h"
#include "runnel/serde/json_serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/text_codec.h"

namespace {

using runnel::Serde;
using runnel::fuzz::AsView;

// Decodes `bytes`; a success must serialize back to `bytes` exactly.
template <typename T>
void RoundTrip(const Serde<T>& serde, std::string_view bytes) {
  absl::StatusOr<T> value = serde.Deserialize(bytes);
  if (!value.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(value.status()), value.status().ToString());
    return;
  }
  std::string out;
  absl::Status s = serde.Serialize(*value, out);
  FUZZ_CHECK(s.ok(), s.ToString());
  FUZZ_CHECK(out == bytes, std::string(serde.Name()) + " does not round-trip");
  // Kafka's null: a value for string and bytes, an error for numbers.
  (void)serde.Deserialize(std::nullopt);
}

// The text codec of a store with key type K: text -> key bytes -> text.
template <typename K>
void KeyText(const runnel::SerdePtr<K>& serde, std::string_view text) {
  auto codec = runnel::MakeTextCodec<K, K>(serde, serde);
  absl::StatusOr<std::string> bytes = codec->parse_key(text);
  if (!bytes.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(bytes.status()), bytes.status().ToString());
    return;
  }
  std::optional<std::string> printed = codec->key_text(*bytes);
  FUZZ_CHECK(printed.has_value(), "a parsed key has no text form");
  // Parsing what was printed names the same key.
  absl::StatusOr<std::string> again = codec->parse_key(*printed);
  FUZZ_CHECK(again.ok() && *again == *bytes, "key text '" + *printed + "' does not name the key it printed");
  if constexpr (std::is_integral_v<K>) {
    // The key is the number written, not another one.
    int64_t written = 0;
    int64_t named = 0;
    FUZZ_CHECK(absl::SimpleAtoi(runnel::ToAbsl(text), &written) && absl::SimpleAtoi(*printed, &named) &&
                   written == named,
               "key text '" + std::string(text) + "' names the key " + *printed);
  }
  (void)codec->value_json(*bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace serdes = runnel::serdes;
  const std::string_view bytes = AsView(data, size);
  RoundTrip(*serdes::String(), bytes);
  RoundTrip(*serdes::Bytes(), bytes);
  RoundTrip(*serdes::Int64(), bytes);
  RoundTrip(*serdes::Int32(), bytes);
  RoundTrip(*serdes::Double(), bytes);
  RoundTrip(*serdes::Nullable(serdes::Int64()), bytes);

  KeyText(serdes::String(), bytes);
  KeyText(serdes::Int64(), bytes);
  KeyText(serdes::Int32(), bytes);
  KeyText(serdes::Double(), bytes);
  // Values rendered as JSON for query answers, whatever the bytes.
  auto doubles = runnel::MakeTextCodec<double, double>(serdes::Double(), serdes::Double());
  (void)doubles->value_json(bytes);
  (void)doubles->key_text(bytes);
  auto strings = runnel::MakeTextCodec<std::string, std::string>(serdes::String(), serdes::String());
  (void)strings->value_json(bytes);
  return 0;
}
