#include "runnel/runtime/stream_thread.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runnel/common/status.h"
#include "runnel/common/logging.h"
#include "runnel/runtime/dead_letter.h"
#include "runnel/runtime/internal/shutdown_request.h"
#include "runnel/runtime/task_assignment.h"

namespace runnel {
namespace {

// How long the final commit of a clean shutdown may wait for deliveries.
constexpr absl::Duration kShutdownFlushTimeout = absl::Seconds(60);
// A periodic commit waits this long for deliveries before postponing.
constexpr absl::Duration kCommitFlushTimeout = absl::Seconds(10);
// How often the consumer lag gauges are brought up to date.
constexpr absl::Duration kLagInterval = absl::Milliseconds(200);

absl::flat_hash_set<std::string> ChangelogTopics(const Topology& topology, const std::string& application_id) {
  absl::flat_hash_set<std::string> topics;
  for (const auto& [name, spec] : topology.stores()) {
    if (spec.logging) topics.insert(ChangelogTopicName(application_id, name));
  }
  return topics;
}

}  // namespace

StreamThread::StreamThread(int index, std::shared_ptr<const Topology> topology,
                           const StreamsConfig& config, MetricsRegistry* metrics, const Clock& clock,
                           std::shared_ptr<RocksDbResources> rocksdb, LocalStores* local_stores,
                           StateDirectory* directory, std::string process_id,
                           const GlobalStores* global_stores)
    : index_(index),
      name_(absl::StrCat(config.client_id_prefix(),
                         "-StreamThread-", index + 1)),
      eos_(config.processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2),
      directory_(directory),
      transactional_id_(absl::StrCat(config.application_id(), "-", process_id, "-", index + 1)),
      client_id_(ThreadClientId(config.client_id_prefix(), process_id, index, config.application_server())),
      topology_(std::move(topology)),
      config_(config),
      metrics_(metrics),
      clock_(clock),
      collector_(name_, eos_, ChangelogTopics(*topology_, config.application_id()), clock, stop_),
      rocksdb_(std::move(rocksdb)),
      local_stores_(local_stores),
      global_stores_(global_stores),
      cache_budget_(config.cache_max_bytes() / config.num_stream_threads()) {
  MetricLabels labels{{"thread", name_}};
  processed_ = metrics_->GetCounter("runnel_records_processed_total", labels);
  commits_ = metrics_->GetCounter("runnel_commits_total", labels);
  rewinds_ = metrics_->GetCounter("runnel_rewinds_total", labels);
  aborts_ = metrics_->GetCounter("runnel_transactions_aborted_total", labels);
  restored_records_ = metrics_->GetCounter("runnel_restored_records_total", labels);
  restored_bytes_ = metrics_->GetCounter("runnel_restored_bytes_total", labels);
  restore_micros_ = metrics_->GetCounter("runnel_restore_microseconds_total", labels);
  wiped_stores_ = metrics_->GetCounter("runnel_stores_wiped_total", labels);
  rebalances_ = metrics_->GetCounter("runnel_rebalances_total", labels);
  commit_latency_ = metrics_->GetHistogram("runnel_commit_latency_seconds", labels, CommitLatencyBuckets());
  poll_latency_ = metrics_->GetHistogram("runnel_poll_latency_seconds", labels, CommitLatencyBuckets());
  if (eos_) {
    transaction_commit_latency_ =
        metrics_->GetHistogram("runnel_transaction_commit_latency_seconds", labels, CommitLatencyBuckets());
  }
  lags_ = std::make_shared<runtime::internal::PartitionLags>(name_);
  metrics_->AddCollector([lags = lags_](std::vector<MetricSample>* out) { lags->Collect(out); });
}

StreamThread::~StreamThread() {
  RequestStop();
  Join();
}

absl::Status StreamThread::Start(std::function<void(int, const absl::Status&)> on_exit) {
  on_exit_ = std::move(on_exit);
  RUNNEL_RETURN_IF_ERROR(CreateProducer());
  kafka::ClientConfig consumer_config = config_.ConsumerConfig(absl::StrCat(client_id_, "-consumer"));
  // Static membership: one member per thread, as Kafka Streams does.
  if (auto it = consumer_config.find("group.instance.id"); it != consumer_config.end()) {
    it->second = absl::StrCat(it->second, "-", index_ + 1);
  }
  auto consumer = kafka::Consumer::Create(consumer_config, {.listener = this, .clock = &clock_});
  if (!consumer.ok()) return Annotate(consumer.status(), "creating the consumer");
  consumer_ = *std::move(consumer);
  task_input_ = std::make_unique<ConsumerTaskInput>(consumer_.get());
  deserialization_handler_ = MakeDeserializationErrorHandler(
      config_.deserialization_error_mode(), config_.application_id(), config_.dead_letter_topic(),
      &collector_, metrics_, clock_);
  processing_handler_ = MakeProcessingErrorHandler(config_.processing_error_mode(), config_.application_id(),
                                                   config_.dead_letter_topic(), &collector_, metrics_, clock_);
  tasks_ = std::make_unique<TaskManager>(
      name_, topology_, [this](TaskId id) { return NewTask(id); }, [this] { return NewRestoreConsumer(); },
      task_input_.get(), directory_);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status StreamThread::CreateProducer() {
  kafka::ClientConfig config = config_.ProducerConfig(absl::StrCat(client_id_, "-producer"));
  if (eos_) config["transactional.id"] = transactional_id_;
  // A replaced (fenced or failed) producer goes first: its transactional.id
  // is the new one's, and its last delivery reports count against it.
  collector_.Attach(nullptr);
  collector_producer_.reset();
  producer_.reset();
  auto producer = kafka::Producer::Create(
      config, {.on_delivery = [this](const kafka::DeliveryReport& report) { collector_.OnDelivery(report); },
               .clock = &clock_});
  if (!producer.ok()) return Annotate(producer.status(), "creating the producer");
  producer_ = *std::move(producer);
  collector_producer_ = std::make_unique<KafkaCollectorProducer>(producer_.get());
  collector_.Attach(collector_producer_.get());
  if (!eos_) return absl::OkStatus();
  // Fences any earlier producer with this transactional.id (a previous run
  // of this instance) and aborts its open transaction.
  auto log = Logger("runnel");
  for (absl::Duration backoff = absl::Milliseconds(200);; backoff = std::min(backoff * 2, absl::Seconds(5))) {
    absl::Status s = producer_->InitTransactions(absl::Seconds(30));
    if (s.ok()) return absl::OkStatus();
    if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) {
      return Annotate(s, absl::StrCat("initializing transactions for ", transactional_id_));
    }
    if (stop_.load()) return absl::CancelledError("stopping while initializing transactions");
    log->warn("{}: initializing transactions: {}; retrying", name_, s.ToString());
    absl::SleepFor(backoff);
  }
}

void StreamThread::Join() {
  if (thread_.joinable()) thread_.join();
}

absl::Status StreamThread::status() const {
  absl::MutexLock lock(&mu_);
  return final_status_;
}

void StreamThread::Run() {
  auto log = Logger("runnel");
  log->info("{} started", name_);
  absl::Status s = RunLoop();
  {
    // Reads still queued get an answer; later ones are refused at once.
    absl::MutexLock lock(&reads_mu_);
    serving_reads_ = false;
  }
  ServeReads();
  bool clean = false;  // the final commit ran
  if (absl::IsCancelled(s) && stop_.load()) {
    // Stopped while waiting for an unreachable broker: nothing more can be
    // acknowledged, so commit nothing; a restart processes from the last
    // commit.
    log->warn("{}: stopped while the broker was unreachable; uncommitted records will be "
              "processed again on restart", name_);
    s = absl::OkStatus();
  } else if (s.ok()) {
    // Clean shutdown: everything processed is flushed and committed before
    // the group is left, so a restart neither loses nor repeats records.
    s = CommitFinal();
    clean = s.ok();
    if (!s.ok()) log->error("{}: final commit failed: {}", name_, s.ToString());
  } else {
    log->error("{} stopping on error: {}", name_, s.ToString());
  }
  // producer_ is null only if replacing a failed producer failed.
  if (eos_ && collector_.in_transaction() && producer_ != nullptr) {
    // Nothing of an unfinished transaction may stay: abort it (if the
    // broker is gone, the transaction times out or the next run of this
    // instance fences it).
    absl::Status aborted = producer_->AbortTransaction(absl::Seconds(10));
    if (!aborted.ok()) log->warn("{}: aborting the open transaction: {}", name_, aborted.ToString());
    collector_.TransactionAborted();
  }
  // After an error (or a stop without a final commit) the tasks close
  // dirty before the consumer leaves the group: its revocation callback
  // would otherwise commit their offsets, under exactly-once in a new
  // transaction without the output the aborted one held, losing it.
  if (!clean) tasks_->CloseAll();
  absl::Status closed = consumer_->Close();
  if (!closed.ok()) log->warn("{}: closing the consumer: {}", name_, closed.ToString());
  tasks_->CloseAll();
  // Records produced by a failed task's predecessors still get delivered.
  if (producer_ != nullptr) {
    absl::Status flushed = collector_.Flush(absl::Seconds(30));
    if (!flushed.ok()) log->warn("{}: final flush: {}", name_, flushed.ToString());
  }
  lags_->Clear();
  {
    absl::MutexLock lock(&mu_);
    final_status_ = s;
  }
  log->info("{} stopped ({} records processed)", name_, processed_->value());
  if (on_exit_) on_exit_(index_, s);
  stopped_.store(true);
}

absl::Status StreamThread::RunLoop() {
  std::vector<std::string> topics;
  for (const auto& t : topology_->SourceTopics()) topics.push_back(t);
  RUNNEL_RETURN_IF_ERROR(consumer_->Subscribe(topics));

  std::vector<kafka::ConsumedRecord> batch;
  batch.reserve(config_.max_poll_records());
  std::vector<std::pair<TopicPartition, Offset>> ends;
  absl::Time last_commit = clock_.Now();
  const absl::Duration interval = config_.commit_interval();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (tasks_->restoring()) RUNNEL_RETURN_IF_ERROR(tasks_->RestoreStep());
    batch.clear();
    ends.clear();
    const absl::Time poll_start = clock_.Now();
    RUNNEL_RETURN_IF_ERROR(consumer_->Poll(tasks_->restoring() ? absl::ZeroDuration() : config_.poll_timeout(),
                                           config_.max_poll_records(), batch, &ends));
    const absl::Time polled = clock_.Now();
    poll_latency_->Observe(absl::ToDoubleSeconds(polled - poll_start));
    if (!rebalance_error_.ok()) return rebalance_error_;
    for (auto& record : batch) {
      StreamTask* task = tasks_->TaskFor(record.topic(), record.partition());
      // A record of a partition revoked during this poll: its new owner
      // reads it again from the committed offset.
      if (task != nullptr) task->AddRecord(std::move(record));
    }
    for (const auto& [tp, end] : ends) {
      if (StreamTask* task = tasks_->TaskFor(tp.topic, tp.partition)) task->MarkEndOfPartition(tp, end);
    }
    ServeReads();
    bool commit_requested = false;
    if (absl::Status s = ProcessTasks(commit_requested); !s.ok()) {
      // A send that broke the transaction is recovered from; any other
      // processing error stops the thread.
      if (!eos_ || collector_.transaction_error().ok()) return s;
      RUNNEL_RETURN_IF_ERROR(RecoverFromTransactionError(collector_.transaction_error()));
      continue;
    }
    if (commit_requested || clock_.Now() - last_commit >= interval) {
      RUNNEL_RETURN_IF_ERROR(Commit(kCommitFlushTimeout));
      last_commit = clock_.Now();
    }
    UpdateLags(polled);
  }
  return absl::OkStatus();
}

void StreamThread::UpdateLags(absl::Time now) {
  if (now - last_lag_update_ < kLagInterval) return;
  last_lag_update_ = now;
  positions_scratch_.clear();
  for (const auto& [id, task] : tasks_->tasks()) task->AppendPositions(positions_scratch_);
  for (const auto& [tp, position] : positions_scratch_) {
    // A partition not fetched yet (a restoring task's input is paused) has
    // no end yet: no series until it has one.
    if (std::optional<Offset> end = consumer_->CachedHighWatermark(tp)) {
      lags_scratch_.emplace_back(tp, end->value() - position.value());
    }
  }
  lags_->Publish(lags_scratch_);
}

absl::Status StreamThread::ReadTaskStore(TaskId task, const std::string& store,
                                         const std::function<absl::Status(const ReadOnlyKeyValueStore&)>& read,
                                         absl::Duration timeout) {
  auto request = std::make_shared<StoreRead>(StoreRead{.task = task, .store = &store, .read = &read});
  absl::MutexLock lock(&reads_mu_);
  if (!serving_reads_) return absl::UnavailableError(absl::StrCat(name_, " has stopped"));
  reads_.push_back(request);
  if (!reads_mu_.AwaitWithTimeout(absl::Condition(&request->done), timeout)) {
    request->abandoned = true;
    return absl::DeadlineExceededError(
        absl::StrCat("task ", task.ToString(), " did not serve the read within ", absl::FormatDuration(timeout)));
  }
  return request->result;
}

void StreamThread::ServeReads() {
  absl::MutexLock lock(&reads_mu_);
  while (!reads_.empty()) {
    std::shared_ptr<StoreRead> r = std::move(reads_.front());
    reads_.pop_front();
    if (r->abandoned) continue;
    StreamTask* task = tasks_ != nullptr ? tasks_->Find(r->task) : nullptr;
    if (!serving_reads_) {
      r->result = absl::UnavailableError(absl::StrCat(name_, " has stopped"));
    } else if (task == nullptr) {
      r->result = absl::NotFoundError(absl::StrCat(name_, " has no task ", r->task.ToString()));
    } else if (task->restoring()) {
      r->result = absl::UnavailableError(absl::StrCat("task ", r->task.ToString(), " is restoring"));
    } else if (KeyValueStore* kv = task->GetKeyValueStore(*r->store); kv == nullptr) {
      r->result = absl::NotFoundError(absl::StrCat("task ", r->task.ToString(), " has no store '", *r->store, "'"));
    } else {
      r->result = (*r->read)(*kv);
    }
    r->done = true;
  }
}

absl::Status StreamThread::ProcessTasks(bool& commit_requested) {
  for (const auto& [id, task] : tasks_->tasks()) {
    if (task->restoring()) continue;
    RUNNEL_RETURN_IF_ERROR(task->PunctuateWallClock());
    if (task->queued() == 0) continue;
    int64_t before = task->processed_count();
    absl::Status s = task->Process();
    processed_->Increment(task->processed_count() - before);
    if (!s.ok()) return s;
    commit_requested |= task->TakeCommitRequest();
  }
  return absl::OkStatus();
}

absl::Status StreamThread::Commit(absl::Duration flush_timeout) {
  const absl::Time start = clock_.Now();
  const int64_t commits = commits_->value();
  absl::Status s = eos_ ? CommitExactlyOnce(flush_timeout) : CommitAtLeastOnce(flush_timeout);
  // Only commits that committed something: an empty or postponed one says
  // nothing about the commit path.
  if (commits_->value() != commits) commit_latency_->Observe(absl::ToDoubleSeconds(clock_.Now() - start));
  return s;
}

absl::Status StreamThread::RetryTransactional(std::string_view what, absl::Duration timeout,
                                              const std::function<absl::Status()>& call) {
  const absl::Time deadline = clock_.Now() + timeout;
  for (absl::Duration backoff = absl::Milliseconds(100);; backoff = std::min(backoff * 2, absl::Seconds(2))) {
    absl::Status s = call();
    if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) return s;
    if (clock_.Now() + backoff >= deadline) return s;
    Logger("runnel")->warn("{}: {}: {}; retrying", name_, what, s.ToString());
    absl::SleepFor(backoff);
  }
}

absl::Status StreamThread::CommitExactlyOnce(absl::Duration timeout) {
  if (absl::Status s = tasks_->FlushStores(); !s.ok()) {
    if (collector_.transaction_error().ok()) return s;
    return RecoverFromTransactionError(collector_.transaction_error());
  }
  std::vector<std::pair<TopicPartition, Offset>> offsets = tasks_->UncommittedOffsets();
  if (offsets.empty() && !collector_.in_transaction()) return absl::OkStatus();
  if (absl::Status s = collector_.BeginTransactionIfNeeded(); !s.ok()) return RecoverFromTransactionError(s);
  if (!offsets.empty()) {
    auto metadata = consumer_->GroupMetadata();
    absl::Status sent = RetryTransactional("sending offsets to the transaction", timeout, [&] {
      return producer_->SendOffsetsToTransaction(offsets, metadata.get(), timeout);
    });
    if (!sent.ok()) return RecoverFromTransactionError(sent);
  }
  const absl::Time commit_start = clock_.Now();
  absl::Status committed = RetryTransactional("committing the transaction", timeout,
                                              [&] { return producer_->CommitTransaction(timeout); });
  if (!committed.ok()) return RecoverFromTransactionError(committed);
  transaction_commit_latency_->Observe(absl::ToDoubleSeconds(clock_.Now() - commit_start));
  collector_.TransactionCommitted();
  // The commit flushed every record; this waits for the last delivery
  // callbacks to finish recording changelog offsets.
  absl::Status flushed = collector_.Flush(absl::Seconds(10));
  if (!flushed.ok()) Logger("runnel")->warn("{}: after commit: {}", name_, flushed.ToString());
  // Failing here leaves RocksDB behind the changelog, which a restore from
  // the store's last offset repairs: stop the thread.
  RUNNEL_RETURN_IF_ERROR(tasks_->CommitStores(collector_.TakeDeliveredChangelogOffsets()));
  tasks_->MarkCommitted(offsets);
  commits_->Increment();
  return absl::OkStatus();
}

absl::Status StreamThread::RecoverFromTransactionError(const absl::Status& cause,
                                                       const std::vector<TopicPartition>& drop) {
  auto log = Logger("runnel");
  aborts_->Increment();
  // Fenced (another producer owns the transactional.id, or our group
  // generation is stale) or fatal: this producer can do nothing more.
  bool replace = absl::IsFailedPrecondition(cause) || absl::IsInternal(cause);
  log->warn("{}: transaction failed ({}); {}; reprocessing from the last commit", name_, cause.ToString(),
            replace ? "replacing the producer" : "aborting it");
  if (!replace && collector_.in_transaction()) {
    absl::Status aborted = RetryTransactional("aborting the transaction", absl::Seconds(30),
                                              [&] { return producer_->AbortTransaction(absl::Seconds(30)); });
    if (!aborted.ok()) {
      log->warn("{}: abort failed ({}); replacing the producer", name_, aborted.ToString());
      replace = true;
    }
  }
  collector_.TransactionAborted();
  std::vector<TopicPartition> keep;
  for (const auto& tp : tasks_->AssignedPartitions()) {
    if (std::find(drop.begin(), drop.end(), tp) == drop.end()) keep.push_back(tp);
  }
  // Every task's uncommitted state (caches, pending store writes, queued
  // records, stream time) belonged to the failed transaction.
  tasks_->CloseAll();
  if (replace) RUNNEL_RETURN_IF_ERROR(CreateProducer());
  RUNNEL_RETURN_IF_ERROR(tasks_->Assign(keep));
  return tasks_->SeekToCommitted(keep);
}

absl::Status StreamThread::CommitFinal() {
  RUNNEL_RETURN_IF_ERROR(Commit(kShutdownFlushTimeout));
  if (eos_) return absl::OkStatus();
  // Under at-least-once the commit's acknowledgement had processors write
  // their progress markers into the stores' caches, which closing drops:
  // send them now. A marker left behind only repeats output after the
  // restart, but a clean close should repeat nothing.
  RUNNEL_RETURN_IF_ERROR(tasks_->FlushStores());
  absl::Status flushed = collector_.Flush(kShutdownFlushTimeout);
  if (!flushed.ok()) {
    Logger("runnel")->warn("{}: sending the final progress markers: {}", name_, flushed.ToString());
  }
  return absl::OkStatus();
}

absl::Status StreamThread::CommitAtLeastOnce(absl::Duration flush_timeout) {
  RUNNEL_RETURN_IF_ERROR(tasks_->FlushStores());
  std::vector<std::pair<TopicPartition, Offset>> offsets = tasks_->UncommittedOffsets();
  if (offsets.empty() && collector_.in_flight() == 0) return absl::OkStatus();
  auto log = Logger("runnel");
  absl::Status flushed = collector_.Flush(flush_timeout);
  if (absl::IsDeadlineExceeded(flushed)) {
    log->warn("{}: {} records not yet acknowledged (broker unreachable?); commit postponed", name_,
              collector_.in_flight());
    return absl::OkStatus();
  }
  if (!flushed.ok()) {
    log->error("{}: a record could not be delivered ({}); rewinding to the last commit", name_,
               flushed.ToString());
    rewinds_->Increment();
    return tasks_->RewindToCommitted();
  }
  // Everything sent so far is acknowledged: processors may now persist the
  // progress that output stands for (TaskContext::OnSentRecordsAcknowledged).
  RUNNEL_RETURN_IF_ERROR(tasks_->SentRecordsAcknowledged());
  if (offsets.empty()) return absl::OkStatus();
  absl::Status committed = consumer_->Commit(offsets);
  if (!committed.ok()) {
    log->warn("{}: offset commit failed, will retry: {}", name_, committed.ToString());
    return absl::OkStatus();
  }
  tasks_->MarkCommitted(offsets);
  commits_->Increment();
  // The collector was flushed: every changelog record sent so far is
  // delivered, and the delivery reports say where each partition ends.
  // (Querying the watermarks instead cost a broker round trip per changelog
  // partition per commit: seconds per commit with a few dozen partitions.)
  tasks_->WriteCheckpoints(collector_.TakeDeliveredChangelogOffsets());
  return absl::OkStatus();
}

void StreamThread::KeepRebalanceError(const absl::Status& s) {
  if (!s.ok() && rebalance_error_.ok()) rebalance_error_ = s;
}

void StreamThread::OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) {
  Logger("runnel")->info("{}: {} partitions revoked", name_, partitions.size());
  if (group_state_.load() == GroupState::kAssigned) group_state_.store(GroupState::kRebalancing);
  lags_->Remove(partitions);
  KeepRebalanceError(tasks_->Revoke(partitions, [this] { return CommitFinal(); }));
}

void StreamThread::OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) {
  Logger("runnel")->info("{}: {} partitions assigned", name_, partitions.size());
  rebalances_->Increment();
  if (absl::Status s = tasks_->Assign(partitions); !s.ok()) rebalance_error_ = s;
  // The lag of the new partitions from the next poll on.
  last_lag_update_ = absl::InfinitePast();
  if (assignment_follows_) {
    assignment_follows_ = false;
    return;
  }
  group_state_.store(GroupState::kAssigned);
}

std::vector<TopicPartition> StreamThread::ChooseAssignment(const std::vector<TopicPartition>& offered) {
  if (!config_.sticky_assignment()) return offered;
  auto log = Logger("runnel");
  auto fail = [&](const absl::Status& s) {
    if (rebalance_error_.ok()) rebalance_error_ = Annotate(s, "computing the sticky task assignment");
    return std::vector<TopicPartition>{};
  };
  if (admin_ == nullptr) {
    auto admin = kafka::Admin::Create(config_.AdminConfig(), {.clock = &clock_});
    if (!admin.ok()) return fail(admin.status());
    admin_ = *std::move(admin);
  }
  std::map<std::string, int32_t> topic_partitions;
  // A repartition topic Start created a moment ago may not be in the
  // broker's metadata yet (NotFound): asked again for up to ~10 s, counted
  // in attempts since a test's manual clock does not move here.
  auto partition_count = [this](const std::string& topic) -> absl::StatusOr<int32_t> {
    for (int attempt = 1;; ++attempt) {
      auto count = collector_.PartitionCount(topic);
      if (count.ok() || !absl::IsNotFound(count.status()) || attempt >= 100 || stop_.load()) return count;
      absl::SleepFor(absl::Milliseconds(100));
    }
  };
  auto tasks_per_subtopology = TasksPerSubtopology(*topology_, partition_count, &topic_partitions);
  if (!tasks_per_subtopology.ok()) return fail(tasks_per_subtopology.status());
  // The members of this generation: once the group is Stable, every member
  // reads the same list (see task_assignment.h). Never fall back to what
  // range offered: members mixing the two could both own a task.
  const std::string me = absl::StrCat(client_id_, "-consumer");
  std::vector<std::string> members;
  const absl::Time deadline = clock_.Now() + absl::Seconds(60);
  while (true) {
    auto group = admin_->DescribeGroup(config_.application_id(), absl::Seconds(10));
    if (group.ok()) {
      // Another instance asks the whole application to stop (in whatever
      // state the group is: the request lingers only briefly).
      std::vector<std::string> client_ids;
      for (const auto& m : group->members) client_ids.push_back(m.client_id);
      if (auto requester = runtime::internal::FindShutdownRequest(client_ids)) {
        log->error("{}: {}", name_, runtime::internal::ApplicationShutdownError(*requester).ToString());
        return fail(runtime::internal::ApplicationShutdownError(*requester));
      }
      // A next rebalance has begun (it waits for this member to rejoin, so
      // waiting here would stall it): take nothing; its assignment follows.
      if (group->state != "Stable") {
        log->info("{}: group {} while assigning; waiting for the next assignment", name_, group->state);
        assignment_follows_ = true;
        return {};
      }
      for (const auto& m : group->members) members.push_back(m.client_id);
      if (std::find(members.begin(), members.end(), me) == members.end()) {
        log->warn("{}: not a member of the stable group (fenced?); waiting to rejoin", name_);
        assignment_follows_ = true;
        return {};
      }
      break;
    }
    if (stop_.load()) return {};
    if (clock_.Now() >= deadline) return fail(group.status());
    log->warn("{}: describing the group: {}; retrying", name_, group.status().ToString());
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::vector<TopicPartition> mine;
  std::vector<std::string> tasks;
  for (const auto& [task, member] : AssignTasks(members, *tasks_per_subtopology)) {
    if (member != me) continue;
    tasks.push_back(task.ToString());
    for (const auto& topic : topology_->subtopologies()[task.subtopology].source_topics) {
      if (task.partition.value() < topic_partitions[topic]) mine.push_back({topic, task.partition});
    }
  }
  log->info("{}: sticky assignment over {} members: tasks [{}] ({} partitions; range offered {})", name_,
            members.size(), absl::StrJoin(tasks, " "), mine.size(), offered.size());
  return mine;
}

absl::StatusOr<std::unique_ptr<StreamTask>> StreamThread::NewTask(TaskId id) {
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<ProcessorGraph> graph, topology_->CreateTaskGraph(id.subtopology));
  StateEnv state{.application_id = config_.application_id(),
                 .app_dir = absl::StrCat(config_.state_dir(), "/", config_.application_id()),
                 .rocksdb = rocksdb_,
                 .cache_budget = &cache_budget_,
                 .changelog = &collector_,
                 .restored_records = restored_records_,
                 .restored_bytes = restored_bytes_,
                 .restore_micros = restore_micros_,
                 .wiped_stores = wiped_stores_,
                 .local_stores = local_stores_,
                 .thread_index = index_,
                 .directory = directory_,
                 .exactly_once = eos_,
                 .metrics = metrics_,
                 .global_stores = global_stores_,
                 .clock = &clock_,
                 .stopping = &stop_};
  auto task = std::make_unique<StreamTask>(id, config_.application_id(), std::move(graph), &collector_,
                                           deserialization_handler_.get(), processing_handler_.get(), clock_,
                                           &topology_->stores(), topology_->subtopologies()[id.subtopology].stores,
                                           std::move(state));
  task->SetMaxTaskIdle(config_.max_task_idle_ms());
  return task;
}

absl::StatusOr<std::unique_ptr<ChangelogConsumer>> StreamThread::NewRestoreConsumer() {
  kafka::ClientConfig restore_config = config_.ConsumerConfig(absl::StrCat(client_id_, "-restore-consumer"));
  // A caught-up changelog answers at once instead of after the broker's
  // default 500 ms fetch wait: a failover's tail restore is that much
  // shorter.
  restore_config["fetch.wait.max.ms"] = "20";
  return CreateChangelogConsumer(restore_config, clock_);
}

void StreamThread::OnPartitionsLost(const std::vector<TopicPartition>& partitions) {
  Logger("runnel")->warn("{}: {} partitions lost; closing their tasks without committing", name_,
                         partitions.size());
  if (group_state_.load() == GroupState::kAssigned) group_state_.store(GroupState::kRebalancing);
  lags_->Remove(partitions);
  if (eos_) {
    // The open transaction holds the lost tasks' work with everyone
    // else's: abort it, and every task restarts from the last commit.
    KeepRebalanceError(RecoverFromTransactionError(absl::AbortedError("partitions lost"), partitions));
    return;
  }
  tasks_->Lose(partitions);
}

}  // namespace runnel
