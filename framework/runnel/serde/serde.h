#ifndef RUNNEL_SERDE_SERDE_H_
#define RUNNEL_SERDE_SERDE_H_

// Serde<T>: turns a T into the bytes of a Kafka key or value and back.
//
// Kafka distinguishes a null payload (no bytes at all) from an empty one. A
// Deserializer receives std::nullopt for null; a Serializer says a value is
// null through IsNull(). Plain serdes reject null for types that have no null
// (int64, double) and read it as empty for string and bytes, like Kafka's Java
// serdes read it as Java null; wrap a serde in Nullable() to get
// std::optional<T> with nullopt <-> null.
//
// Serdes are stateless after construction and shared by every task and thread:
// implementations must be thread-safe for concurrent calls.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel {

template <typename T>
class Serde {
 public:
  using Type = T;
  virtual ~Serde() = default;

  // Replaces `out` with the bytes of `value`. Not called when IsNull(value).
  virtual absl::Status Serialize(const T& value, std::string& out) const = 0;
  // Parses a payload; std::nullopt is Kafka's null. A malformed payload is
  // InvalidArgument, never a crash.
  virtual absl::StatusOr<T> Deserialize(std::optional<std::string_view> data) const = 0;
  // True when `value` must be written as a null payload.
  virtual bool IsNull(const T& /*value*/) const { return false; }
  // A short name for errors and Describe(): "string", "int64", ...
  virtual std::string_view Name() const = 0;
  // The bytes of a serialized key that choose its partition: the whole key,
  // or for a windowed key its base key only, so that every window of a key
  // shares the key's partition (Kafka Streams' WindowedStreamPartitioner).
  virtual std::string_view PartitionBytes(std::string_view serialized) const { return serialized; }
};

template <typename T>
using SerdePtr = std::shared_ptr<const Serde<T>>;

}  // namespace runnel

#endif  // RUNNEL_SERDE_SERDE_H_
