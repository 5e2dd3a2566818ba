#ifndef RUNNEL_KAFKA_ADMIN_H_
#define RUNNEL_KAFKA_ADMIN_H_

// Admin: topics and consumer-group offsets through librdkafka's Admin API.
// Thread-safety: calls may come from any thread; each call is synchronous
// and bounded by its timeout.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/types.h"
#include "runnel/kafka/client_config.h"

struct rd_kafka_s;

namespace runnel::kafka {

namespace internal {
class ClientContext;
}

struct NewTopic {
  std::string name;
  int32_t partitions = 1;
  // -1: the broker's default.replication.factor.
  int16_t replication_factor = -1;
  // Topic configs, e.g. {"cleanup.policy", "compact"}.
  std::map<std::string, std::string> configs;
};

// A consumer group as the coordinator sees it.
struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::string group_instance_id;  // empty without static membership
  std::string host;
  std::vector<TopicPartition> assignment;
};
struct GroupDescription {
  // "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead" or "Unknown".
  std::string state;
  std::vector<GroupMember> members;
};

struct TopicDescription {
  std::string name;
  int32_t partitions = 0;
  int16_t replication_factor = 0;
};

struct AdminOptions {
  // The error-log rate limit runs on this clock. Not owned; must outlive
  // the Admin. The runtime passes its own; the default is for applications
  // and tools.
  const Clock* clock = &Clock::System();
};

class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> Create(const ClientConfig& config, AdminOptions options = {});
  ~Admin();

  // Creates every topic; one that already exists with the same partition
  // count is fine (idempotent); with another count it is kFailedPrecondition.
  absl::Status CreateTopics(const std::vector<NewTopic>& topics, absl::Duration timeout);
  // kNotFound for a topic that does not exist.
  absl::StatusOr<TopicDescription> DescribeTopic(const std::string& topic, absl::Duration timeout);
  // Configs of a topic as the broker reports them (all of them, defaults too).
  absl::StatusOr<std::map<std::string, std::string>> DescribeTopicConfigs(const std::string& topic,
                                                                          absl::Duration timeout);
  // Deleting a topic that does not exist is not an error.
  absl::Status DeleteTopics(const std::vector<std::string>& topics, absl::Duration timeout);
  absl::StatusOr<std::vector<std::string>> ListTopics(absl::Duration timeout);
  // Deletes every record before the given offset of each partition (the
  // partition's log start moves there; Offset(-1) means its high watermark).
  absl::Status DeleteRecords(const std::map<TopicPartition, Offset>& before, absl::Duration timeout);
  // ListOffsets per partition (librdkafka's offsets_for_times): for a
  // timestamp (epoch ms), the offset of the first record stamped at or after
  // it, or std::nullopt when no record is that late; kLatestOffset and
  // kEarliestOffset ask for the partition's end and log start. A partition
  // the broker cannot answer for fails the call, naming it.
  static constexpr int64_t kLatestOffset = -1;
  static constexpr int64_t kEarliestOffset = -2;
  absl::StatusOr<std::map<TopicPartition, std::optional<Offset>>> ListOffsets(
      const std::map<TopicPartition, int64_t>& specs, absl::Duration timeout);

  // The committed offsets of a consumer group (partitions without one are
  // left out).
  absl::StatusOr<std::map<TopicPartition, Offset>> ListGroupOffsets(const std::string& group,
                                                                    absl::Duration timeout);
  absl::Status AlterGroupOffsets(const std::string& group,
                                 const std::map<TopicPartition, Offset>& offsets,
                                 absl::Duration timeout);
  absl::Status DeleteGroup(const std::string& group, absl::Duration timeout);
  // Removes the group's committed offsets of `partitions` (the coordinator
  // refuses, an error naming the partition, while a member of the group is
  // subscribed to its topic). Partitions without one are fine.
  absl::Status DeleteGroupOffsets(const std::string& group, const std::vector<TopicPartition>& partitions,
                                  absl::Duration timeout);
  // The group's members and their assignments (DescribeConsumerGroups).
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group, absl::Duration timeout);

 private:
  Admin(rd_kafka_s* rk, std::unique_ptr<internal::ClientContext> context);
  rd_kafka_s* rk_;
  std::unique_ptr<internal::ClientContext> context_;  // the client's opaque
};

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_ADMIN_H_
