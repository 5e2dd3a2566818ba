#include "runnel/runtime/standby.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/runtime/task_assignment.h"

namespace runnel {
namespace {

// FNV-1a: stable across processes and builds (std::hash is not promised
// to be), which placement needs.
uint64_t Fnv(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Only logged RocksDB stores can be handed over to a new owner.
bool HasStandby(const StoreSpec& spec) { return spec.logging && spec.kind == StoreSpec::Kind::kRocksDb; }

// Where a standby's changelog records go: its stores, with the changelog's
// end as the last fetch saw it (no broker trip) for queries' lag.
class StandbySink final : public ChangelogSink {
 public:
  StandbySink(TaskStores& stores, const ChangelogConsumer& consumer, Counter* applied)
      : stores_(stores), consumer_(consumer), applied_(applied) {}

  absl::Status Apply(const TopicPartition& tp, const std::vector<const kafka::ConsumedRecord*>& records,
                     Offset next) override {
    // No records: the reader reached the partition's end past transaction
    // markers; the position moves there, or an exactly-once standby would
    // stay a marker behind its end forever.
    const std::vector<KeyValueStore::Write> writes = ChangelogWrites(records);
    RUNNEL_RETURN_IF_ERROR(stores_.ApplyStandby(tp, writes, next));
    if (auto end = consumer_.CachedEnd(tp)) stores_.SetChangelogEnd(tp, *end);
    applied_->Increment(static_cast<int64_t>(writes.size()));
    return absl::OkStatus();
  }

 private:
  TaskStores& stores_;
  const ChangelogConsumer& consumer_;
  Counter* applied_;
};

}  // namespace

bool HasStandbyStores(const Topology& topology, int32_t sub) {
  for (const auto& name : topology.subtopologies()[sub].stores) {
    if (HasStandby(topology.stores().at(name))) return true;
  }
  return false;
}

std::map<TaskId, std::vector<std::string>> PlaceStandbys(const std::map<TaskId, std::string>& active,
                                                         const std::set<std::string>& processes, int replicas) {
  std::map<TaskId, std::vector<std::string>> out;
  std::map<std::string, int> load;
  for (const auto& p : processes) load[p] = 0;
  for (const auto& [task, owner] : active) {
    std::vector<std::string> candidates;
    for (const auto& p : processes) {
      if (p != owner) candidates.push_back(p);
    }
    const std::string task_name = task.ToString();
    std::sort(candidates.begin(), candidates.end(), [&](const std::string& a, const std::string& b) {
      if (load[a] != load[b]) return load[a] < load[b];
      const uint64_t ha = Fnv(a + "/" + task_name), hb = Fnv(b + "/" + task_name);
      return ha != hb ? ha < hb : a < b;
    });
    candidates.resize(std::min<size_t>(candidates.size(), static_cast<size_t>(std::max(replicas, 0))));
    for (const auto& p : candidates) ++load[p];
    if (!candidates.empty()) out[task] = std::move(candidates);
  }
  return out;
}

StandbyManager::StandbyManager(std::shared_ptr<const Topology> topology, const StreamsConfig& config,
                               std::string process_id, StateDirectory* directory,
                               std::shared_ptr<RocksDbResources> rocksdb, MetricsRegistry* metrics,
                               const Clock& clock, LocalStores* local_stores)
    : topology_(std::move(topology)),
      config_(config),
      process_id_(std::move(process_id)),
      directory_(directory),
      rocksdb_(std::move(rocksdb)),
      clock_(clock),
      local_stores_(local_stores),
      applied_records_(metrics->GetCounter("runnel_standby_records_total")) {}

StandbyManager::~StandbyManager() { Stop(); }

absl::Status StandbyManager::Start() {
  auto admin = kafka::Admin::Create(config_.AdminConfig(), {.clock = &clock_});
  if (!admin.ok()) return Annotate(admin.status(), "creating the standby admin client");
  admin_ = *std::move(admin);
  kafka::ClientConfig consumer_config = config_.ConsumerConfig(
      absl::StrCat(config_.client_id_prefix(), "-", process_id_,
                   "-standby-consumer"));
  consumer_config["fetch.wait.max.ms"] = "100";
  auto consumer = CreateChangelogConsumer(consumer_config, clock_);
  if (!consumer.ok()) return Annotate(consumer.status(), "creating the standby consumer");
  consumer_ = *std::move(consumer);
  reader_ = std::make_unique<ChangelogReader>(*consumer_, ChangelogReaderOptions{.clock = &clock_});
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void StandbyManager::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<TaskId> StandbyManager::tasks() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

void StandbyManager::Run() {
  auto log = Logger("runnel");
  absl::Time last_refresh = absl::InfinitePast(), last_checkpoint = clock_.Now();
  while (!stop_.load()) {
    const absl::Time now = clock_.Now();
    if (now - last_refresh >= absl::Seconds(2)) {
      last_refresh = now;
      absl::Status s = Refresh();
      if (!s.ok()) log->warn("standby replicas: {}", s.ToString());
    }
    bool released = false;
    for (auto it = standbys_.begin(); it != standbys_.end();) {
      const TaskId task = it->first;
      ++it;
      if (directory_->TakeReleaseRequest(task)) {
        log->info("standby of task {} hands over to its new active owner", task.ToString());
        Close(task);
        released = true;
      }
    }
    if (released) {
      if (absl::Status s = Reassign(); !s.ok()) log->warn("standby replicas: {}", s.ToString());
    }
    if (standbys_.empty()) {
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    if (auto applied = reader_->Follow(absl::Milliseconds(50)); !applied.ok()) {
      log->warn("standby replicas: {}", applied.status().ToString());
    }
    RefreshChangelogEnds();
    if (now - last_checkpoint >= config_.commit_interval()) {
      last_checkpoint = now;
      for (auto& [task, standby] : standbys_) {
        absl::Status s = standby.stores->CheckpointStandby();
        if (!s.ok()) log->warn("standby of task {}: checkpoint: {}", task.ToString(), s.ToString());
      }
    }
  }
  while (!standbys_.empty()) Close(standbys_.begin()->first);
}

void StandbyManager::RefreshChangelogEnds() {
  // The ends the consumer's fetches saw (no broker trip). Every fetch
  // updates them, also one that brings nothing: a standby opened already
  // caught up learns its end (lag 0) here, since no record reaches its sink.
  for (auto& [task, standby] : standbys_) {
    for (const auto& [tp, position] : standby.stores->StandbyPositions()) {
      if (auto end = consumer_->CachedEnd(tp)) standby.stores->SetChangelogEnd(tp, *end);
    }
  }
}

absl::Status StandbyManager::Refresh() {
  auto group = admin_->DescribeGroup(config_.application_id(), absl::Seconds(10));
  if (!group.ok()) return group.status();
  // Mid-rebalance the assignments are in flux: wait for a stable group.
  if (group->state != "Stable") return absl::OkStatus();
  // The stream threads consume their AssignTasks share, not what the
  // group's range assignor handed out: compute the same thing here.
  // Partition counts do not change under a running application (a
  // repartitioned source fails its co-partitioning check at start): read
  // them once, not at every refresh.
  if (config_.sticky_assignment() && tasks_per_subtopology_.empty()) {
    auto tasks = TasksPerSubtopology(*topology_, *admin_, absl::Seconds(10));
    if (!tasks.ok()) return tasks.status();
    tasks_per_subtopology_ = *std::move(tasks);
  }
  GroupAssignment assignment =
      AssignmentOfGroup(*topology_, *group, config_.sticky_assignment(), tasks_per_subtopology_);
  std::map<TaskId, std::string> active;
  std::set<std::string> processes;
  for (const auto& [process, endpoint] : assignment.endpoints) processes.insert(process);
  for (const auto& [task, process] : assignment.active) {
    if (HasStandbyStores(*topology_, task.subtopology)) active[task] = process;
  }
  std::set<TaskId> wanted;
  for (const auto& [task, holders] : PlaceStandbys(active, processes, config_.num_standby_replicas())) {
    if (std::find(holders.begin(), holders.end(), process_id_) != holders.end()) wanted.insert(task);
  }
  bool changed = false;
  for (auto it = standbys_.begin(); it != standbys_.end();) {
    const TaskId task = it->first;
    ++it;
    if (!wanted.contains(task)) {
      Close(task);
      changed = true;
    }
  }
  for (const TaskId& task : wanted) {
    if (standbys_.contains(task)) continue;
    absl::Status s = Open(task);
    // Held by a stream thread of this instance (it is active here, or
    // was a moment ago): try again at the next refresh.
    if (absl::IsUnavailable(s)) continue;
    RUNNEL_RETURN_IF_ERROR(s);
    changed = true;
  }
  return changed ? Reassign() : absl::OkStatus();
}

absl::Status StandbyManager::Open(TaskId task) {
  StateEnv env{.application_id = config_.application_id(),
               .app_dir = directory_->app_dir(),
               .rocksdb = rocksdb_,
               .cache_budget = &no_cache_,
               .changelog = nullptr,
               .local_stores = local_stores_,
               .standby = true,
               .directory = directory_,
               .exactly_once = config_.processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2,
               .clock = &clock_};
  auto stores = std::make_unique<TaskStores>(task, std::move(env), [] { return Timestamp(0); });
  std::set<std::string> names;
  for (const auto& name : topology_->subtopologies()[task.subtopology].stores) {
    if (HasStandby(topology_->stores().at(name))) names.insert(name);
  }
  RUNNEL_RETURN_IF_ERROR(stores->Open(topology_->stores(), names));
  // A replica that is ahead of, or foreign to, its changelog is wiped here,
  // before it follows the changelog from its position.
  auto marks = stores->CheckChangelogPositions(*consumer_);
  if (!marks.ok()) return Annotate(marks.status(), absl::StrCat("standby of task ", task.ToString()));
  Logger("runnel")->info("standby of task {} opened", task.ToString());
  auto sink = std::make_unique<StandbySink>(*stores, *consumer_, applied_records_);
  standbys_.emplace(task, Standby{std::move(stores), std::move(sink)});
  return absl::OkStatus();
}

void StandbyManager::Close(TaskId task) {
  auto it = standbys_.find(task);
  if (it == standbys_.end()) return;
  // Its sink goes with it: the reader must not apply to it any more.
  reader_->Forget(it->second.stores->ChangelogPartitions());
  absl::Status s = it->second.stores->CheckpointStandby();
  if (!s.ok()) Logger("runnel")->warn("standby of task {}: final checkpoint: {}", task.ToString(), s.ToString());
  it->second.stores->Close();
  standbys_.erase(it);
}

absl::Status StandbyManager::Reassign() {
  std::vector<ChangelogPartition> partitions;
  for (const auto& [task, standby] : standbys_) {
    for (const auto& [tp, position] : standby.stores->StandbyPositions()) {
      partitions.push_back(ChangelogPartition{.tp = tp,
                                              .start = position,
                                              .sink = standby.sink.get(),
                                              .owner = absl::StrCat("standby of task ", task.ToString()),
                                              .store = tp.topic});
    }
  }
  {
    absl::MutexLock lock(&mu_);
    published_.clear();
    for (const auto& [task, standby] : standbys_) published_.push_back(task);
  }
  return reader_->Assign(std::move(partitions));
}

}  // namespace runnel
