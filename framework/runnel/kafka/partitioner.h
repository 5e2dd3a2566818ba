#ifndef RUNNEL_KAFKA_PARTITIONER_H_
#define RUNNEL_KAFKA_PARTITIONER_H_

// The Java client's default key partitioning, bit for bit:
//   partition = (murmur2(key) & 0x7fffffff) % num_partitions
// so a key lands on the same partition whether a Java producer, Kafka
// Streams or Runnel wrote it (co-partitioning across languages).

#include <cstdint>
#include <string_view>

#include "runnel/common/types.h"

namespace runnel::kafka {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed
// 0x9747b28c.
int32_t Murmur2(std::string_view data);

// The partition the Java producer picks for a non-null key.
Partition PartitionForKey(std::string_view key, int32_t num_partitions);

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_PARTITIONER_H_
