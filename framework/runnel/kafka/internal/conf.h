#ifndef RUNNEL_KAFKA_INTERNAL_CONF_H_
#define RUNNEL_KAFKA_INTERNAL_CONF_H_

// Builds an rd_kafka_conf_t from a ClientConfig (defaults first, the caller's
// values over them), with Runnel's log and error callbacks installed.

#include <librdkafka/rdkafka.h>

#include "absl/status/statusor.h"
#include "runnel/common/types.h"
#include "runnel/kafka/client_config.h"

namespace runnel::kafka::internal {

// Caller owns the result (or hands it to rd_kafka_new). A bad property is
// InvalidArgument naming it.
absl::StatusOr<rd_kafka_conf_t*> MakeConf(const ClientConfig& defaults, const ClientConfig& config);

// rd_kafka_new, mapping its error; takes ownership of `conf` on success and
// destroys it on failure.
absl::StatusOr<rd_kafka_t*> NewClient(rd_kafka_type_t type, rd_kafka_conf_t* conf);

// A topic-partition list for `partitions` (offsets as given, or INVALID).
rd_kafka_topic_partition_list_t* ToList(const std::vector<std::pair<TopicPartition, Offset>>& partitions);

}  // namespace runnel::kafka::internal

#endif  // RUNNEL_KAFKA_INTERNAL_CONF_H_
