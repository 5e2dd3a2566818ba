#ifndef RUNNEL_RUNTIME_STREAM_TASK_H_
#define RUNNEL_RUNTIME_STREAM_TASK_H_

// StreamTask: one sub-topology on one partition number (TaskId), fed by the
// partitions of its source topics with that number.
//
// Records are queued per partition as they are polled and processed in
// timestamp order across the task's partitions (the lowest head timestamp
// first). The task tracks, per partition, the next offset after the last
// record fully processed; only that is ever committed.
//
// Metrics (docs/metrics.md), in metrics() with the label task="<id>":
// records consumed per input topic, processed, produced per output topic,
// the process latency of each record and the end-to-end latency of each
// record sent (from its timestamp to the wall-clock time its processing
// started, as Kafka Streams' record-e2e-latency), and the instance's count
// of tasks per state (runnel_tasks{state=created|restoring|running}). Per
// record: one clock read and two histogram observations; the record
// counters are added once per Process call.
//
// Ownership: a StreamThread owns its tasks. Threading: only that thread calls
// a task. Lifecycle: created -> Init -> (AddRecord / Process)... -> Close.

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/common/types.h"
#include "runnel/kafka/record.h"
#include "runnel/processor/node.h"
#include "runnel/runtime/task_stores.h"
#include "runnel/topology/topology.h"

namespace runnel {

class StreamTask final : public TaskContext {
 public:
  // `sink`, the handlers, `clock` and `metrics` (may be null) must outlive
  // the task. `stores` names the sub-topology's stores among `specs` (which
  // outlives the task). Without a processing handler a processing error
  // fails the task.
  StreamTask(TaskId id, std::string application_id, std::unique_ptr<ProcessorGraph> graph,
             RecordSink* sink, DeserializationErrorHandler* handler,
             ProcessingErrorHandler* processing_handler, const Clock& clock,
             const std::map<std::string, StoreSpec>* specs = nullptr, std::set<std::string> stores = {},
             StateEnv state = {});
  ~StreamTask() override;

  // Opens the stores; a stateless task also inits its processors, a
  // stateful one does when its restore completes (CompleteRestore).
  absl::Status Init();
  // After the stores' restore (RestoreSome answered true): inits the
  // processors on the restored stores.
  absl::Status CompleteRestore();
  // Closes processors and stores. Flush (a commit) first for a clean close.
  void Close();

  // Stores (see TaskStores): restore before the first Process, flush and
  // checkpoint around a commit.
  bool stateful() const { return !stores_.empty(); }
  // Restoring: its input partitions are paused and it processes nothing.
  bool restoring() const { return restoring_; }
  void set_restoring(bool restoring);
  absl::Status BeginRestore(ChangelogConsumer& restore_consumer) { return stores_.BeginRestore(restore_consumer); }
  absl::StatusOr<bool> RestoreSome(absl::Duration budget) { return stores_.RestoreSome(budget); }
  absl::Status FlushStores() { return stores_.Flush(); }
  std::vector<TopicPartition> ChangelogPartitions() const { return stores_.ChangelogPartitions(); }
  absl::Status Checkpoint(const std::map<TopicPartition, Offset>& ends) { return stores_.Checkpoint(ends); }
  absl::Status CommitStores(const absl::flat_hash_map<TopicPartition, Offset>& changelog_next) {
    return stores_.CommitTransaction(changelog_next);
  }
  // Under at-least-once, after Kafka acknowledged every record sent so far
  // (the commit's flush): runs the processors' listeners
  // (OnSentRecordsAcknowledged), which write their progress markers.
  absl::Status SentRecordsAcknowledged();

  TaskId id() const { return id_; }
  void AddPartition(const TopicPartition& tp);
  // Drops the partition and its queued records. True if none remain.
  bool RemovePartition(const TopicPartition& tp);
  const std::vector<TopicPartition>& partitions() const { return partitions_; }

  void AddRecord(kafka::ConsumedRecord record);
  size_t queued() const { return queued_; }
  // Processes every queued record. A processing error (processing_error.h)
  // goes to the processing handler: skipped, the record counts as
  // processed. Any other error, or the handler's, stops at the failing
  // record, whose offset is not marked processed; it names the task, the
  // partition and the offset.
  absl::Status Process();
  int64_t processed_count() const { return processed_count_; }

  // Next offsets (last processed + 1) not yet committed.
  std::vector<std::pair<TopicPartition, Offset>> UncommittedOffsets() const;
  // Per partition, the offset of the next record the task has yet to
  // process: its first queued record's, else past the last one processed
  // or the partition's end the consumer reported, whichever is further
  // (under read_committed the end lies past a trailing transaction marker,
  // which no record has). Partitions with none of these yet are left out.
  // For the consumer lag (end offset - this).
  void AppendPositions(std::vector<std::pair<TopicPartition, Offset>>& out) const;
  void MarkCommitted(const std::vector<std::pair<TopicPartition, Offset>>& offsets);
  // Forgets queued records and uncommitted progress (after a rewind to the
  // committed offsets).
  void ResetToCommitted();
  bool TakeCommitRequest();

  // TaskContext
  std::string_view application_id() const override { return application_id_; }
  TaskId task_id() const override { return id_; }
  const RecordMetadata* record_metadata() const override { return current_; }
  Timestamp stream_time() const override { return stream_time_; }
  const Clock& clock() const override { return clock_; }
  MetricsRegistry& metrics() override { return metrics_ != nullptr ? *metrics_ : own_metrics_; }
  void RequestCommit() override { commit_requested_ = true; }
  bool OnSentRecordsAcknowledged(std::function<absl::Status()> listener) override;
  KeyValueStore* GetKeyValueStore(std::string_view name) override { return stores_.Get(name); }
  Cancellable Schedule(absl::Duration interval, PunctuationType type, Punctuator punctuator) override;
  // Runs the wall-clock punctuators that are due (from the thread's loop).
  absl::Status PunctuateWallClock();

  // max.task.idle.ms (Kafka Streams' KIP-695), for tasks that read several
  // partitions (joins, merges): records are taken in timestamp order across
  // them only while every partition has records queued or is at its end on
  // the broker, so a partition whose records are still being fetched (one
  // side of a join behind the other) is waited for. < 0: never wait; 0: wait
  // only for records already on the broker; > 0: also wait up to this long
  // for a caught-up partition to receive records.
  void SetMaxTaskIdle(int64_t ms) { max_idle_ms_ = ms; }
  // The consumer reached the end of `tp` at `end` (a partition EOF event).
  void MarkEndOfPartition(const TopicPartition& tp, Offset end);

 private:
  absl::Status InitProcessors();
  // A punctuation error through the processing handler.
  absl::Status HandlePunctuationError(absl::Status error);
  struct PartitionState {
    TopicPartition tp;
    processor::internal::SourceNodeBase* source = nullptr;
    std::deque<kafka::ConsumedRecord> queue;
    std::optional<Offset> processed;  // next offset after the last processed record
    std::optional<Offset> committed;
    std::optional<Offset> received;   // next offset after the last queued record
    // The consumer reported the partition's end at or after `received`: no
    // record of it waits on the broker.
    bool at_end = false;
    // The last end the consumer reported (cleared by a rewind).
    std::optional<Offset> reported_end;
    std::optional<absl::Time> empty_since;
    // runnel_task_records_consumed_total of this partition's topic, and
    // what was queued since Process last added to it (one atomic add per
    // batch, not per record).
    Counter* consumed = nullptr;
    int64_t consumed_pending = 0;
  };
  // Whether the task may pick its next record now (see SetMaxTaskIdle).
  bool MayProcess();
  PartitionState* Find(const TopicPartition& tp);
  // Moves the runnel_tasks{state} count to the state the task is in now.
  void UpdateStateGauge();

  // The thread's sink, measured: records produced per topic and their
  // end-to-end latency.
  class MeasuredSink final : public RecordSink {
   public:
    explicit MeasuredSink(StreamTask* task) : task_(task) {}
    absl::Status Send(const SerializedRecord& record) override;
    absl::StatusOr<int32_t> PartitionCount(std::string_view topic) override {
      return task_->sink_->PartitionCount(topic);
    }

   private:
    StreamTask* task_;
    // Produced-records counters by topic; the last one found first.
    absl::flat_hash_map<std::string, Counter*> produced_;
    std::string last_topic_;
    Counter* last_produced_ = nullptr;
  };
  enum class TaskState { kCreated, kRestoring, kRunning, kClosed };

  TaskId id_;
  std::string application_id_;
  std::unique_ptr<ProcessorGraph> graph_;
  processor::internal::NodeEnv env_;
  ProcessingErrorHandler* processing_handler_;
  const Clock& clock_;
  MetricsRegistry* metrics_;
  MetricsRegistry own_metrics_;
  std::vector<TopicPartition> partitions_;
  std::vector<std::unique_ptr<PartitionState>> states_;
  size_t queued_ = 0;
  int64_t processed_count_ = 0;
  Timestamp stream_time_{-1};
  RecordMetadata current_metadata_;
  const RecordMetadata* current_ = nullptr;
  Timestamp current_timestamp_{0};
  bool commit_requested_ = false;
  int64_t max_idle_ms_ = 0;
  bool initialized_ = false;
  bool restoring_ = false;
  bool closed_ = false;
  // StateEnv::exactly_once: processors' markers commit with the transaction.
  const bool exactly_once_;
  // OnSentRecordsAcknowledged's listeners (processors of this task's graph;
  // cleared before the graph is initialized again and when it closes).
  std::vector<std::function<absl::Status()>> acknowledged_listeners_;
  const std::map<std::string, StoreSpec>* specs_;
  std::set<std::string> store_names_;
  TaskStores stores_;
  PunctuationSchedule punctuation_;

  RecordSink* sink_;
  MeasuredSink measured_sink_{this};
  const MetricLabels labels_;
  Counter* processed_metric_;
  Histogram* process_latency_;
  Histogram* e2e_latency_;
  // When the current record's (or punctuation's) processing started: the
  // "now" of its outputs' end-to-end latency.
  absl::Time processing_started_;
  TaskState task_state_ = TaskState::kClosed;
  Gauge* state_gauges_[3];
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_STREAM_TASK_H_
