#ifndef RUNNEL_SINK_INTERNAL_SINK_WORKER_H_
#define RUNNEL_SINK_INTERNAL_SINK_WORKER_H_

// SinkWorker: the PostgresSink implementation (see postgres_sink.h for the
// contract). One thread of its own runs the loop: poll -> map -> batch ->
// write in one PostgreSQL transaction (rows + fenced offsets) -> commit the
// Kafka offsets for lag tools.
//
// Threads: Start/Close/WaitCaughtUp/state/error from any thread (state under
// mu_); everything else, the consumer's rebalance callbacks included, on
// the worker thread. Lifecycle: kCreated -> Start -> kRunning -> (kFailed)
// -> Close -> kClosed. The destructor closes.

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"
#include "runnel/sink/internal/batch.h"
#include "runnel/sink/internal/batch_writer.h"
#include "runnel/sink/internal/pg_connection.h"
#include "runnel/sink/postgres_sink.h"

namespace runnel::sink::internal {

class SinkWorker final : public PostgresSink, private kafka::RebalanceListener {
 public:
  explicit SinkWorker(PostgresSinkOptions options);
  ~SinkWorker() override;

  absl::Status Start() override;
  absl::Status Close(absl::Duration timeout) override;
  absl::Status WaitCaughtUp(absl::Duration timeout) override;
  State state() const override;
  absl::Status error() const override;

 private:
  struct Metrics {
    Counter* batches;
    Counter* retries;
    Counter* mapper_errors;
    Counter* rejected_errors;
    Counter* dead_letters;
    Histogram* batch_latency;
    Histogram* e2e_latency;
    Gauge* connected;
    std::vector<Counter*> upserts;  // per route
    std::vector<Counter*> deletes;  // per route
  };

  // The worker thread.
  void Run();
  absl::Status Loop();
  absl::Status CreateClients();
  absl::Status PollOnce();
  // The next step once PostgreSQL is needed: positioning, then a due flush.
  absl::Status Step();
  absl::Status TakeRecord(kafka::ConsumedRecord record);
  absl::Status Flush();
  absl::Status WriteBatch();
  absl::Status SendToDeadLetter(const std::vector<FailedRecord>& failures);
  absl::Status FailurePolicy(const FailedRecord& failure);
  absl::Status EnsureConnected();
  absl::Status PositionPartitions();
  // A kUnavailable: count, log, pause, wait the backoff.
  void ScheduleRetry(const absl::Status& error);
  // PostgreSQL answered again: reset the backoff, resume, rewind.
  absl::Status Recovered();
  // Another owner moved our offsets: forget the batch, re-read them.
  void Fenced(const absl::Status& error);
  void Forget(const std::vector<TopicPartition>& partitions);
  void UpdateLag(const TopicPartition& tp);
  bool FlushDue() const;
  bool Accepting(const TopicPartition& tp) const;
  std::string Where(const kafka::ConsumedRecord& record) const;

  // RebalanceListener (worker thread, inside Poll).
  void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions) override;
  void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) override;
  void OnPartitionsLost(const std::vector<TopicPartition>& partitions) override;

  const PostgresSinkOptions options_;
  const Clock& clock_;
  Metrics metrics_;
  BatchWriter writer_;
  std::map<std::string, size_t, std::less<>> route_of_topic_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kCreated;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> close_deadline_nanos_{0};
  std::thread thread_;

  // Worker thread only.
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Producer> dead_letter_;
  std::unique_ptr<PgConnection> conn_;
  Batch batch_;
  bool dead_lettered_ = false;  // the batch's failures are in the dead-letter topic
  absl::Time batch_started_;
  std::set<TopicPartition> assigned_;
  std::set<TopicPartition> unpositioned_;          // assigned, paused until sought to their offset
  std::map<TopicPartition, Offset> committed_;     // PostgreSQL's next offset as this owner knows it
  std::map<TopicPartition, Offset> rewind_;        // records dropped (paused or batch full): seek back
  bool paused_ = false;                            // waiting out a PostgreSQL outage
  absl::Time retry_at_ = absl::InfinitePast();
  absl::Duration backoff_;
  absl::Status rebalance_error_;
};

}  // namespace runnel::sink::internal

#endif  // RUNNEL_SINK_INTERNAL_SINK_WORKER_H_
