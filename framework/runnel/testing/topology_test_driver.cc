#include "runnel/testing/topology_test_driver.h"

#include <stdlib.h>

#include <filesystem>

#include "runnel/common/status.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/runtime/global_stores.h"
#include "runnel/runtime/task_stores.h"

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

// One sub-topology on partition 0.
class TopologyTestDriver::Task final : public TaskContext, public DeserializationErrorHandler {
 public:
  Task(TopologyTestDriver* driver, TaskId id, std::unique_ptr<ProcessorGraph> graph, StateEnv state)
      : driver_(driver),
        id_(id),
        graph_(std::move(graph)),
        stores_(id, std::move(state), [this] { return current_ts_; }) {
    env_.task = this;
    env_.sink = driver->sink_.get();
    env_.deserialization_handler = this;
  }
  ~Task() override {
    graph_->Close();
    stores_.Close();
  }

  absl::Status Init(const std::set<std::string>& stores) {
    RUNNEL_RETURN_IF_ERROR(stores_.Open(driver_->topology_->stores(), stores));
    return graph_->Init(env_);
  }

  absl::Status Process(std::string_view topic, const TestRecord& r, Offset offset) {
    internal::SourceNodeBase* source = graph_->SourceFor(topic);
    RawRecord raw{.topic = topic,
                  .partition = Partition(0),
                  .offset = offset,
                  .key = r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
                  .value = r.value ? std::optional<std::string_view>(*r.value) : std::nullopt,
                  .timestamp = r.timestamp,
                  .headers = r.headers};
    metadata_ = RecordMetadata{std::string(topic), Partition(0), offset};
    current_ = &metadata_;
    current_ts_ = r.timestamp;
    if (r.timestamp > stream_time_) stream_time_ = r.timestamp;
    absl::Status s = source->ProcessRaw(raw);
    current_ = nullptr;
    if (!s.ok()) return s;
    return punctuation_.Fire(PunctuationType::kStreamTime, stream_time_);
  }
  absl::Status Commit() { return stores_.Flush(); }
  KeyValueStore* Store(std::string_view name) const { return stores_.Get(name); }

  // TaskContext
  std::string_view application_id() const override { return driver_->application_id_; }
  TaskId task_id() const override { return id_; }
  const RecordMetadata* record_metadata() const override { return current_; }
  Timestamp stream_time() const override { return stream_time_; }
  const Clock& clock() const override { return driver_->clock_; }
  void RequestCommit() override {}
  MetricsRegistry& metrics() override { return driver_->metrics_; }
  KeyValueStore* GetKeyValueStore(std::string_view name) override { return stores_.Get(name); }
  Cancellable Schedule(absl::Duration interval, PunctuationType type, Punctuator punctuator) override {
    const Timestamp now = type == PunctuationType::kStreamTime ? stream_time_ : driver_->clock_.NowMillis();
    return punctuation_.Add(type, interval, std::move(punctuator), now);
  }
  absl::Status PunctuateWallClock() {
    return punctuation_.Fire(PunctuationType::kWallClockTime, driver_->clock_.NowMillis());
  }

  // DeserializationErrorHandler: the driver fails loudly (log_and_fail).
  absl::Status Handle(const RawRecord& record, std::string_view part, const absl::Status& error,
                      std::string_view node) override {
    return absl::Status(error.code(), absl::StrCat("source '", ToAbsl(node), "' cannot deserialize the ",
                                                   ToAbsl(part), " of a record of '", ToAbsl(record.topic),
                                                   "': ", error.message()));
  }

 private:
  TopologyTestDriver* driver_;
  TaskId id_;
  std::unique_ptr<ProcessorGraph> graph_;
  internal::NodeEnv env_;
  TaskStores stores_;
  RecordMetadata metadata_;
  const RecordMetadata* current_ = nullptr;
  Timestamp current_ts_{0};
  Timestamp stream_time_{-1};
  PunctuationSchedule punctuation_;
};

absl::StatusOr<std::unique_ptr<TopologyTestDriver>> TopologyTestDriver::Create(
    std::shared_ptr<const Topology> topology, const std::map<std::string, std::string>& config,
    absl::Time wall_clock_start) {
  std::unique_ptr<TopologyTestDriver> d(new TopologyTestDriver());
  d->topology_ = std::move(topology);
  d->clock_.Set(wall_clock_start);
  int64_t cache_bytes = 10 << 20;
  for (const auto& [key, value] : config) {
    if (key == "application.id") {
      d->application_id_ = value;
    } else if (key == "state.dir") {
      d->state_dir_ = value;
    } else if (key == "statestore.cache.max.bytes") {
      if (!absl::SimpleAtoi(value, &cache_bytes) || cache_bytes < 0) {
        return absl::InvalidArgumentError(absl::StrCat("config key 'statestore.cache.max.bytes': bad value '", value, "'"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("TopologyTestDriver: unknown config key '", key, "'"));
    }
  }
  if (d->application_id_.empty()) d->application_id_ = "test-app";
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
                   .global_stores = d->global_.get()};
    auto task = std::make_unique<Task>(d.get(), TaskId{sub.id, Partition(0)}, *std::move(graph), std::move(state));
    RUNNEL_RETURN_IF_ERROR(task->Init(sub.stores));
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
      Task& task = *tasks_.at(topology_->SubtopologyForTopic(topic));
      RUNNEL_RETURN_IF_ERROR(task.Process(topic, record, Offset(next_offset_++)));
    }
    // Commit: flushing caches may forward more records (maybe into
    // repartition topics), so go round until nothing is left.
    for (auto& [id, task] : tasks_) RUNNEL_RETURN_IF_ERROR(task->Commit());
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
    if (KeyValueStore* s = task->Store(name)) return s;
  }
  return nullptr;
}

}  // namespace runnel
