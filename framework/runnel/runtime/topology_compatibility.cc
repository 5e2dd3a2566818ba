#include "runnel/runtime/topology_compatibility.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/producer.h"
#include "runnel/runtime/changelog_reader.h"
#include "runnel/runtime/internal/topics.h"
#include "runnel/state/changelog.h"

namespace runnel {
namespace {

constexpr int32_t kFormatVersion = 1;
constexpr std::string_view kRecordKey = "topology";
constexpr absl::Duration kAdminTimeout = absl::Seconds(30);
// Reading the record: a one-partition topic holding a few records.
constexpr absl::Duration kReadPatience = absl::Seconds(30);
constexpr absl::Duration kRecorderPollInterval = absl::Milliseconds(100);

constexpr std::string_view kWhatToDo =
    "To start from the new topology's state instead, stop every instance and run runnel-reset (tools/runnel-reset) "
    "to delete the old internal topics and local state and rebuild the state from the input topics; to start "
    "anyway, accepting the orphaned or misread state, set topology.compatibility.check=warn (or off).";

std::string KindName(StoreSpec::Kind kind) {
  return kind == StoreSpec::Kind::kInMemory ? "in_memory" : "rocksdb";
}

std::string LayoutName(StoreSpec::Layout layout) {
  switch (layout) {
    case StoreSpec::Layout::kKeyValue: return "key_value";
    case StoreSpec::Layout::kWindow: return "window";
    case StoreSpec::Layout::kSession: return "session";
    case StoreSpec::Layout::kInternal: return "internal";
  }
  return "?";
}

std::string SubtopologyName(int32_t id) {
  return id < 0 ? std::string("the global stores") : absl::StrCat("sub-topology ", id);
}

template <typename T>
std::map<std::string, const T*> ByName(const google::protobuf::RepeatedPtrField<T>& items) {
  std::map<std::string, const T*> out;
  for (const T& item : items) out[item.name()] = &item;
  return out;
}

// The store's changelog, or where its local state lives when it has none.
std::string WhereStateIs(const v1::StoreSummary& store) {
  if (store.global()) return "its local copy is rebuilt from its topic";
  if (!store.changelog_topic().empty()) {
    return absl::StrCat("its changelog topic '", store.changelog_topic(), "' still holds its state");
  }
  return absl::StrCat("its local state (unlogged) stays under state.dir in the task directories of ",
                      SubtopologyName(store.subtopology()));
}

class Changes {
 public:
  void Breaking(std::string message) { breaking_.push_back(std::move(message)); }
  void Harmless(std::string message) { harmless_.push_back(std::move(message)); }
  std::vector<TopologyChange> Take() {
    std::vector<TopologyChange> out;
    for (auto& m : breaking_) out.push_back({TopologyChange::Severity::kBreaking, std::move(m)});
    for (auto& m : harmless_) out.push_back({TopologyChange::Severity::kHarmless, std::move(m)});
    return out;
  }

 private:
  std::vector<std::string> breaking_, harmless_;
};

void CompareStore(const v1::StoreSummary& was, const v1::StoreSummary& now, Changes& changes) {
  const std::string store = absl::StrCat("store '", now.name(), "'");
  if (was.global() != now.global()) {
    changes.Breaking(absl::StrCat(store, " was ", was.global() ? "a global store" : "a task store", " and is now ",
                                  now.global() ? "a global store" : "a task store", ": ", WhereStateIs(was)));
    return;
  }
  if (was.subtopology() != now.subtopology()) {
    changes.Breaking(absl::StrCat(store, " moved from ", SubtopologyName(was.subtopology()), " to ",
                                  SubtopologyName(now.subtopology()),
                                  ": its tasks, their partitions and local state directories are other ones"));
  }
  if (was.layout() != now.layout()) {
    changes.Breaking(absl::StrCat(store, " changed type from ", was.layout(), " to ", now.layout(),
                                  ": its state would be misread"));
  } else if (was.layout() == "window" && was.window_size_ms() != now.window_size_ms()) {
    changes.Breaking(absl::StrCat(store, " changed window size from ", was.window_size_ms(), " ms to ",
                                  now.window_size_ms(), " ms: its windows would be misread"));
  }
  if (was.logging() != now.logging()) {
    changes.Breaking(absl::StrCat(
        store, " changed logging from ", was.logging() ? "on" : "off", " to ", now.logging() ? "on" : "off",
        was.logging() ? absl::StrCat(": its changelog topic '", was.changelog_topic(), "' would be orphaned")
                      : absl::StrCat(": its new changelog topic '", now.changelog_topic(),
                                     "' would start empty while the local state is not in it")));
  }
  if (was.kind() != now.kind()) {
    if (was.logging() && now.logging()) {
      changes.Harmless(absl::StrCat(store, " changed from ", was.kind(), " to ", now.kind(),
                                    ": it is restored from its changelog topic '", now.changelog_topic(), "'"));
    } else if (!was.global()) {
      changes.Breaking(absl::StrCat(store, " changed from ", was.kind(), " to ", now.kind(),
                                    " without a changelog: its local state would be lost"));
    }
  }
  for (const auto& [what, before, after] : {std::tuple{"key", was.key_serde(), now.key_serde()},
                                            std::tuple{"value", was.value_serde(), now.value_serde()}}) {
    if (!before.empty() && !after.empty() && before != after) {
      changes.Breaking(absl::StrCat(store, " changed its ", what, " serde from '", before, "' to '", after,
                                    "': its state would be misread"));
    }
  }
  if (was.retention_ms() != now.retention_ms() && was.retention_ms() > 0 && now.retention_ms() > 0) {
    changes.Harmless(absl::StrCat(
        store, " changed retention from ", was.retention_ms(), " ms to ", now.retention_ms(), " ms",
        now.changelog_topic().empty()
            ? ""
            : absl::StrCat(" (its changelog topic '", now.changelog_topic(),
                           "' keeps the retention.ms it was created with; change it with the admin tools)")));
  }
}

void CompareStores(const v1::TopologySummary& recorded, const v1::TopologySummary& current, Changes& changes) {
  const auto was = ByName(recorded.stores());
  const auto now = ByName(current.stores());
  for (const auto& [name, store] : was) {
    auto it = now.find(name);
    if (it != now.end()) {
      CompareStore(*store, *it->second, changes);
      continue;
    }
    // A new store of the same type in the same place is likely its new name.
    std::vector<std::string> candidates;
    for (const auto& [new_name, new_store] : now) {
      if (!was.contains(new_name) && new_store->subtopology() == store->subtopology() &&
          new_store->layout() == store->layout() && new_store->global() == store->global()) {
        candidates.push_back(absl::StrCat("'", new_name, "'"));
      }
    }
    const std::string renamed =
        candidates.size() == 1 ? absl::StrCat(" (renamed to ", candidates[0], "?)") : std::string();
    std::string message = absl::StrCat("store '", name, "' is gone", renamed, ": ", WhereStateIs(*store));
    if (store->global()) {
      changes.Harmless(std::move(message));
    } else {
      changes.Breaking(std::move(message));
    }
  }
  for (const auto& [name, store] : now) {
    if (was.contains(name)) continue;
    changes.Harmless(absl::StrCat("store '", name, "' is new (in ", SubtopologyName(store->subtopology()),
                                  "): it starts empty"));
  }
}

void CompareInternalTopics(const v1::TopologySummary& recorded, const v1::TopologySummary& current,
                           Changes& changes) {
  const auto was = ByName(recorded.internal_topics());
  const auto now = ByName(current.internal_topics());
  // Changelog topics come and go with their stores (reported there).
  for (const auto& [name, topic] : was) {
    auto it = now.find(name);
    if (it == now.end()) {
      if (topic->role() == "repartition") {
        changes.Breaking(absl::StrCat("repartition topic '", name,
                                      "' is gone: records in it that were not processed yet would be lost"));
      }
      continue;
    }
    const int32_t before = topic->partitions(), after = it->second->partitions();
    if (before > 0 && after > 0 && before != after) {
      changes.Breaking(absl::StrCat(topic->role(), " topic '", name, "' has ", before, " partitions, the new topology needs ",
                                    after, ": keys would be read from other partitions than their ",
                                    topic->role() == "changelog" ? "state" : "records", " are in"));
    }
  }
  for (const auto& [name, topic] : now) {
    if (!was.contains(name) && topic->role() == "repartition") {
      changes.Harmless(absl::StrCat("repartition topic '", name, "' is new"));
    }
  }
}

// A stateful sub-topology's tasks hold the state of the keys in their
// partitions: its source topics' partition counts must stay.
void CompareSources(const v1::TopologySummary& recorded, const v1::TopologySummary& current, Changes& changes) {
  std::map<int32_t, const v1::SubtopologySummary*> was;
  for (const auto& sub : recorded.subtopologies()) was[sub.id()] = &sub;
  std::set<std::string> internal;
  for (const auto& topic : current.internal_topics()) internal.insert(topic.name());
  for (const auto& sub : current.subtopologies()) {
    if (sub.stores().empty()) continue;
    auto it = was.find(sub.id());
    if (it == was.end() || it->second->stores().empty()) continue;
    std::map<std::string, int32_t> before;
    for (const auto& t : it->second->source_topics()) before[t.topic()] = t.partitions();
    for (const auto& t : sub.source_topics()) {
      auto b = before.find(t.topic());
      if (b == before.end() || internal.contains(t.topic())) continue;
      if (b->second > 0 && t.partitions() > 0 && b->second != t.partitions()) {
        changes.Breaking(absl::StrCat("source topic '", t.topic(), "' of sub-topology ", sub.id(), " (stores: ",
                                      absl::StrJoin(sub.stores(), ", "), ") had ", b->second, " partitions and has ",
                                      t.partitions(), ": keys now land in other partitions than their state"));
      }
    }
  }
}

void LogChanges(const std::vector<TopologyChange>& changes, std::string_view application_id) {
  auto log = Logger("runnel");
  for (const auto& change : changes) {
    log->warn("topology of {}: {}{}", application_id, change.message,
              change.severity == TopologyChange::Severity::kBreaking
                  ? " (topology.compatibility.check=warn: starting anyway)"
                  : "");
  }
}

// Keeps the last value recorded under kRecordKey.
class RecordSink : public ChangelogSink {
 public:
  absl::Status Apply(const TopicPartition& /*tp*/, const std::vector<const kafka::ConsumedRecord*>& records,
                     Offset /*next*/) override {
    for (const kafka::ConsumedRecord* r : records) {
      if (r->key() != kRecordKey) continue;
      const auto value = r->value();
      last_ = value ? std::optional<std::string>(std::string(*value)) : std::nullopt;
    }
    return absl::OkStatus();
  }
  const std::optional<std::string>& last() const { return last_; }

 private:
  std::optional<std::string> last_;
};

// The recorded value; nullopt when there is none.
absl::StatusOr<std::optional<std::string>> ReadRecord(const StreamsConfig& config, const std::string& topic,
                                                      const Clock& clock) {
  auto consumer = CreateChangelogConsumer(config.ConsumerConfig(absl::StrCat(config.client_id_prefix(), "-topology")),
                                          clock);
  if (!consumer.ok()) return Annotate(consumer.status(), "creating the consumer of the recorded topology");
  const TopicPartition tp{topic, Partition(0)};
  // The topic was just described (or created by another instance): this
  // client's metadata may not know it, or its leader, yet.
  auto marks = runtime::internal::RetryWhileMetadataCatchesUp<std::pair<Offset, Offset>>(
      [&] { return (*consumer)->Watermarks(tp, kAdminTimeout); }, 50, absl::Milliseconds(200));
  if (!marks.ok()) return Annotate(marks.status(), absl::StrCat("reading ", topic));
  if (marks->second.value() <= marks->first.value()) return std::optional<std::string>();
  RecordSink sink;
  ChangelogReader reader(**consumer, {.clock = &clock, .max_batch = 100, .patience = kReadPatience});
  RUNNEL_RETURN_IF_ERROR(reader.Assign({ChangelogPartition{.tp = tp,
                                                           .start = marks->first,
                                                           .end = marks->second,
                                                           .sink = &sink,
                                                           .owner = "topology check",
                                                           .store = topic}}));
  for (;;) {
    auto done = reader.Restore(absl::Seconds(1));
    if (!done.ok()) return Annotate(done.status(), absl::StrCat("reading ", topic));
    if (*done) break;
  }
  RUNNEL_RETURN_IF_ERROR((*consumer)->Close());
  return sink.last();
}

}  // namespace

CompatibilityMode TopologyCompatibilityMode(const StreamsConfig& config) {
  const std::string& mode = config.config().GetString("topology.compatibility.check");
  if (mode == "warn") return CompatibilityMode::kWarn;
  if (mode == "off") return CompatibilityMode::kOff;
  return CompatibilityMode::kFail;
}

std::string TopologyTopicName(std::string_view application_id) {
  return absl::StrCat(ToAbsl(application_id), "-topology");
}

v1::TopologySummary SummarizeTopology(const Topology& topology, std::string_view application_id,
                                      const std::map<std::string, int32_t>& partitions) {
  auto count = [&](const std::string& topic) {
    auto it = partitions.find(topic);
    return it == partitions.end() ? 0 : it->second;
  };
  v1::TopologySummary out;
  out.set_format_version(kFormatVersion);
  out.set_application_id(std::string(application_id));
  std::map<std::string, int32_t> subtopology_of;
  std::map<std::string, v1::InternalTopicSummary> internal;
  for (const Subtopology& sub : topology.subtopologies()) {
    v1::SubtopologySummary* s = out.add_subtopologies();
    s->set_id(sub.id);
    for (const auto& topic : sub.source_topics) {
      v1::TopicPartitions* t = s->add_source_topics();
      t->set_topic(topic);
      t->set_partitions(count(topic));
    }
    for (const auto& store : sub.stores) {
      s->add_stores(store);
      subtopology_of[store] = sub.id;
    }
    for (const auto& topic : sub.sink_topics) {
      if (!topology.internal_topics().contains(topic)) continue;
      v1::InternalTopicSummary& t = internal[topic];
      t.set_name(topic);
      t.set_role("repartition");
      t.set_partitions(count(topic));
    }
  }
  for (const auto& [name, spec] : topology.stores()) {
    v1::StoreSummary* s = out.add_stores();
    const bool global = topology.IsGlobalStore(name);
    s->set_name(name);
    s->set_global(global);
    s->set_subtopology(global ? -1 : subtopology_of.count(name) ? subtopology_of.at(name) : -1);
    s->set_kind(KindName(spec.kind));
    s->set_layout(LayoutName(spec.layout));
    s->set_logging(spec.logging);
    if (spec.layout == StoreSpec::Layout::kWindow) s->set_window_size_ms(spec.window_size_ms);
    if (spec.retention_ms) s->set_retention_ms(*spec.retention_ms);
    if (spec.text != nullptr) {
      s->set_key_serde(spec.text->key_serde);
      s->set_value_serde(spec.text->value_serde);
    }
    if (spec.logging && !global) {
      const std::string changelog = ChangelogTopicName(application_id, name);
      s->set_changelog_topic(changelog);
      // A changelog has a partition per task: as many as its sub-topology's
      // source topics (co-partitioned).
      int32_t tasks = 0;
      for (const auto& sub : out.subtopologies()) {
        if (sub.id() != s->subtopology()) continue;
        for (const auto& t : sub.source_topics()) tasks = std::max(tasks, t.partitions());
      }
      v1::InternalTopicSummary& t = internal[changelog];
      t.set_name(changelog);
      t.set_role("changelog");
      t.set_partitions(tasks);
    }
  }
  for (auto& [name, topic] : internal) *out.add_internal_topics() = std::move(topic);
  out.set_description(topology.Describe());
  return out;
}

std::string SerializeTopologySummary(const v1::TopologySummary& summary) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  // Printing a well-formed message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(summary, &out, options);
  return out;
}

absl::StatusOr<v1::TopologySummary> ParseTopologySummary(std::string_view value) {
  v1::TopologySummary summary;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(value.data(), value.size()), &summary, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a topology summary: ", status.message().as_string()));
  }
  if (summary.format_version() < 1 || summary.format_version() > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("topology summary format_version ", summary.format_version(),
                                                   ", this Runnel reads 1 to ", kFormatVersion));
  }
  return summary;
}

std::vector<TopologyChange> CompareTopologies(const v1::TopologySummary& recorded,
                                              const v1::TopologySummary& current) {
  Changes changes;
  CompareStores(recorded, current, changes);
  CompareInternalTopics(recorded, current, changes);
  CompareSources(recorded, current, changes);
  std::set<int32_t> known;
  for (const auto& sub : recorded.subtopologies()) known.insert(sub.id());
  for (const auto& sub : current.subtopologies()) {
    if (!known.contains(sub.id())) changes.Harmless(absl::StrCat("sub-topology ", sub.id(), " is new"));
  }
  return changes.Take();
}

absl::Status IncompatibleTopologyError(const std::vector<TopologyChange>& changes,
                                       const v1::TopologySummary& recorded) {
  std::vector<std::string> lines;
  for (const auto& change : changes) {
    if (change.severity == TopologyChange::Severity::kBreaking) lines.push_back(absl::StrCat("  - ", change.message));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the topology of application '", recorded.application_id(),
      "' changed since it last ran in a way that would orphan or misread its state (recorded in topic '",
      TopologyTopicName(recorded.application_id()), "'):\n", absl::StrJoin(lines, "\n"), "\n", ToAbsl(kWhatToDo),
      "\nThe recorded topology:\n", recorded.description()));
}

absl::StatusOr<std::unique_ptr<TopologyCompatibility>> TopologyCompatibility::Check(
    kafka::Admin& admin, const StreamsConfig& config, const Topology& topology,
    const std::map<std::string, int32_t>& partitions, const runtime::internal::InternalTopicSettings& settings,
    const Clock& clock) {
  const CompatibilityMode mode = TopologyCompatibilityMode(config);
  const v1::TopologySummary current = SummarizeTopology(topology, config.application_id(), partitions);
  std::string value = SerializeTopologySummary(current);
  auto make = [&](bool unchanged) {
    return std::unique_ptr<TopologyCompatibility>(
        new TopologyCompatibility(config, clock, mode, std::move(value), unchanged));
  };
  if (mode == CompatibilityMode::kOff) return make(false);
  auto log = Logger("runnel");
  const std::string topic = TopologyTopicName(config.application_id());
  auto described = admin.DescribeTopic(topic, kAdminTimeout);
  if (absl::IsNotFound(described.status())) {
    RUNNEL_RETURN_IF_ERROR(runtime::internal::EnsureInternalTopic(
        admin, settings, {.name = topic, .partitions = 1, .configs = {{"cleanup.policy", "compact"}}},
        "topology topic"));
    log->info("no topology recorded for {} yet: recording this one in {} once it runs", config.application_id(),
              topic);
    return make(false);
  }
  if (!described.ok()) return Annotate(described.status(), absl::StrCat("describing ", topic));
  auto recorded_value = ReadRecord(config, topic, clock);
  if (!recorded_value.ok()) return recorded_value.status();
  if (!recorded_value->has_value()) {
    log->info("no topology recorded in {} yet: recording this one once it runs", topic);
    return make(false);
  }
  if (**recorded_value == value) return make(true);
  auto recorded = ParseTopologySummary(**recorded_value);
  if (!recorded.ok()) {
    const std::string why = absl::StrCat("the topology recorded in topic '", topic,
                                         "' cannot be read: ", recorded.status().message());
    if (mode == CompatibilityMode::kFail) {
      return absl::FailedPreconditionError(
          absl::StrCat(why, "; set topology.compatibility.check=warn to start anyway and record this topology"));
    }
    log->warn("{}; recording this topology once it runs (topology.compatibility.check=warn)", why);
    return make(false);
  }
  const std::vector<TopologyChange> changes = CompareTopologies(*recorded, current);
  const bool breaking = std::any_of(changes.begin(), changes.end(), [](const TopologyChange& c) {
    return c.severity == TopologyChange::Severity::kBreaking;
  });
  if (breaking && mode == CompatibilityMode::kFail) return IncompatibleTopologyError(changes, *recorded);
  LogChanges(changes, config.application_id());
  return make(false);
}

TopologyCompatibility::TopologyCompatibility(const StreamsConfig& config, const Clock& clock, CompatibilityMode mode,
                                             std::string value, bool unchanged)
    : config_(config), clock_(clock), mode_(mode), value_(std::move(value)), unchanged_(unchanged) {}

TopologyCompatibility::~TopologyCompatibility() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (recorder_.joinable()) recorder_.join();
}

void TopologyCompatibility::RecordOnceStarted(std::function<Progress()> progress) {
  if (mode_ == CompatibilityMode::kOff || unchanged_ || recorder_.joinable()) return;
  recorder_ = std::thread([this, progress = std::move(progress)] { RunRecorder(progress); });
}

void TopologyCompatibility::RunRecorder(const std::function<Progress()>& progress) {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      // Wakes early when destruction sets stop_.
      mu_.AwaitWithTimeout(absl::Condition(&stop_), kRecorderPollInterval);
      if (stop_) return;
    }
    const Progress now = progress();
    if (now == Progress::kStopped) return;
    if (now == Progress::kStarted) break;
  }
  if (absl::Status s = Write(); !s.ok()) {
    Logger("runnel")->warn("recording the topology of {} in {}: {} (the next start compares with the previous record)",
                           config_.application_id(), TopologyTopicName(config_.application_id()), s.ToString());
    return;
  }
  recorded_.store(true);
  Logger("runnel")->info("recorded the topology of {} in {}", config_.application_id(),
                         TopologyTopicName(config_.application_id()));
}

absl::Status TopologyCompatibility::Write() {
  kafka::ClientConfig producer_config =
      config_.ProducerConfig(absl::StrCat(config_.client_id_prefix(), "-topology-producer"));
  // librdkafka gives up on the record by itself (broker gone): the flush
  // below, and so the destruction that joins this thread, ends by then
  // whatever the injected clock does.
  producer_config["message.timeout.ms"] = absl::StrCat(absl::ToInt64Milliseconds(kAdminTimeout));
  auto producer = kafka::Producer::Create(producer_config, {.clock = &clock_});
  if (!producer.ok()) return producer.status();
  const std::string topic = TopologyTopicName(config_.application_id());
  RUNNEL_RETURN_IF_ERROR((*producer)->Send({.topic = topic, .key = kRecordKey, .value = value_}));
  return (*producer)->Flush(kAdminTimeout);
}

}  // namespace runnel
