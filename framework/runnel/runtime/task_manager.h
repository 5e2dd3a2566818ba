#ifndef RUNNEL_RUNTIME_TASK_MANAGER_H_
#define RUNNEL_RUNTIME_TASK_MANAGER_H_

// TaskManager: a stream thread's active tasks. It turns the consumer's
// assignment into tasks (creating the task of each new partition, pausing
// the input of a stateful one until its stores are restored), restores
// them one after another in slices from the thread's loop, routes polled
// records to them, and closes them: after a commit on revocation, without
// one when partitions are lost, when a transaction failed, or when the
// thread failed (a failed thread closes its tasks before its consumer
// leaves the group, so the revocation that leaving triggers has nothing to
// commit). See docs/architecture.md, "Task lifecycle and rebalancing".
// Standby replicas are not a thread's: StandbyManager (standby.h) keeps
// them.
//
// There is no suspended state: a revoked task is closed and destroyed, and
// one that comes back is rebuilt.
//
// Ownership: a StreamThread owns its task manager, which owns the tasks and
// the restore consumer; the task factory, the TaskInput and the state
// directory outlive it. Threading: the stream thread only (the rebalance
// callbacks run inside its Poll). Lifecycle: created -> Assign / Revoke /
// Lose / RestoreStep ... -> CloseAll -> destroyed.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/types.h"
#include "runnel/kafka/consumer.h"
#include "runnel/runtime/changelog_reader.h"
#include "runnel/runtime/state_directory.h"
#include "runnel/runtime/stream_task.h"
#include "runnel/topology/topology.h"

namespace runnel {

// The thread's group consumer as the task manager uses it: pausing a
// restoring task's input and seeking to the committed offsets.
// ConsumerTaskInput in the runtime, a fake in unit tests.
class TaskInput {
 public:
  virtual ~TaskInput() = default;
  virtual absl::Status Pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual absl::Status Resume(const std::vector<TopicPartition>& partitions) = 0;
  // Partitions without a committed offset are left out.
  virtual absl::StatusOr<std::vector<std::pair<TopicPartition, Offset>>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout) = 0;
  virtual absl::Status Seek(const TopicPartition& partition, Offset offset, absl::Duration timeout) = 0;
};

// TaskInput over a kafka::Consumer (not owned; must outlive this).
class ConsumerTaskInput final : public TaskInput {
 public:
  explicit ConsumerTaskInput(kafka::Consumer* consumer) : consumer_(consumer) {}
  absl::Status Pause(const std::vector<TopicPartition>& partitions) override {
    return consumer_->Pause(partitions);
  }
  absl::Status Resume(const std::vector<TopicPartition>& partitions) override {
    return consumer_->Resume(partitions);
  }
  absl::StatusOr<std::vector<std::pair<TopicPartition, Offset>>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout) override {
    return consumer_->Committed(partitions, timeout);
  }
  absl::Status Seek(const TopicPartition& partition, Offset offset, absl::Duration timeout) override {
    return consumer_->Seek(partition, offset, timeout);
  }

 private:
  kafka::Consumer* consumer_;
};

class TaskManager {
 public:
  // Builds a task (not yet Init). The thread's: it holds what a task needs
  // (its record collector, error handlers, cache budget, stores' env).
  using TaskFactory = std::function<absl::StatusOr<std::unique_ptr<StreamTask>>(TaskId id)>;
  // Creates the restore consumer, at the first restore.
  using RestoreConsumerFactory = std::function<absl::StatusOr<std::unique_ptr<ChangelogConsumer>>()>;

  // `name` prefixes log lines. `directory` may be null (no stores).
  TaskManager(std::string name, std::shared_ptr<const Topology> topology, TaskFactory create_task,
              RestoreConsumerFactory create_restore_consumer, TaskInput* input, StateDirectory* directory);
  ~TaskManager();

  TaskManager(const TaskManager&) = delete;
  TaskManager& operator=(const TaskManager&) = delete;

  // Newly assigned partitions: each joins its task, created (and Init) if
  // the thread has none; a new stateful task restores first, its input
  // paused. Partitions of topics the topology does not read are ignored.
  // Stops at the first error (tasks created before it stay).
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  // Revoked partitions: `commit` (the thread's commit) runs first, with
  // every task still open; then the tasks left without partitions close
  // clean. Returns the commit's error; the tasks close either way.
  absl::Status Revoke(const std::vector<TopicPartition>& partitions, const std::function<absl::Status()>& commit);
  // Lost partitions (at-least-once): the tasks left without partitions
  // close dirty, committing nothing; their new owner processes again from
  // the last commit.
  void Lose(const std::vector<TopicPartition>& partitions);
  // Closes every task dirty (nothing committed; a restore in progress
  // stops). After a transaction failure, or when the thread stops without
  // its final commit.
  void CloseAll();

  // The partitions the tasks read.
  std::vector<TopicPartition> AssignedPartitions() const;
  // Seeks `partitions` to their committed offsets (the start without one,
  // as auto.offset.reset=earliest does).
  absl::Status SeekToCommitted(const std::vector<TopicPartition>& partitions);
  // After a failed delivery: every partition back to its committed offset,
  // every task's queued records and uncommitted progress dropped.
  absl::Status RewindToCommitted();

  // The task reading `partition` of `topic`, or null (revoked during the
  // poll that fetched the record). Consecutive calls mostly hit the same
  // partition: the last answer is remembered by the topic name's address
  // (a polled record's topic points into librdkafka's topic handle).
  StreamTask* TaskFor(std::string_view topic, Partition partition);
  StreamTask* Find(TaskId id) const;
  const std::map<TaskId, std::unique_ptr<StreamTask>>& tasks() const { return tasks_; }

  // Restore: one slice (~200 ms) of the front restoring task's restore;
  // when it completes, its processors init and its input resumes.
  bool restoring() const { return !restoring_.empty(); }
  absl::Status RestoreStep();

  // Commit, on the running tasks (a restoring task has nothing to commit).
  // Flushes their stores: the first error, if any.
  absl::Status FlushStores();
  // At-least-once, once the commit's flush had every record sent so far
  // acknowledged: each running task's processors write their progress
  // markers (StreamTask::SentRecordsAcknowledged). The first error, if any.
  absl::Status SentRecordsAcknowledged();
  // Every task's next offsets not yet committed.
  std::vector<std::pair<TopicPartition, Offset>> UncommittedOffsets() const;
  void MarkCommitted(const std::vector<std::pair<TopicPartition, Offset>>& offsets);
  // At-least-once, after the offsets' commit: each stateful task's
  // checkpoint of the changelog partitions in `delivered` (a failure is
  // logged: the previous checkpoint still holds).
  void WriteCheckpoints(const absl::flat_hash_map<TopicPartition, Offset>& delivered);
  // Exactly-once, after the transaction committed: each store's pending
  // writes with its changelog offset from `delivered`.
  absl::Status CommitStores(const absl::flat_hash_map<TopicPartition, Offset>& delivered);

 private:
  // Creates and Inits task `id`, waiting up to 10 s for its lock if another
  // thread of this process or a standby holds it.
  absl::StatusOr<std::unique_ptr<StreamTask>> CreateTask(TaskId id);
  // Drops `partitions`; closes the tasks left without one.
  void RemovePartitions(const std::vector<TopicPartition>& partitions);
  // A task closed while it waits for or is in a restore.
  void ForgetRestore(StreamTask* task);
  void StopRestore();

  const std::string name_;
  std::shared_ptr<const Topology> topology_;
  TaskFactory create_task_;
  RestoreConsumerFactory create_restore_consumer_;
  TaskInput* input_;
  StateDirectory* directory_;

  std::map<TaskId, std::unique_ptr<StreamTask>> tasks_;
  // Partition -> its task, for routing polled records.
  absl::flat_hash_map<TopicPartition, StreamTask*> routes_;
  // The last route taken (TaskFor). Cleared whenever routes_ changes.
  struct LastRoute {
    const char* topic = nullptr;
    Partition partition{-1};
    StreamTask* task = nullptr;
  } last_route_;
  // Manual assignment only; created with the first restore.
  std::unique_ptr<ChangelogConsumer> restore_consumer_;
  // Stateful tasks waiting for their stores to be restored, in order; the
  // front one is restoring when restore_started_.
  std::deque<StreamTask*> restoring_;
  bool restore_started_ = false;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_TASK_MANAGER_H_
