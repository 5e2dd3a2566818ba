#ifndef RUNNEL_RUNTIME_INTERNAL_TOPICS_H_
#define RUNNEL_RUNTIME_INTERNAL_TOPICS_H_

// Creating the topics an application owns (repartition, changelog,
// dead-letter) at start. Threading: any thread; blocking admin calls.

#include <string_view>

#include "absl/status/status.h"
#include "runnel/kafka/admin.h"

namespace runnel::runtime::internal {

// Whether an existing topic must have exactly the partitions asked for
// (internal topics co-partitioned with their tasks) or may have any count
// (a dead-letter topic the user made).
enum class PartitionCount { kExact, kAny };

// Makes sure `topic` exists: creates it when missing (logged; `kind` says
// what it is for, "changelog topic"). Under kExact, answers
// FailedPrecondition, naming the topic and both counts, when it exists with
// another count — also when another instance created it between our look
// and our CreateTopics (instances starting at once).
absl::Status EnsureTopic(kafka::Admin& admin, const kafka::NewTopic& topic, std::string_view kind,
                         PartitionCount rule = PartitionCount::kExact);

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_TOPICS_H_
