#ifndef RUNNEL_KAFKA_METADATA_H_
#define RUNNEL_KAFKA_METADATA_H_

// Metadata: what the cluster says about itself through a Metadata request —
// the live brokers, and each partition's leader, replicas and in-sync
// replicas. Used to size replication (the runtime's replication.factor
// default) and by tools that show who leads what.
// Thread-safety: calls may come from any thread; each is synchronous and
// bounded by its timeout. Owns one librdkafka client.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/client_config.h"

struct rd_kafka_s;

namespace runnel::kafka {

namespace internal {
class ClientContext;
}

// A broker the metadata lists: the live ones (a broker that is down drops
// out once the controller fences it, after its session timeout).
struct BrokerDescription {
  int32_t id = -1;
  std::string host;
  int port = 0;
};

// One partition's replicas by broker id, as the metadata reports them.
struct PartitionDescription {
  int32_t partition = 0;
  int32_t leader = -1;  // -1: no leader right now (an election is due)
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

class Metadata {
 public:
  // `clock`: the error-log rate limit's (not owned; outlives the Metadata).
  static absl::StatusOr<std::unique_ptr<Metadata>> Create(const ClientConfig& config,
                                                          const Clock& clock = Clock::System());
  ~Metadata();

  absl::StatusOr<std::vector<BrokerDescription>> Brokers(absl::Duration timeout);
  // Sorted by partition; kNotFound for a topic that does not exist.
  absl::StatusOr<std::vector<PartitionDescription>> Partitions(const std::string& topic, absl::Duration timeout);

 private:
  Metadata(rd_kafka_s* rk, std::unique_ptr<internal::ClientContext> context);
  rd_kafka_s* rk_;
  std::unique_ptr<internal::ClientContext> context_;  // the client's opaque
};

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_METADATA_H_
