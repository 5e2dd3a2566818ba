#ifndef RUNNEL_SERDE_WINDOWED_H_
#define RUNNEL_SERDE_WINDOWED_H_

// Windowed<K>: a key together with the window it was aggregated in, and its
// serdes, byte-compatible with Kafka Streams:
//   TimeWindowedSerde    <key bytes> <window start: 8 bytes big-endian>
//                        (Kafka's TimeWindowedSerializer / WindowKeySchema).
//                        The end is not on the wire: the deserializer is
//                        given the window size (end = start + size).
//   SessionWindowedSerde <key bytes> <end: 8 bytes BE> <start: 8 bytes BE>
//                        (Kafka's SessionWindowedSerializer / SessionKeySchema).
// A time window is [start, end): end exclusive. A session window is
// [start, end] with both ends inclusive (the first and last record's
// timestamps), as in Kafka Streams.

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"
#include "runnel/common/types.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"

namespace runnel {

struct Window {
  Timestamp start;
  Timestamp end;
  auto operator<=>(const Window&) const = default;
};

template <typename K>
struct Windowed {
  K key;
  Window window;
  auto operator<=>(const Windowed&) const = default;
  bool operator==(const Windowed&) const = default;
};

template <typename K>
class TimeWindowedSerde final : public Serde<Windowed<K>> {
 public:
  // `window_size_ms` rebuilds the end on deserialization; without it (as
  // Kafka's deserializer without a size) the end is the maximum timestamp.
  explicit TimeWindowedSerde(SerdePtr<K> inner, std::optional<int64_t> window_size_ms = std::nullopt)
      : inner_(std::move(inner)), size_(window_size_ms), name_(absl::StrCat("time-windowed<", ToAbsl(inner_->Name()), ">")) {}

  absl::Status Serialize(const Windowed<K>& w, std::string& out) const override {
    absl::Status s = inner_->Serialize(w.key, out);
    if (!s.ok()) return s;
    serdes::AppendBigEndian64(static_cast<uint64_t>(w.window.start.value()), out);
    return absl::OkStatus();
  }
  absl::StatusOr<Windowed<K>> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() < 8) return absl::InvalidArgumentError("time-windowed key: shorter than 8 bytes");
    auto key = inner_->Deserialize(data->substr(0, data->size() - 8));
    if (!key.ok()) return key.status();
    const int64_t start = static_cast<int64_t>(serdes::ReadBigEndian64(data->data() + data->size() - 8));
    const int64_t end = size_ && start <= std::numeric_limits<int64_t>::max() - *size_
                            ? start + *size_
                            : std::numeric_limits<int64_t>::max();
    return Windowed<K>{*std::move(key), Window{Timestamp(start), Timestamp(end)}};
  }
  std::string_view Name() const override { return name_; }
  std::string_view PartitionBytes(std::string_view serialized) const override {
    return serialized.substr(0, serialized.size() >= 8 ? serialized.size() - 8 : serialized.size());
  }

 private:
  SerdePtr<K> inner_;
  std::optional<int64_t> size_;
  std::string name_;
};

template <typename K>
class SessionWindowedSerde final : public Serde<Windowed<K>> {
 public:
  explicit SessionWindowedSerde(SerdePtr<K> inner)
      : inner_(std::move(inner)), name_(absl::StrCat("session-windowed<", ToAbsl(inner_->Name()), ">")) {}

  absl::Status Serialize(const Windowed<K>& w, std::string& out) const override {
    absl::Status s = inner_->Serialize(w.key, out);
    if (!s.ok()) return s;
    serdes::AppendBigEndian64(static_cast<uint64_t>(w.window.end.value()), out);
    serdes::AppendBigEndian64(static_cast<uint64_t>(w.window.start.value()), out);
    return absl::OkStatus();
  }
  absl::StatusOr<Windowed<K>> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() < 16) return absl::InvalidArgumentError("session-windowed key: shorter than 16 bytes");
    auto key = inner_->Deserialize(data->substr(0, data->size() - 16));
    if (!key.ok()) return key.status();
    const char* suffix = data->data() + data->size() - 16;
    const auto end = static_cast<int64_t>(serdes::ReadBigEndian64(suffix));
    const auto start = static_cast<int64_t>(serdes::ReadBigEndian64(suffix + 8));
    if (start > end) return absl::InvalidArgumentError("session-windowed key: start after end");
    return Windowed<K>{*std::move(key), Window{Timestamp(start), Timestamp(end)}};
  }
  std::string_view Name() const override { return name_; }
  std::string_view PartitionBytes(std::string_view serialized) const override {
    return serialized.substr(0, serialized.size() >= 16 ? serialized.size() - 16 : serialized.size());
  }

 private:
  SerdePtr<K> inner_;
  std::string name_;
};

namespace serdes {
template <typename K>
SerdePtr<Windowed<K>> TimeWindowed(SerdePtr<K> inner, std::optional<int64_t> window_size_ms = std::nullopt) {
  return std::make_shared<TimeWindowedSerde<K>>(std::move(inner), window_size_ms);
}
template <typename K>
SerdePtr<Windowed<K>> SessionWindowed(SerdePtr<K> inner) {
  return std::make_shared<SessionWindowedSerde<K>>(std::move(inner));
}
}  // namespace serdes

}  // namespace runnel

#endif  // RUNNEL_SERDE_WINDOWED_H_
