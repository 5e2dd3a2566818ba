#ifndef RUNNEL_SERDE_SERDES_H_
#define RUNNEL_SERDE_SERDES_H_

// The built-in serdes, byte-compatible with Kafka's Java ones:
//   String()  UTF-8 bytes as they are (StringSerializer)
//   Bytes()   raw bytes (ByteArraySerializer)
//   Int64()   8 bytes big-endian two's complement (LongSerializer)
//   Int32()   4 bytes big-endian (IntegerSerializer)
//   Double()  IEEE-754 binary64 bits, big-endian (DoubleSerializer)
//   Nullable(s)  std::optional<T>, nullopt <-> null payload
// Protobuf and JSON serdes live in protobuf_serde.h and json_serde.h.

#include <cstdint>
#include <optional>
#include <string>

#include "runnel/serde/serde.h"

namespace runnel::serdes {

SerdePtr<std::string> String();
// Bytes are held in a std::string; the serde never interprets them.
SerdePtr<std::string> Bytes();
SerdePtr<int64_t> Int64();
SerdePtr<int32_t> Int32();
SerdePtr<double> Double();

template <typename T>
class NullableSerde final : public Serde<std::optional<T>> {
 public:
  explicit NullableSerde(SerdePtr<T> inner) : inner_(std::move(inner)) {}
  absl::Status Serialize(const std::optional<T>& value, std::string& out) const override {
    if (!value) return absl::InvalidArgumentError("null value has no bytes");
    return inner_->Serialize(*value, out);
  }
  absl::StatusOr<std::optional<T>> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return std::optional<T>();
    auto v = inner_->Deserialize(data);
    if (!v.ok()) return v.status();
    return std::optional<T>(*std::move(v));
  }
  bool IsNull(const std::optional<T>& value) const override { return !value.has_value(); }
  std::string_view Name() const override { return name_; }

 private:
  SerdePtr<T> inner_;
  std::string name_ = "nullable<" + std::string(inner_->Name()) + ">";
};

template <typename T>
SerdePtr<std::optional<T>> Nullable(SerdePtr<T> inner) {
  return std::make_shared<NullableSerde<T>>(std::move(inner));
}

// Big-endian helpers shared by the fixed-width serdes and the windowed-key
// serde. `out` gets exactly sizeof(value) bytes appended.
void AppendBigEndian64(uint64_t value, std::string& out);
void AppendBigEndian32(uint32_t value, std::string& out);
uint64_t ReadBigEndian64(const char* p);
uint32_t ReadBigEndian32(const char* p);

}  // namespace runnel::serdes

#endif  // RUNNEL_SERDE_SERDES_H_
