#include "runnel/runtime/kafka_streams.h"

#include <csignal>
#include <ctime>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/check.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/common/logging.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/internal/shutdown_request.h"
#include "runnel/runtime/internal/topics.h"
#include "runnel/runtime/task_assignment.h"
#include "runnel/runtime/topology_compatibility.h"

namespace runnel {

absl::StatusOr<std::unique_ptr<KafkaStreams>> KafkaStreams::Create(
    std::shared_ptr<const Topology> topology, StreamsConfig config, const Clock& clock) {
  if (topology == nullptr) return absl::InvalidArgumentError("topology is null");
#ifdef NDEBUG
  // Debian's Abseil is built with mutex deadlock detection on: every
  // absl::Mutex acquisition (ours, and gRPC's, which uses absl::Mutex) then
  // updates a process-wide lock graph, ~5% of the CPU of an interactive
  // query. Release builds of Runnel turn it off, as an NDEBUG build of
  // Abseil would; debug and sanitizer builds keep it.
  static std::once_flag no_deadlock_detection;
  std::call_once(no_deadlock_detection,
                 [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
#endif
  auto resolved = topology->Resolve(config.application_id());
  if (!resolved.ok()) return resolved.status();
  return std::unique_ptr<KafkaStreams>(new KafkaStreams(*std::move(resolved), std::move(config), clock));
}

KafkaStreams::KafkaStreams(std::shared_ptr<const Topology> topology, StreamsConfig config,
                           const Clock& clock)
    : topology_(std::move(topology)),
      config_(std::move(config)),
      clock_(clock),
      tasks_created_(metrics_.GetGauge("runnel_tasks", {{"state", "created"}})),
      tasks_restoring_(metrics_.GetGauge("runnel_tasks", {{"state", "restoring"}})) {
  DescribeRuntimeMetrics(metrics_);
  metrics_.GetGauge("runnel_tasks", {{"state", "running"}});
  metrics_.AddCollector([this](std::vector<MetricSample>* out) { CollectMetrics(out); });
}

KafkaStreams::~KafkaStreams() {
  (void)Close();
  StopMetricsServer();
}

absl::Status KafkaStreams::StartMetricsServer() {
  const std::optional<MetricsServerAddress> address = config_.metrics_server();
  if (!address) return absl::OkStatus();
  {
    // Start again after it failed (the instance is still CREATED): the
    // server of the first attempt serves on.
    absl::MutexLock lock(&metrics_server_mu_);
    if (metrics_server_ != nullptr) return absl::OkStatus();
  }
  auto server = MetricsServer::Start(*address, &metrics_, [this] { return CheckReadiness(); }, clock_,
                                     TlsSettingsFromConfig(config_.config(), "metrics.tls."));
  if (!server.ok()) return server.status();
  metrics_port_.store((*server)->port());
  Logger("runnel")->info("serving /metrics, /healthz and /readyz on {}:{}", address->host, (*server)->port());
  absl::MutexLock lock(&metrics_server_mu_);
  metrics_server_ = *std::move(server);
  return absl::OkStatus();
}

void KafkaStreams::StopMetricsServer() {
  absl::MutexLock lock(&metrics_server_mu_);
  if (metrics_server_ == nullptr) return;
  if (absl::Status s = metrics_server_->Shutdown(); !s.ok()) {
    Logger("runnel")->warn("stopping the metrics server: {}", s.ToString());
  }
}

Readiness KafkaStreams::CheckReadiness() const {
  State now;
  int joining = 0;
  int rebalancing = 0;
  {
    absl::MutexLock lock(&mu_);
    now = state_;
    for (const auto& thread : threads_) {
      if (removed_.contains(thread->index()) || thread->stopped()) continue;
      switch (thread->group_state()) {
        case StreamThread::GroupState::kJoining: ++joining; break;
        case StreamThread::GroupState::kRebalancing: ++rebalancing; break;
        case StreamThread::GroupState::kAssigned: break;
      }
    }
  }
  if (now != State::kRunning) return {false, absl::StrCat("the instance is ", ToAbsl(StateName(now)))};
  if (joining > 0) {
    return {false, absl::StrCat(joining, " stream thread(s) waiting for their first partition assignment")};
  }
  if (rebalancing > 0) {
    return {false, absl::StrCat("a rebalance is in progress (", rebalancing,
                                " stream thread(s) waiting for their new assignment)")};
  }
  const int64_t restoring = tasks_restoring_->value();
  const int64_t created = tasks_created_->value();
  if (restoring > 0 || created > 0) {
    return {false, absl::StrCat(restoring, " task(s) restoring their stores, ", created, " opening them")};
  }
  return {true, ""};
}

void KafkaStreams::CollectMetrics(std::vector<MetricSample>* out) const {
  const State now = state();
  for (State s : {State::kCreated, State::kRunning, State::kPendingShutdown, State::kNotRunning, State::kError}) {
    out->push_back({"runnel_instance_state", {{"state", std::string(StateName(s))}}, s == now ? 1 : 0, false});
  }
  out->push_back({"runnel_stream_threads", {}, num_stream_threads(), false});
  std::shared_ptr<RocksDbResources> rocksdb;
  {
    absl::MutexLock lock(&mu_);
    rocksdb = rocksdb_;
  }
  if (rocksdb != nullptr) {
    out->push_back({"runnel_rocksdb_block_cache_usage_bytes", {}, rocksdb->CacheUsage(), false});
    out->push_back(
        {"runnel_rocksdb_block_cache_capacity_bytes", {}, config_.rocksdb_block_cache_bytes(), false});
  }
  constexpr std::pair<const char*, const char*> kProperties[] = {
      {"runnel_store_sst_files_bytes", "rocksdb.total-sst-files-size"},
      {"runnel_store_live_data_bytes", "rocksdb.estimate-live-data-size"},
      {"runnel_store_memtable_bytes", "rocksdb.cur-size-all-mem-tables"},
      {"runnel_store_estimated_keys", "rocksdb.estimate-num-keys"},
  };
  // Global stores (GlobalKTable) are among the topology's stores.
  for (const auto& [name, spec] : topology_->stores()) {
    const char* global_role = topology_->IsGlobalStore(name) ? "global" : "active";
    for (const LocalStores::Copy& copy : local_stores_->FindCopies(name)) {
      const bool standby = copy.status != nullptr && copy.status->standby();
      const MetricLabels labels{
          {"store", name}, {"task", copy.task.ToString()}, {"role", standby ? "standby" : global_role}};
      if (const auto* rocks = dynamic_cast<const RocksDbKeyValueStore*>(copy.view.get())) {
        for (const auto& [metric, property] : kProperties) {
          // A store closed meanwhile answers FailedPrecondition: left out.
          auto value = rocks->AggregatedIntProperty(property);
          if (value.ok()) out->push_back({metric, labels, static_cast<int64_t>(*value), false});
        }
      }
      if (copy.status == nullptr) continue;
      if (standby) {
        out->push_back({"runnel_standby_lag_records", {{"store", name}, {"task", copy.task.ToString()}},
                        copy.status->Lag(), false});
      } else {
        const int64_t end = copy.status->changelog_end();
        const int64_t position = copy.status->changelog_position();
        const int64_t remaining = copy.status->ready() || end < 0 ? 0 : std::max<int64_t>(0, end - position);
        out->push_back({"runnel_restore_remaining_records", {{"store", name}, {"task", copy.task.ToString()}},
                        remaining, false});
      }
    }
  }
}

absl::Status KafkaStreams::PrepareTopics() {
  auto admin = kafka::Admin::Create(config_.AdminConfig(), {.clock = &clock_});
  if (!admin.ok()) return Annotate(admin.status(), "creating the admin client");
  int32_t max_partitions = 1;
  std::map<std::string, int32_t> partitions;
  const auto& internal = topology_->internal_topics();
  for (const auto& topic : topology_->SourceTopics()) {
    if (internal.contains(topic)) continue;
    // A topic created a moment ago can still be unknown to the broker
    // answering (its metadata lags the controller on a loaded machine):
    // asked again for ~3 s before it is called missing.
    auto description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
    for (int attempt = 1; attempt < 10 && absl::IsNotFound(description.status()); ++attempt) {
      absl::SleepFor(absl::Milliseconds(300));
      description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
    }
    if (absl::IsNotFound(description.status())) {
      return absl::NotFoundError(absl::StrCat("source topic '", topic,
                                              "' does not exist; create it before starting"));
    }
    if (!description.ok()) return Annotate(description.status(), absl::StrCat("describing ", topic));
    max_partitions = std::max(max_partitions, description->partitions);
    partitions[topic] = description->partitions;
  }
  RUNNEL_RETURN_IF_ERROR(topology_->SizeInternalTopics(&partitions));
  // One set of settings for every internal topic: replication.factor (0:
  // min(3, brokers)) and the topic.* configs.
  auto settings = runtime::internal::ResolveInternalTopicSettings(config_, clock_);
  if (!settings.ok()) return settings.status();
  // Before any internal topic is made: a refused topology creates nothing.
  RUNNEL_ASSIGN_OR_RETURN(compatibility_,
                          TopologyCompatibility::Check(**admin, config_, *topology_, partitions, *settings, clock_));
  for (const auto& sub : topology_->subtopologies()) {
    for (const auto& topic : sub.sink_topics) {
      if (!internal.contains(topic)) continue;
      RUNNEL_RETURN_IF_ERROR(runtime::internal::EnsureInternalTopic(
          **admin, *settings,
          {.name = topic, .partitions = partitions.at(topic), .configs = {{"cleanup.policy", "delete"}}},
          "repartition topic"));
    }
  }
  // A stateful sub-topology's source topics are co-partitioned: task p reads
  // partition p of each, and its stores' changelogs have the same count.
  RUNNEL_RETURN_IF_ERROR(topology_->CheckCoPartitioned(partitions));
  for (const auto& sub : topology_->subtopologies()) {
    if (sub.stores.empty()) continue;
    int32_t count = -1;
    for (const auto& topic : sub.source_topics) count = partitions[topic];
    for (const auto& store : sub.stores) {
      const StoreSpec& spec = topology_->stores().at(store);
      if (!spec.logging) continue;
      kafka::NewTopic changelog{
          .name = ChangelogTopicName(config_.application_id(), store),
          .partitions = count,
          .configs = {{"cleanup.policy", "compact"}}};
      if (spec.retention_ms) {
        constexpr int64_t kAdditionalRetentionMs = 24 * 3600 * 1000;
        changelog.configs = {{"cleanup.policy", "compact,delete"},
                             {"retention.ms", absl::StrCat(*spec.retention_ms + kAdditionalRetentionMs)}};
      }
      RUNNEL_RETURN_IF_ERROR(runtime::internal::EnsureInternalTopic(**admin, *settings, changelog, "changelog topic"));
    }
  }
  if (config_.deserialization_error_mode() == RecordErrorMode::kDeadLetter ||
      config_.processing_error_mode() == RecordErrorMode::kDeadLetter) {
    RUNNEL_RETURN_IF_ERROR(runtime::internal::EnsureInternalTopic(
        **admin, *settings, {.name = config_.dead_letter_topic(), .partitions = max_partitions}, "dead-letter topic",
        runtime::internal::PartitionCount::kAny));
  }
  return absl::OkStatus();
}

absl::Status KafkaStreams::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kCreated) {
      return absl::FailedPreconditionError(
          absl::StrCat("Start() in state ", ToAbsl(StateName(state_)), "; an instance starts once"));
    }
  }
  RUNNEL_RETURN_IF_ERROR(StartMetricsServer());
  // Secrets (sasl.password, ssl.key.password, ...) show as [hidden].
  Logger("runnel")->info("starting {} with {} stream threads, config:\n{}{}", config_.application_id(),
                         config_.num_stream_threads(), config_.config().Describe(), topology_->Describe());
  RUNNEL_RETURN_IF_ERROR(PrepareTopics());
  // A stateless instance needs no directory; its process id (which only
  // names its transactional producers) is then new on every start.
  std::string process_id;
  if (!topology_->stores().empty()) {
    auto directory = StateDirectory::Open(config_.state_dir(), config_.application_id());
    if (!directory.ok()) return directory.status();
    directory_ = *std::move(directory);
    process_id = directory_->process_id();
    auto rocksdb = RocksDbResources::Create(config_.rocksdb_block_cache_bytes(), config_.rocksdb_write_buffer_bytes());
    absl::MutexLock lock(&mu_);
    rocksdb_ = std::move(rocksdb);
  } else {
    process_id = NewProcessId();
  }
  if (absl::Status s = BootstrapGlobalStores(process_id); !s.ok()) {
    StopGlobalThread();
    directory_.reset();
    absl::MutexLock lock(&mu_);
    SetState(State::kError);
    first_error_ = s;
    return s;
  }
  absl::MutexLock lock(&mu_);
  process_id_ = process_id;
  for (int i = 0; i < config_.num_stream_threads(); ++i) {
    threads_.push_back(std::make_unique<StreamThread>(i, topology_, config_, &metrics_, clock_, rocksdb_,
                                                      local_stores_.get(), directory_.get(), process_id,
                                                      global_stores_.get()));
  }
  for (auto& thread : threads_) {
    absl::Status s = thread->Start([this](int index, const absl::Status& status) {
      OnThreadExit(index, status);
    });
    if (!s.ok()) {
      mu_.Unlock();
      for (auto& t : threads_) t->RequestStop();
      for (auto& t : threads_) t->Join();
      mu_.Lock();
      threads_.clear();
      SetState(State::kError);
      first_error_ = s;
      return s;
    }
    ++running_threads_;
  }
  if (global_thread_ != nullptr) {
    // Its exit callback takes mu_: it waits for this Start to finish.
    absl::Status s = global_thread_->Start([this](const absl::Status& status) { OnGlobalThreadExit(status); });
    if (!s.ok()) {
      first_error_ = s;
      for (auto& t : threads_) t->RequestStop();
      return s;
    }
  }
  if (config_.num_standby_replicas() > 0 && directory_ != nullptr) {
    standby_ = std::make_unique<StandbyManager>(topology_, config_, process_id, directory_.get(), rocksdb_, &metrics_,
                                                clock_, local_stores_.get());
    if (absl::Status s = standby_->Start(); !s.ok()) {
      Logger("runnel")->warn("standby replicas disabled: {}", s.ToString());
      standby_.reset();
    }
  }
  SetState(State::kRunning);
  compatibility_->RecordOnceStarted([this] {
    if (state() != State::kRunning) return TopologyCompatibility::Progress::kStopped;
    return CheckReadiness().ready ? TopologyCompatibility::Progress::kStarted
                                  : TopologyCompatibility::Progress::kStarting;
  });
  return absl::OkStatus();
}

absl::Status KafkaStreams::BootstrapGlobalStores(const std::string& process_id) {
  if (topology_->global_stores().empty()) return absl::OkStatus();
  RUNNEL_CHECK(directory_ != nullptr) << "global stores without a state directory";
  auto stores = GlobalStores::Open(
      topology_, GlobalStoresOptions{
                     .application_id = config_.application_id(),
                     .dir = directory_->app_dir() + "/global",
                     .rocksdb = rocksdb_,
                     .clock = &clock_,
                     .skip_undeserializable =
                         config_.deserialization_error_mode() == RecordErrorMode::kLogAndContinue,
                     .local_stores = local_stores_.get(),
                     .metrics = &metrics_});
  if (!stores.ok()) return stores.status();
  global_stores_ = *std::move(stores);
  global_thread_ = std::make_unique<GlobalStreamThread>(
      config_, absl::StrCat(config_.client_id_prefix(), "-",
                            process_id),
      global_stores_.get(), &metrics_, clock_);
  // Before any stream thread: a task's first lookup sees the whole table.
  // The thread that follows the topics starts after the stream threads
  // (Start), so that its failure always finds them to stop.
  return global_thread_->Bootstrap();
}

void KafkaStreams::OnGlobalThreadExit(const absl::Status& status) {
  if (status.ok()) return;
  absl::MutexLock lock(&mu_);
  if (first_error_.ok()) {
    first_error_ = Annotate(status, "global thread");
    Logger("runnel")->error("global thread failed; shutting the instance down: {}", status.ToString());
  }
  for (auto& t : threads_) t->RequestStop();
  if (running_threads_ == 0 && state_ != State::kCreated) SetState(State::kError);
}

void KafkaStreams::StopGlobalThread() {
  if (global_thread_ != nullptr) {
    global_thread_->RequestStop();
    global_thread_->Join();
    global_thread_.reset();
  }
  if (global_stores_ != nullptr) {
    global_stores_->Close();
    global_stores_.reset();
  }
}

absl::Status KafkaStreams::SetUncaughtErrorHandler(UncaughtErrorHandler handler) {
  absl::MutexLock lock(&mu_);
  if (state_ != State::kCreated) {
    return absl::FailedPreconditionError("SetUncaughtErrorHandler() must be called before Start()");
  }
  uncaught_handler_ = std::move(handler);
  return absl::OkStatus();
}

void KafkaStreams::OnThreadExit(int index, const absl::Status& status) {
  auto log = Logger("runnel");
  absl::MutexLock lock(&mu_);
  --running_threads_;
  if (status.ok() || !first_error_.ok()) {
    if (running_threads_ == 0) SetState(first_error_.ok() ? State::kNotRunning : State::kError);
    return;
  }
  // Another instance's shutdown_application request stops this one whatever
  // its policy; so does an error while shutting down.
  UncaughtErrorResponse response = UncaughtErrorResponse::kShutdownClient;
  if (state_ == State::kRunning && !runtime::internal::IsApplicationShutdown(status)) {
    response = uncaught_handler_ ? uncaught_handler_(status) : config_.uncaught_error_policy();
  }
  if (response == UncaughtErrorResponse::kReplaceThread) {
    removed_.insert(index);
    auto replacement = AddStreamThreadLocked();
    if (replacement.ok()) {
      metrics_.GetCounter("runnel_stream_threads_replaced_total")->Increment();
      log->error("stream thread {} failed; replaced by stream thread {} (uncaught.error.policy=replace_thread): {}",
                 index + 1, *replacement, status.ToString());
      return;
    }
    log->error("stream thread {} failed and cannot be replaced ({}); shutting the instance down",
               index + 1, replacement.status().ToString());
    response = UncaughtErrorResponse::kShutdownClient;
  }
  first_error_ = status;
  log->error("stream thread {} failed; shutting the {} down: {}", index + 1,
             response == UncaughtErrorResponse::kShutdownApplication ? "application (every instance)" : "instance",
             status.ToString());
  if (response == UncaughtErrorResponse::kShutdownApplication && !shutdown_requester_.joinable()) {
    std::vector<std::string> topics;
    for (const auto& topic : topology_->SourceTopics()) topics.push_back(topic);
    shutdown_requester_ = std::thread([this, topics = std::move(topics)] {
      absl::Status s = runtime::internal::RequestApplicationShutdown(config_, process_id_, topics, absl::Seconds(10),
                                                                    absl::Seconds(60), clock_);
      if (!s.ok()) Logger("runnel")->error("asking the other instances to shut down: {}", s.ToString());
    });
  }
  if (running_threads_ == 0) SetState(State::kError);
  // RequestStop only sets a flag: safe under the lock.
  for (auto& t : threads_) t->RequestStop();
}

void KafkaStreams::RequestShutdown() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kRunning) SetState(State::kPendingShutdown);
  for (auto& t : threads_) t->RequestStop();
}

absl::StatusOr<int> KafkaStreams::AddStreamThread() {
  absl::MutexLock lock(&mu_);
  if (state_ != State::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("AddStreamThread() in state ", ToAbsl(StateName(state_)), "; the instance must be RUNNING"));
  }
  return AddStreamThreadLocked();
}

absl::StatusOr<int> KafkaStreams::AddStreamThreadLocked() {
  const int index = static_cast<int>(threads_.size());
  auto thread = std::make_unique<StreamThread>(index, topology_, config_, &metrics_, clock_, rocksdb_,
                                               local_stores_.get(), directory_.get(), process_id_,
                                               global_stores_.get());
  RUNNEL_RETURN_IF_ERROR(thread->Start([this](int i, const absl::Status& status) { OnThreadExit(i, status); }));
  threads_.push_back(std::move(thread));
  ++running_threads_;
  Logger("runnel")->info("stream thread {} added ({} running)", index + 1, running_threads_);
  return index + 1;
}

absl::StatusOr<int> KafkaStreams::RemoveStreamThread(absl::Duration timeout) {
  StreamThread* victim = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("RemoveStreamThread() in state ", ToAbsl(StateName(state_)), "; the instance must be RUNNING"));
    }
    if (static_cast<int>(threads_.size() - removed_.size()) <= 1) {
      return absl::FailedPreconditionError("the last stream thread cannot be removed; use Close()");
    }
    for (auto it = threads_.rbegin(); it != threads_.rend(); ++it) {
      if (!removed_.contains((*it)->index())) {
        victim = it->get();
        break;
      }
    }
    removed_.insert(victim->index());
  }
  victim->RequestStop();
  const absl::Time deadline = clock_.Now() + timeout;
  while (!victim->stopped()) {
    if (clock_.Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("stream thread ", victim->index() + 1, " still stopping after ",
                                                      absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  victim->Join();
  RUNNEL_RETURN_IF_ERROR(victim->status());
  Logger("runnel")->info("stream thread {} removed", victim->index() + 1);
  return victim->index() + 1;
}

int KafkaStreams::num_stream_threads() const {
  absl::MutexLock lock(&mu_);
  return running_threads_;
}

absl::Status KafkaStreams::Wait() {
  std::vector<StreamThread*> threads;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kCreated) return absl::OkStatus();
  }
  mu_.LockWhen(absl::Condition(
      +[](int* running) { return *running == 0; }, &running_threads_));
  absl::Status result = first_error_;
  for (auto& t : threads_) threads.push_back(t.get());
  mu_.Unlock();
  for (StreamThread* t : threads) t->Join();
  std::thread requester;
  {
    absl::MutexLock lock(&mu_);
    requester = std::move(shutdown_requester_);
  }
  if (requester.joinable()) requester.join();
  // No task reads the global stores any more.
  StopGlobalThread();
  {
    absl::MutexLock lock(&mu_);
    if (result.ok() && !first_error_.ok()) {
      result = first_error_;
      SetState(State::kError);
    }
  }
  if (standby_ != nullptr) standby_->Stop();
  // Every task is closed: another instance may use the directory now.
  directory_.reset();
  StopMetricsServer();
  return result;
}

absl::Status KafkaStreams::Close(absl::Duration timeout) {
  RequestShutdown();
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kCreated) {
      SetState(State::kNotRunning);
      return absl::OkStatus();
    }
    bool done = mu_.AwaitWithTimeout(
        absl::Condition(+[](int* running) { return *running == 0; }, &running_threads_), timeout);
    if (!done) {
      return absl::DeadlineExceededError(
          absl::StrCat("stream threads still running after ", absl::FormatDuration(timeout)));
    }
  }
  return Wait();
}

KafkaStreams::State KafkaStreams::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

std::string KafkaStreams::process_id() const {
  absl::MutexLock lock(&mu_);
  return process_id_;
}

absl::Status KafkaStreams::ReadUncommitted(TaskId task, const std::string& store,
                                           const std::function<absl::Status(const ReadOnlyKeyValueStore&)>& read,
                                           absl::Duration timeout) const {
  auto copy = local_stores_->FindCopy(store, task);
  if (!copy || copy->status == nullptr || copy->status->standby() || copy->status->thread() < 0) {
    return absl::UnavailableError(absl::StrCat("no local stream thread runs task ", task.ToString()));
  }
  StreamThread* thread = nullptr;
  {
    absl::MutexLock lock(&mu_);
    const auto index = static_cast<size_t>(copy->status->thread());
    if (index < threads_.size()) thread = threads_[index].get();
  }
  if (thread == nullptr) return absl::UnavailableError(absl::StrCat("no stream thread ", copy->status->thread()));
  absl::Status s = thread->ReadTaskStore(task, store, read, timeout);
  // The task moved between the lookup and the read.
  if (absl::IsNotFound(s)) return absl::UnavailableError(s.message());
  return s;
}

absl::StatusOr<KafkaStreams::GroupMetadata> KafkaStreams::Metadata() const {
  absl::MutexLock lock(&metadata_mu_);
  if (metadata_admin_ == nullptr) {
    auto admin = kafka::Admin::Create(config_.AdminConfig(), {.clock = &clock_});
    if (!admin.ok()) return admin.status();
    metadata_admin_ = *std::move(admin);
  }
  auto group = metadata_admin_->DescribeGroup(config_.application_id(), absl::Seconds(5));
  if (!group.ok()) return absl::UnavailableError(absl::StrCat("describing the group: ", group.status().message()));
  if (group->state != "Stable") {
    return absl::UnavailableError(absl::StrCat("the group is rebalancing (", group->state, ")"));
  }
  if (tasks_per_subtopology_.empty()) {
    auto tasks = TasksPerSubtopology(*topology_, *metadata_admin_, absl::Seconds(5));
    if (!tasks.ok()) return tasks.status();
    tasks_per_subtopology_ = *std::move(tasks);
  }
  GroupAssignment assignment =
      AssignmentOfGroup(*topology_, *group, config_.sticky_assignment(), tasks_per_subtopology_);
  GroupMetadata out;
  out.tasks_per_subtopology = tasks_per_subtopology_;
  out.endpoints = std::move(assignment.endpoints);
  if (config_.num_standby_replicas() > 0) {
    std::map<TaskId, std::string> stateful;
    std::set<std::string> processes;
    for (const auto& [process, endpoint] : out.endpoints) processes.insert(process);
    for (const auto& [task, process] : assignment.active) {
      if (HasStandbyStores(*topology_, task.subtopology)) stateful[task] = process;
    }
    out.standbys = PlaceStandbys(stateful, processes, config_.num_standby_replicas());
  }
  out.active = std::move(assignment.active);
  return out;
}

absl::StatusOr<std::unique_ptr<ReadOnlyKeyValueStore>> KafkaStreams::Store(std::string_view name) const {
  auto it = topology_->stores().find(std::string(name));
  if (it == topology_->stores().end()) {
    return absl::InvalidArgumentError(absl::StrCat("the topology has no store '", ToAbsl(name), "'"));
  }
  if (it->second.kind != StoreSpec::Kind::kRocksDb) {
    return absl::FailedPreconditionError(
        absl::StrCat("store '", ToAbsl(name), "' is in memory and cannot be queried from other threads"));
  }
  return MakeLocalStoreView(std::string(name), local_stores_);
}

int64_t KafkaStreams::processed() const {
  return metrics_.CounterTotal("runnel_records_processed_total");
}

void KafkaStreams::SetState(State state) {
  if (state_ == state) return;
  Logger("runnel")->info("state {} -> {}", StateName(state_), StateName(state));
  state_ = state;
}

std::string_view KafkaStreams::StateName(State state) {
  switch (state) {
    case State::kCreated: return "CREATED";
    case State::kRunning: return "RUNNING";
    case State::kPendingShutdown: return "PENDING_SHUTDOWN";
    case State::kNotRunning: return "NOT_RUNNING";
    case State::kError: return "ERROR";
  }
  return "?";
}

absl::Status RunUntilShutdownSignal(KafkaStreams& streams, const std::function<absl::Status()>& after_start,
                                    const std::function<void()>& before_close) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  RUNNEL_RETURN_IF_ERROR(streams.Start());
  if (after_start) {
    if (absl::Status s = after_start(); !s.ok()) {
      if (absl::Status closed = streams.Close(); !closed.ok()) {
        Logger("runnel")->warn("closing after a failed start: {}", closed.ToString());
      }
      return s;
    }
  }
  const timespec tick{0, 200'000'000};
  while (true) {
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      Logger("runnel")->info("received {}; shutting down cleanly",
                             sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    auto state = streams.state();
    if (state == KafkaStreams::State::kError || state == KafkaStreams::State::kNotRunning) break;
  }
  if (before_close) before_close();
  return streams.Close();
}

}  // namespace runnel
