#ifndef RUNNEL_RUNTIME_STREAM_THREAD_H_
#define RUNNEL_RUNTIME_STREAM_THREAD_H_

// StreamThread: one consumer and one producer, the loop that drives the
// tasks of the partitions its consumer is assigned, the commit protocol and
// the thread's state. Its tasks are kept by a TaskManager (assignment,
// restore, closing) and everything they send goes through a RecordCollector
// (sends, delivery accounting, the open transaction); see
// docs/architecture.md, "Threads and ownership".
//
// Loop: (restore slice) -> poll -> route records to tasks -> punctuate and
// process -> every commit.interval.ms commit. Commit (at-least-once) = flush
// the tasks' stores (record caches forward their results, changelog records
// are sent, memtables go to disk) -> flush the collector (every output,
// changelog and dead-letter record sent so far is acknowledged) -> commit
// the next offsets of processed records -> write each stateful task's
// checkpoint (changelog end offsets). If a flush reports a failed delivery,
// the thread rewinds its partitions to the committed offsets and processes
// again, so nothing is lost (records may repeat, as at-least-once allows).
// While the broker is down, sends wait, flushes time out and commits are
// postponed, all logged; processing resumes when the broker is back.
//
// Exactly-once (processing.guarantee=exactly_once_v2, EOS v2): the thread's
// producer is transactional (transactional.id
// <application.id>-<process id>-<thread>). The first send after a commit
// opens a transaction; a commit flushes the stores (changelog records join
// the transaction), adds the input offsets with the consumer's group
// metadata (which fences a zombie whose generation is stale), and commits.
// Only then do the stores write their pending state and changelog offsets
// to RocksDB. Any failure of the transaction (abortable, fenced, fatal,
// broker gone past the commit's patience) aborts it or replaces the
// producer, closes every task without committing and reopens the assigned
// ones at their committed offsets: nothing of the failed transaction
// survives anywhere, and its input is processed again.
//
// Ownership: KafkaStreams owns its threads. Threading: Start/RequestStop/Join
// from the owner; everything else runs on the thread itself (rebalance
// callbacks come from inside Poll on it). Lifecycle: created -> Start ->
// running -> RequestStop -> (final commit, leave group) -> Join.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/metrics.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"
#include "runnel/runtime/internal/partition_lags.h"
#include "runnel/runtime/record_collector.h"
#include "runnel/runtime/state_directory.h"
#include "runnel/runtime/streams_config.h"
#include "runnel/runtime/stream_task.h"
#include "runnel/runtime/task_manager.h"
#include "runnel/topology/topology.h"

namespace runnel {

class StreamThread final : private kafka::RebalanceListener {
 public:
  // `rocksdb` is the process's RocksDB memory budget, shared by all threads.
  // `local_stores` (owned by KafkaStreams, outlives the thread) gets the
  // tasks' RocksDB stores for read-only queries.
  // `directory` (may be null for a topology without stores) and
  // `process_id` name this instance (see StateDirectory). `global_stores`
  // (may be null; owned by KafkaStreams, open until the thread has stopped)
  // are read by the tasks.
  StreamThread(int index, std::shared_ptr<const Topology> topology, const StreamsConfig& config,
               MetricsRegistry* metrics, const Clock& clock, std::shared_ptr<RocksDbResources> rocksdb,
               LocalStores* local_stores, StateDirectory* directory, std::string process_id,
               const GlobalStores* global_stores);
  ~StreamThread() override;

  // Creates the Kafka clients (config errors come back here, synchronously)
  // and starts the thread. `on_exit` is called from the thread as it ends.
  absl::Status Start(std::function<void(int index, const absl::Status&)> on_exit);
  void RequestStop() { stop_.store(true); }
  void Join();
  // The thread's final status (after Join): OK for a clean stop.
  absl::Status status() const;
  // True once the thread has finished (its on_exit has run).
  bool stopped() const { return stopped_.load(); }

  int index() const { return index_; }
  int64_t processed() const { return processed_->value(); }

  // Where the thread is in the group's rebalances, for readiness (any
  // thread): kJoining until its first assignment completed, kRebalancing
  // from a revocation (or a lost assignment) to the next assignment, and
  // kAssigned after one (with or without partitions: an instance with more
  // threads than partitions legitimately gets none). The cooperative
  // protocol announces no start of a rebalance that revokes nothing.
  enum class GroupState { kJoining, kRebalancing, kAssigned };
  GroupState group_state() const { return group_state_.load(); }

  // Interactive queries' uncommitted reads: runs `read` on this thread,
  // between two polls, against task `task`'s store `store` as processors
  // see it (record cache and open transaction included). NotFound when the
  // thread has no such task, Unavailable while it restores or after the
  // thread stopped, DeadlineExceeded after `timeout`. Any thread may call
  // it; `read` never runs after this returns.
  absl::Status ReadTaskStore(TaskId task, const std::string& store,
                             const std::function<absl::Status(const ReadOnlyKeyValueStore&)>& read,
                             absl::Duration timeout);

 private:
  void Run();
  absl::Status RunLoop();
  absl::Status ProcessTasks(bool& commit_requested);
  absl::Status Commit(absl::Duration flush_timeout);
  absl::Status CommitAtLeastOnce(absl::Duration flush_timeout);
  // The last commit before the tasks close (shutdown, revocation); under
  // at-least-once it also sends the progress markers the commit let
  // processors write.
  absl::Status CommitFinal();
  // Creates (or replaces) the producer and attaches it to the collector;
  // under EOS also initializes its transactions, retrying while the broker
  // is unreachable.
  absl::Status CreateProducer();
  absl::Status CommitExactlyOnce(absl::Duration timeout);
  // Retries a transactional call while it fails retriably, up to `timeout`.
  absl::Status RetryTransactional(std::string_view what, absl::Duration timeout,
                                  const std::function<absl::Status()>& call);
  // After `cause` broke the open transaction: abort it (or replace the
  // producer), close every task without committing, reopen the tasks of the
  // assigned partitions except `drop`, and seek them to the committed
  // offsets.
  absl::Status RecoverFromTransactionError(const absl::Status& cause,
                                           const std::vector<TopicPartition>& drop = {});
  // The task manager's TaskFactory: task `id` with this thread's collector,
  // error handlers, cache budget and stores' env.
  absl::StatusOr<std::unique_ptr<StreamTask>> NewTask(TaskId id);
  absl::StatusOr<std::unique_ptr<ChangelogConsumer>> NewRestoreConsumer();

  // kafka::RebalanceListener (called inside Poll, on this thread)
  void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) override;
  void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) override;
  // task.assignor=sticky: this thread's share of AssignTasks over the
  // group's members (task_assignment.h) instead of what range offered.
  std::vector<TopicPartition> ChooseAssignment(const std::vector<TopicPartition>& offered) override;
  void OnPartitionsLost(const std::vector<TopicPartition>& partitions) override;
  // Keeps the first error of a rebalance callback for the loop.
  void KeepRebalanceError(const absl::Status& s);
  // runnel_consumer_lag_records of every partition whose position is known:
  // the consumer's cached end (no broker round trip) minus the next offset
  // its task processes. At most every kLagInterval.
  void UpdateLags(absl::Time now);

  const int index_;
  const std::string name_;
  const bool eos_;
  StateDirectory* directory_;
  const std::string transactional_id_;
  // Kafka client.id prefix (ThreadClientId): carries the process id.
  const std::string client_id_;
  std::shared_ptr<const Topology> topology_;
  const StreamsConfig& config_;
  MetricsRegistry* metrics_;
  const Clock& clock_;

  std::atomic<bool> stop_{false};
  // Every send of the tasks and the delivery accounting; declared before
  // the producer, whose destructor still reports deliveries to it.
  RecordCollector collector_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<KafkaCollectorProducer> collector_producer_;
  // Reads the group's members for the sticky assignment; created on the
  // first rebalance.
  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<ConsumerTaskInput> task_input_;
  std::shared_ptr<RocksDbResources> rocksdb_;
  LocalStores* local_stores_;
  const GlobalStores* global_stores_;
  // statestore.cache.max.bytes split over the instance's threads, shared by
  // this thread's tasks (Kafka Streams' ThreadCache).
  RecordCacheBudget cache_budget_;
  std::unique_ptr<DeserializationErrorHandler> deserialization_handler_;
  std::unique_ptr<ProcessingErrorHandler> processing_handler_;
  // The tasks (created in Start, with the consumer); declared after
  // everything its tasks use.
  std::unique_ptr<TaskManager> tasks_;
  absl::Status rebalance_error_;

  Counter* processed_;
  Counter* commits_;
  Counter* rewinds_;
  Counter* aborts_;
  Counter* restored_records_;
  Counter* restored_bytes_;
  Counter* restore_micros_;
  Counter* wiped_stores_;
  Counter* rebalances_;
  // One commit that committed something (flush + offsets, or the whole
  // transaction commit under EOS).
  Histogram* commit_latency_;
  // Under EOS: the producer's CommitTransaction alone (retries included).
  Histogram* transaction_commit_latency_ = nullptr;
  Histogram* poll_latency_;
  // runnel_consumer_lag_records: shared with the collector this thread
  // registers in the instance's registry, which outlives the thread.
  std::shared_ptr<runtime::internal::PartitionLags> lags_;
  // UpdateLags' buffers, reused; InfinitePast updates at the next poll.
  std::vector<std::pair<TopicPartition, Offset>> positions_scratch_;
  std::vector<std::pair<TopicPartition, int64_t>> lags_scratch_;
  absl::Time last_lag_update_ = absl::InfinitePast();
  std::atomic<GroupState> group_state_{GroupState::kJoining};
  // ChooseAssignment took nothing because another rebalance follows: the
  // assignment it completes does not end the rebalance.
  bool assignment_follows_ = false;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
  // Pending ReadTaskStore calls, served by ServeReads from the loop. A read
  // runs under reads_mu_, so its caller (waiting on reads_mu_) cannot time
  // out and return while its function runs.
  struct StoreRead {
    TaskId task;
    const std::string* store;
    const std::function<absl::Status(const ReadOnlyKeyValueStore&)>* read;
    absl::Status result;
    bool done = false;
    bool abandoned = false;
  };
  void ServeReads();
  absl::Mutex reads_mu_;
  std::deque<std::shared_ptr<StoreRead>> reads_ ABSL_GUARDED_BY(reads_mu_);
  bool serving_reads_ ABSL_GUARDED_BY(reads_mu_) = true;

  mutable absl::Mutex mu_;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::function<void(int, const absl::Status&)> on_exit_;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_STREAM_THREAD_H_
