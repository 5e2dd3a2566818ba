#include "runnel/runtime/internal/topics.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/metadata.h"

namespace runnel::runtime::internal {
namespace {

constexpr absl::Duration kAdminTimeout = absl::Seconds(30);

absl::Status Mismatch(const kafka::NewTopic& topic, std::string_view kind, int32_t actual) {
  return absl::FailedPreconditionError(absl::StrCat(ToAbsl(kind), " '", topic.name, "' has ", actual,
                                                    " partitions, expected ", topic.partitions,
                                                    " (co-partitioned with its tasks' source topics)"));
}

}  // namespace

absl::Status EnsureTopic(kafka::Admin& admin, const kafka::NewTopic& topic, std::string_view kind,
                         PartitionCount rule) {
  auto fits = [&](int32_t partitions) {
    return rule == PartitionCount::kAny || partitions == topic.partitions ? absl::OkStatus()
                                                                          : Mismatch(topic, kind, partitions);
  };
  auto existing = admin.DescribeTopic(topic.name, kAdminTimeout);
  if (existing.ok()) return fits(existing->partitions);
  if (!absl::IsNotFound(existing.status())) {
    return Annotate(existing.status(), absl::StrCat("describing ", ToAbsl(kind), " '", topic.name, "'"));
  }
  Logger("runnel")->info("creating {} {} ({} partitions)", kind, topic.name, topic.partitions);
  absl::Status created = admin.CreateTopics({topic}, kAdminTimeout);
  if (created.ok()) return absl::OkStatus();
  if (!absl::IsFailedPrecondition(created)) {
    return Annotate(created, absl::StrCat("creating ", ToAbsl(kind), " '", topic.name, "'"));
  }
  // Someone created it between our look and our request: look again, and
  // compare (the admin client says FailedPrecondition for "exists with
  // another partition count").
  existing = admin.DescribeTopic(topic.name, kAdminTimeout);
  if (!existing.ok()) return Annotate(created, absl::StrCat("creating ", ToAbsl(kind), " '", topic.name, "'"));
  return fits(existing->partitions);
}

InternalTopicSettings MakeInternalTopicSettings(const StreamsConfig& config, int brokers) {
  InternalTopicSettings settings{.brokers = brokers};
  const int64_t asked = config.config().GetInt("replication.factor");
  settings.replication_factor = static_cast<int16_t>(asked != 0 ? asked : std::clamp(brokers, 1, 3));
  for (const auto& [key, value] : config.config().WithPrefix("topic.")) {
    settings.configs[key] = value;
    settings.origin[key] = absl::StrCat("topic.", key);
  }
  // Kafka's usual durability: with 3 replicas, a write (acks=all) is
  // acknowledged once 2 have it, so one broker can be lost without losing
  // it or stopping writes. Fewer replicas keep the broker's own setting.
  // (StreamsConfig::Create checked the user's value.)
  if (settings.replication_factor >= 3) settings.configs.try_emplace("min.insync.replicas", "2");
  return settings;
}

absl::StatusOr<InternalTopicSettings> ResolveInternalTopicSettings(const StreamsConfig& config, const Clock& clock) {
  auto metadata = kafka::Metadata::Create(config.AdminConfig(), clock);
  if (!metadata.ok()) return Annotate(metadata.status(), "creating a metadata client");
  auto brokers = (*metadata)->Brokers(kAdminTimeout);
  if (!brokers.ok()) return Annotate(brokers.status(), "counting the cluster's brokers for replication.factor");
  return MakeInternalTopicSettings(config, static_cast<int>(brokers->size()));
}

absl::Status CheckCreatable(const InternalTopicSettings& settings) {
  if (settings.replication_factor > settings.brokers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config key 'replication.factor' asks for ", settings.replication_factor, " replicas, but the cluster has ",
        settings.brokers, " live broker(s); set it to at most ", settings.brokers,
        " (or 0: min(3, brokers); -1: the broker's default.replication.factor)"));
  }
  auto min_isr = settings.configs.find("min.insync.replicas");
  int64_t n = 0;
  if (settings.replication_factor > 0 && min_isr != settings.configs.end() &&
      absl::SimpleAtoi(min_isr->second, &n) && n > settings.replication_factor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config key 'topic.min.insync.replicas' is ", n, ", above the replication of internal topics (",
        settings.replication_factor, " on this cluster of ", settings.brokers,
        " broker(s)): no write with acks=all could succeed"));
  }
  return absl::OkStatus();
}

absl::Status EnsureInternalTopic(kafka::Admin& admin, const InternalTopicSettings& settings, kafka::NewTopic topic,
                                 std::string_view kind, PartitionCount rule) {
  topic.replication_factor = settings.replication_factor;
  for (const auto& [key, value] : settings.configs) topic.configs.try_emplace(key, value);
  auto existing = admin.DescribeTopic(topic.name, kAdminTimeout);
  if (existing.ok()) {
    if (topic.replication_factor > 0 && existing->replication_factor != topic.replication_factor) {
      Logger("runnel")->warn("{} {} has replication {}, not {} (replication.factor): used as it is", kind,
                             topic.name, existing->replication_factor, topic.replication_factor);
    }
  } else if (absl::IsNotFound(existing.status())) {
    RUNNEL_RETURN_IF_ERROR(CheckCreatable(settings));
  }
  absl::Status s = EnsureTopic(admin, topic, kind, rule);
  if (!absl::IsInvalidArgument(s) || settings.origin.empty()) return s;
  // The broker names the config it refused (unknown name or bad value):
  // point at the config key the user wrote.
  std::vector<std::string> named;
  for (const auto& [config, key] : settings.origin) {
    if (absl::StrContains(s.message(), config)) named.push_back(key);
  }
  std::vector<std::string> all;
  for (const auto& [config, key] : settings.origin) all.push_back(absl::StrCat(key, "=", settings.configs.at(config)));
  return absl::InvalidArgumentError(
      named.empty()
          ? absl::StrCat(s.message(), " (the internal topics' configs from this application's config: ",
                         absl::StrJoin(all, ", "), ")")
          : absl::StrCat("config key ", absl::StrJoin(named, ", ", [](std::string* out, const std::string& k) {
                           absl::StrAppend(out, "'", k, "'");
                         }),
                         " was refused by the broker: ", s.message()));
}

}  // namespace runnel::runtime::internal
