#ifndef RUNNEL_PROCESSOR_RECORD_SINK_H_
#define RUNNEL_PROCESSOR_RECORD_SINK_H_

// RecordSink: the narrow interface through which sink nodes write records
// out. The runtime implements it over a Kafka producer; the test driver over
// in-memory topics. Called from the task's stream thread.

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/headers.h"
#include "runnel/common/types.h"

namespace runnel {

struct SerializedRecord {
  std::string_view topic;
  // Unset: partition by key the way the Java client does (murmur2).
  std::optional<Partition> partition;
  std::optional<std::string_view> key;
  // With `partition` unset: the bytes to partition by instead of the whole
  // key (a windowed key's base key; see Serde::PartitionBytes).
  std::optional<std::string_view> partition_key;
  std::optional<std::string_view> value;
  Timestamp timestamp;
  const Headers* headers = nullptr;
};

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Enqueues the record; durable only after the sink's owner flushes. An
  // error here stops the task.
  virtual absl::Status Send(const SerializedRecord& record) = 0;
  // The partition count of `topic`, for custom partitioners.
  virtual absl::StatusOr<int32_t> PartitionCount(std::string_view topic) = 0;
};

}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_RECORD_SINK_H_
