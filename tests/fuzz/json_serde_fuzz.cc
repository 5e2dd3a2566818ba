// JSON text as the serdes read it: schemaless JSON (serdes::Json(), a
// google::protobuf::Value) and proto3 JSON onto a message
// (serdes::ProtobufJson<M>, here the dead-letter RecordEnvelope).
// Properties: malformed text is InvalidArgument; what parses prints, and the
// printed text parses to the same document (printing is a fixed point).

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "runnel/serde/json_serde.h"
#include "runnel/serde/protobuf_serde.h"
#include "runnel/v1/record.pb.h"

namespace {

using runnel::fuzz::AsView;

template <typename T>
void PrintIsFixedPoint(const runnel::Serde<T>& serde, std::string_view text) {
  absl::StatusOr<T> value = serde.Deserialize(text);
  if (!value.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(value.status()), value.status().ToString());
    return;
  }
  std::string printed;
  absl::Status s = serde.Serialize(*value, printed);
  if (!s.ok()) {
    // Only a document with nothing in it has no text (a Value of no kind).
    FUZZ_CHECK(absl::IsInvalidArgument(s), s.ToString());
    return;
  }
  absl::StatusOr<T> again = serde.Deserialize(printed);
  FUZZ_CHECK(again.ok(), "printed JSON does not parse: " + printed + " : " + again.status().ToString());
  std::string reprinted;
  FUZZ_CHECK(serde.Serialize(*again, reprinted).ok(), "reparsed JSON does not print");
  FUZZ_CHECK(reprinted == printed, "JSON printing is not a fixed point: " + printed + " vs " + reprinted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = AsView(data, size);
  PrintIsFixedPoint(*runnel::serdes::Json(), text);
  static const auto* envelope = new runnel::SerdePtr<runnel::v1::RecordEnvelope>(
      runnel::serdes::ProtobufJson<runnel::v1::RecordEnvelope>());
  PrintIsFixedPoint(**envelope, text);
  return 0;
}
