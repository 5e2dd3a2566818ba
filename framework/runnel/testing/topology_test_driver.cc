#include "runnel/testing/topology_test_driver.h"

#include <stdlib.h>

#include <filesystem>

#include "runnel/common/status.h"
#include <algorithm>

#include "runnel/runtime/dead_letter.h"
#include "runnel/runtime/global_stores.h"
#include "runnel/runtime/stream_task.h"
#include "runnel/runtime/streams_config.h"

namespace runnel {

// Sends of every task: output topics are captured, source topics are piped
// back in, changelog records captured like any output.
class TopologyTestDriver::Sink final : public RecordSink, public ChangelogWriter {
 public:
  explicit Sink(TopologyTestDriver* driver) : driver_(driver) {}
  absl::Status Send(const SerializedRecord& r) override {
    TestRecord out{.key = r.key ? std::optional<std::string>(std::string(*r.key)) : std::nullopt,
                   .value = r.value ? std::optional<std::string>(std::string(*r.value)) : std::nullopt,
                   .timestamp = r.timestamp,
                   .headers = r.headers != nullptr ? *r.headers : Headers{}};
    std::string topic(r.topic);
    if (driver_->topology_->SubtopologyForTopic(topic) >= 0 || driver_->global_->IsGlobalTopic(topic)) {
      driver_->pending_.emplace_back(topic, out);
    }
    driver_->Output(topic).push_back(std::move(out));
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 1; }
  absl::Status Send(std::string_view topic, Partition, std::string_view key, std::optional<std::string_view> value,
                    Timestamp timestamp) override {
    return Send(SerializedRecord{.topic = topic, .partition = Partition(0), .key = key, .value = value,
                                 .timestamp = timestamp});
  }

 private:
  TopologyTestDriver* driver_;
};

absl::StatusOr<std::unique_ptr<TopologyTestDriver>> TopologyTestDriver::Create(
    std::shared_ptr<const Topology> topology, const std::map<std::string, std::string>& config,
    absl::Time wall_clock_start) {
  std::unique_ptr<TopologyTestDriver> d(new TopologyTestDriver());
  d->topology_ = std::move(topology);
  d->clock_.Set(wall_clock_start);
  // Validated by StreamsConfig's own definition (a bad value stops here as
  // it would stop an application), then only the keys the driver uses.
  static constexpr std::string_view kDriverKeys[] = {
      "application.id", "state.dir", "statestore.cache.max.bytes", "default.deserialization.exception.handler",
      "processing.exception.handler", "errors.dead.letter.queue.topic.name"};
  std::map<std::string, std::string> values{{"application.id", "test-app"}, {"bootstrap.servers", "unused:9092"}};
  for (const auto& [key, value] : config) {
    if (std::find(std::begin(kDriverKeys), std::end(kDriverKeys), key) == std::end(kDriverKeys)) {
      return absl::InvalidArgumentError(absl::StrCat("TopologyTestDriver: unknown config key '", key, "'"));
    }
    values[key] = value;
  }
  auto streams_config = StreamsConfig::Create(values);
  if (!streams_config.ok()) return streams_config.status();
  d->application_id_ = streams_config->application_id();
  if (config.contains("state.dir")) d->state_dir_ = streams_config->state_dir();
  const int64_t cache_bytes = streams_config->cache_max_bytes();
  auto resolved = d->topology_->Resolve(d->application_id_);
  if (!resolved.ok()) return resolved.status();
  d->topology_ = *std::move(resolved);
  if (d->state_dir_.empty()) {
    std::string tmpl = std::filesystem::temp_directory_path() / "runnel-ttd-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("cannot create a temporary state.dir");
    d->state_dir_ = tmpl;
    d->owns_state_dir_ = true;
  }
  d->sink_ = std::make_unique<Sink>(d.get());
  d->deserialization_handler_ =
      MakeDeserializationErrorHandler(streams_config->deserialization_error_mode(), d->application_id_,
                                      streams_config->dead_letter_topic(), d->sink_.get(), &d->metrics_, d->clock_);
  d->processing_handler_ =
      MakeProcessingErrorHandler(streams_config->processing_error_mode(), d->application_id_,
                                 streams_config->dead_letter_topic(), d->sink_.get(), &d->metrics_, d->clock_);
  auto rocksdb = d->topology_->stores().empty() ? nullptr : RocksDbResources::Create(16 << 20, 8 << 20);
  d->cache_budget_ = std::make_unique<RecordCacheBudget>(cache_bytes);
  auto global = GlobalStores::Open(d->topology_, GlobalStoresOptions{.application_id = d->application_id_,
                                                                     .dir = absl::StrCat(d->state_dir_, "/",
                                                                                         d->application_id_, "/global"),
                                                                     .rocksdb = rocksdb,
                                                                     .clock = &d->clock_});
  if (!global.ok()) return global.status();
  d->global_ = *std::move(global);
  for (const auto& sub : d->topology_->subtopologies()) {
    auto graph = d->topology_->CreateTaskGraph(sub.id);
    if (!graph.ok()) return graph.status();
    StateEnv state{.application_id = d->application_id_,
                   .app_dir = absl::StrCat(d->state_dir_, "/", d->application_id_),
                   .rocksdb = rocksdb,
                   .cache_budget = d->cache_budget_.get(),
                   .changelog = d->sink_.get(),
                   .metrics = &d->metrics_,
                   .global_stores = d->global_.get(),
                   .clock = &d->clock_};
    auto task = std::make_unique<StreamTask>(TaskId{sub.id, Partition(0)}, d->application_id_, *std::move(graph),
                                             d->sink_.get(), d->deserialization_handler_.get(),
                                             d->processing_handler_.get(), d->clock_, &d->topology_->stores(),
                                             sub.stores, std::move(state));
    for (const std::string& topic : sub.source_topics) task->AddPartition(TopicPartition{topic, Partition(0)});
    // Every record is processed as it is piped: no waiting for other inputs.
    task->SetMaxTaskIdle(-1);
    RUNNEL_RETURN_IF_ERROR(task->Init());
    // Nothing to restore: the stores start empty (or as state.dir left them).
    RUNNEL_RETURN_IF_ERROR(task->CompleteRestore());
    d->tasks_[sub.id] = std::move(task);
  }
  return d;
}

TopologyTestDriver::~TopologyTestDriver() {
  tasks_.clear();
  global_.reset();
  if (owns_state_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

absl::Status TopologyTestDriver::PipeRaw(std::string_view topic, TestRecord record) {
  if (topology_->SubtopologyForTopic(topic) < 0 && !global_->IsGlobalTopic(topic)) {
    return absl::InvalidArgumentError(absl::StrCat("no source reads topic '", ToAbsl(topic), "'"));
  }
  pending_.emplace_back(std::string(topic), std::move(record));
  return Drain();
}

absl::Status TopologyTestDriver::Drain() {
  while (true) {
    while (!pending_.empty()) {
      auto [topic, record] = std::move(pending_.front());
      pending_.pop_front();
      if (global_->IsGlobalTopic(topic)) {
        RUNNEL_RETURN_IF_ERROR(global_->Update(RawRecord{
            .topic = topic,
            .partition = Partition(0),
            .offset = Offset(next_offset_++),
            .key = record.key ? std::optional<std::string_view>(*record.key) : std::nullopt,
            .value = record.value ? std::optional<std::string_view>(*record.value) : std::nullopt,
            .timestamp = record.timestamp,
            .headers = record.headers}));
        continue;
      }
      StreamTask& task = *tasks_.at(topology_->SubtopologyForTopic(topic));
      task.AddRecord(kafka::ConsumedRecord::FromParts({.topic = std::move(topic),
                                                       .partition = Partition(0),
                                                       .offset = Offset(next_offset_++),
                                                       .key = std::move(record.key),
                                                       .value = std::move(record.value),
                                                       .timestamp = record.timestamp,
                                                       .headers = std::move(record.headers)}));
      RUNNEL_RETURN_IF_ERROR(task.Process());
    }
    // Commit: flushing caches may forward more records (maybe into
    // repartition topics), so go round until nothing is left.
    for (auto& [id, task] : tasks_) RUNNEL_RETURN_IF_ERROR(task->FlushStores());
    // Output is delivered as it is sent: the commit's records are all
    // acknowledged (processors write their progress markers, as under
    // at-least-once in production).
    for (auto& [id, task] : tasks_) RUNNEL_RETURN_IF_ERROR(task->SentRecordsAcknowledged());
    if (pending_.empty()) return absl::OkStatus();
  }
}

absl::Status TopologyTestDriver::AdvanceWallClockTime(absl::Duration d) {
  clock_.Advance(d);
  for (auto& [id, task] : tasks_) RUNNEL_RETURN_IF_ERROR(task->PunctuateWallClock());
  return Drain();
}

std::deque<TestRecord>& TopologyTestDriver::Output(std::string_view topic) {
  auto it = output_.find(topic);
  if (it == output_.end()) it = output_.emplace(std::string(topic), std::deque<TestRecord>{}).first;
  return it->second;
}

KeyValueStore* TopologyTestDriver::GetKeyValueStore(std::string_view name) const {
  if (KeyValueStore* global = global_->ReadOnly(name)) return global;
  for (const auto& [id, task] : tasks_) {
    if (KeyValueStore* s = task->GetKeyValueStore(name)) return s;
  }
  return nullptr;
}

}  // namespace runnel
