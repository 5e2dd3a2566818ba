#ifndef RUNNEL_RUNTIME_INTERNAL_TOPICS_H_
#define RUNNEL_RUNTIME_INTERNAL_TOPICS_H_

// Creating the topics an application owns (repartition, changelog,
// dead-letter, the topology record) at start. Every one of them goes through
// EnsureInternalTopic with the same InternalTopicSettings, so that they all
// get the replication and the `topic.*` configs of the application's config.
// Threading: any thread; blocking admin calls.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/streams_config.h"

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

// How the application's internal topics are made, from `replication.factor`
// and the `topic.` keys of its config, for a cluster of `brokers` live
// brokers (asked at start).
struct InternalTopicSettings {
  // -1: the broker's default.replication.factor.
  int16_t replication_factor = -1;
  // The user's topic.* configs (prefix removed), plus min.insync.replicas=2
  // when the replication is 3 or more and the user did not choose one.
  std::map<std::string, std::string> configs;
  // Live brokers when the settings were made; a topic is created only if
  // they can hold its replicas.
  int brokers = 0;
  // What the configs came from, for error messages: config key -> its
  // topic.* key ("retention.ms" -> "topic.retention.ms").
  std::map<std::string, std::string> origin;
};

// replication.factor 0 (the default) becomes min(3, brokers). What is wrong
// whatever the cluster (a bad topic.min.insync.replicas) was refused by
// StreamsConfig::Create; what the cluster cannot hold is CheckCreatable's.
InternalTopicSettings MakeInternalTopicSettings(const StreamsConfig& config, int brokers);

// MakeInternalTopicSettings with the live brokers the cluster reports now
// (a metadata request through a client of config.AdminConfig(); `clock` is
// its error-log rate limit's).
absl::StatusOr<InternalTopicSettings> ResolveInternalTopicSettings(const StreamsConfig& config, const Clock& clock);

// Whether a topic can be created with `settings` on their cluster:
// InvalidArgument naming replication.factor when it asks for more replicas
// than there are live brokers, naming topic.min.insync.replicas when that is
// above the replication.
absl::Status CheckCreatable(const InternalTopicSettings& settings);

// EnsureTopic for an internal topic: `topic` gets the settings' replication
// and configs; the topic's own configs (its cleanup.policy, a windowed
// changelog's retention.ms) win over the user's. A broker that rejects a
// config makes an InvalidArgument naming the topic.* key it came from. A
// topic that exists with another replication than asked is used as it is
// (logged at warning: Kafka only changes replication by reassignment).
absl::Status EnsureInternalTopic(kafka::Admin& admin, const InternalTopicSettings& settings, kafka::NewTopic topic,
                                 std::string_view kind, PartitionCount rule = PartitionCount::kExact);

// Runs `call` again while it answers NotFound or Unavailable, up to
// `attempts` calls in all, `pause` apart; answers the last result. For a
// topic just created or described through the admin API, read through
// another client whose metadata has not caught up with the cluster yet:
// UNKNOWN_PARTITION (NotFound) when its broker does not know the topic
// yet (instances starting at once on several brokers, one creating the
// topic), NOT_LEADER_FOR_PARTITION (Unavailable) when the partition's
// leader just moved (a broker restarted). Both seen in tests/system/chaos.
template <typename T>
absl::StatusOr<T> RetryWhileMetadataCatchesUp(const std::function<absl::StatusOr<T>()>& call, int attempts,
                                              absl::Duration pause) {
  absl::StatusOr<T> result = call();
  for (int i = 1; i < attempts && (absl::IsNotFound(result.status()) || absl::IsUnavailable(result.status()));
       ++i) {
    absl::SleepFor(pause);
    result = call();
  }
  return result;
}

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_TOPICS_H_
