// Protobuf binary as serdes::Protobuf<M> reads it, for the message Runnel
// itself writes to Kafka (the dead-letter RecordEnvelope, runnel/v1/record.proto).
// Properties: bytes that are not the message are InvalidArgument; what
// parses serializes, and that serialization parses to the same message.

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "runnel/serde/protobuf_serde.h"
#include "runnel/v1/record.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using runnel::v1::RecordEnvelope;
  static const auto* serde = new runnel::SerdePtr<RecordEnvelope>(runnel::serdes::Protobuf<RecordEnvelope>());
  absl::StatusOr<RecordEnvelope> value = (*serde)->Deserialize(runnel::fuzz::AsView(data, size));
  if (!value.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(value.status()), value.status().ToString());
    return 0;
  }
  std::string bytes;
  absl::Status s = (*serde)->Serialize(*value, bytes);
  FUZZ_CHECK(s.ok(), s.ToString());
  absl::StatusOr<RecordEnvelope> again = (*serde)->Deserialize(bytes);
  FUZZ_CHECK(again.ok(), again.status().ToString());
  std::string rebytes;
  FUZZ_CHECK((*serde)->Serialize(*again, rebytes).ok() && rebytes == bytes, "envelope does not round-trip");
  // A null payload is the default message.
  FUZZ_CHECK((*serde)->Deserialize(std::nullopt).ok(), "null envelope");
  return 0;
}
