#ifndef RUNNEL_PROCESSOR_RECORD_H_
#define RUNNEL_PROCESSOR_RECORD_H_

// Record<K, V>: the value type that flows between processors (key, value,
// timestamp, headers), like Kafka Streams' api.Record. Copied only when a
// node forwards to more than one child.

#include <string>

#include "runnel/common/headers.h"
#include "runnel/common/types.h"

namespace runnel {

template <typename K, typename V>
struct Record {
  K key;
  V value;
  Timestamp timestamp;
  Headers headers;

  template <typename K2, typename V2>
  Record<K2, V2> With(K2 new_key, V2 new_value) const& {
    return Record<K2, V2>{std::move(new_key), std::move(new_value), timestamp, headers};
  }
  template <typename K2, typename V2>
  Record<K2, V2> With(K2 new_key, V2 new_value) && {
    return Record<K2, V2>{std::move(new_key), std::move(new_value), timestamp, std::move(headers)};
  }
};

// Where the record being processed came from. Absent for records created by
// a punctuator.
struct RecordMetadata {
  std::string topic;
  Partition partition;
  Offset offset;
};

}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_RECORD_H_
