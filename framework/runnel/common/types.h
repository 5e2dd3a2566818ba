#ifndef RUNNEL_COMMON_TYPES_H_
#define RUNNEL_COMMON_TYPES_H_

// Strong types for values that are easy to mix up: a partition is not an
// offset, and neither is a timestamp. Each wraps one integer; arithmetic is
// spelled out by the caller through value().

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"

namespace runnel {

template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, StrongInt v) {
    return H::combine(std::move(h), v.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, StrongInt v) { return os << v.value_; }
  template <typename Sink>
  friend void AbslStringify(Sink& sink, StrongInt v) {
    sink.Append(absl::StrCat(v.value_));
  }

 private:
  Rep value_{};
};

// A partition number of a topic.
using Partition = StrongInt<struct PartitionTag, int32_t>;
// A position in a partition: the offset of a record, or of the next record to
// read when used as a consumer position or committed offset.
using Offset = StrongInt<struct OffsetTag, int64_t>;
// Milliseconds since the Unix epoch, Kafka's record timestamp unit.
using Timestamp = StrongInt<struct TimestampTag, int64_t>;

// One topic partition, the unit of assignment.
struct TopicPartition {
  std::string topic;
  Partition partition;
  auto operator<=>(const TopicPartition&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
  std::string ToString() const { return absl::StrCat(topic, "-", partition.value()); }
};

// A stream task: one sub-topology on one input partition ("0_3").
struct TaskId {
  int32_t subtopology = 0;
  Partition partition;
  auto operator<=>(const TaskId&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TaskId& t) {
    return H::combine(std::move(h), t.subtopology, t.partition);
  }
  std::string ToString() const { return absl::StrCat(subtopology, "_", partition.value()); }
};

}  // namespace runnel

#endif  // RUNNEL_COMMON_TYPES_H_
