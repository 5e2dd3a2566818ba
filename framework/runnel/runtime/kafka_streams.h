#ifndef RUNNEL_RUNTIME_KAFKA_STREAMS_H_
#define RUNNEL_RUNTIME_KAFKA_STREAMS_H_

// KafkaStreams: a running Runnel application instance.
//
//   auto streams = KafkaStreams::Create(topology, *StreamsConfig::Create(props));
//   RUNNEL_RETURN_IF_ERROR((*streams)->Start());
//   ...
//   (*streams)->Close();
//
// Start() checks the source topics exist (NotFound names a missing one),
// compares the topology with the one recorded for the application
// (FailedPrecondition on a change that would orphan or misread state; see
// topology_compatibility.h),
// creates the dead-letter topic if configured and missing, bootstraps the
// global stores (GlobalKTable: every partition of their topics read to its
// end, see global_thread.h) and starts the global thread and
// num.stream.threads stream threads. When a stream thread fails, the
// uncaught-error policy (uncaught.error.policy, or SetUncaughtErrorHandler)
// decides: replace_thread starts a new thread in its place (the instance
// stays RUNNING; runnel_stream_threads_replaced_total counts it),
// shutdown_client stops all threads and goes to ERROR, shutdown_application
// also makes every other instance of the application do so
// (internal/shutdown_request.h). A failing global thread always shuts the
// client down. Wait()/Close() return the first error that shut it down.
//
// Metrics and health (docs/metrics.md): metrics() is the instance's
// registry. With metrics.server=host:port, Start serves GET /metrics
// (Prometheus text), /healthz and /readyz there (metrics_server.h) until
// Wait returns; readiness is CheckReadiness().
//
// States: CREATED -> RUNNING -> PENDING_SHUTDOWN -> NOT_RUNNING, or -> ERROR.
// Threading: every method is thread-safe. Ownership: owns its threads and
// metrics; the Topology is shared.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/global_stores.h"
#include "runnel/runtime/global_thread.h"
#include "runnel/runtime/local_stores.h"
#include "runnel/runtime/metrics_server.h"
#include "runnel/runtime/standby.h"
#include "runnel/runtime/stream_thread.h"
#include "runnel/state/changelog.h"
#include "runnel/state/rocksdb_kv_store.h"
#include "runnel/runtime/streams_config.h"
#include "runnel/topology/topology.h"

namespace runnel {

class TopologyCompatibility;

class KafkaStreams {
 public:
  enum class State { kCreated, kRunning, kPendingShutdown, kNotRunning, kError };

  static absl::StatusOr<std::unique_ptr<KafkaStreams>> Create(
      std::shared_ptr<const Topology> topology, StreamsConfig config,
      const Clock& clock = Clock::System());
  ~KafkaStreams();

  // Before Start: decides, per stream-thread error, what the instance does
  // (instead of uncaught.error.policy). Called on the failed thread; must
  // not call back into this instance.
  using UncaughtErrorHandler = std::function<UncaughtErrorResponse(const absl::Status& error)>;
  absl::Status SetUncaughtErrorHandler(UncaughtErrorHandler handler);

  absl::Status Start();
  // Asks every thread to stop after its current batch; returns at once.
  void RequestShutdown();
  // Waits until every thread has stopped; returns the first thread error.
  absl::Status Wait();
  // RequestShutdown + Wait, up to `timeout` (kDeadlineExceeded after it).
  absl::Status Close(absl::Duration timeout = absl::InfiniteDuration());

  // Adds a stream thread to the running instance (Kafka Streams'
  // addStreamThread): it joins the group, which rebalances, and takes a share
  // of the tasks. Returns its number (as in its name, "-StreamThread-<n>").
  // The record cache budget is not re-split: each new thread gets
  // statestore.cache.max.bytes / num.stream.threads more.
  absl::StatusOr<int> AddStreamThread();
  // Stops the most recently added live thread cleanly (final commit, leaves
  // the group; its tasks move to the others) and waits up to `timeout`.
  // FailedPrecondition when it is the last one: use Close for that.
  absl::StatusOr<int> RemoveStreamThread(absl::Duration timeout = absl::Minutes(2));
  // Live stream threads.
  int num_stream_threads() const;

  State state() const;
  static std::string_view StateName(State state);
  MetricsRegistry& metrics() { return metrics_; }
  // The bound port of the metrics.server endpoint (the real one when the
  // key asked for port 0); 0 before Start or without metrics.server.
  uint16_t metrics_port() const { return metrics_port_.load(); }
  // Ready (for /readyz): the instance is RUNNING, each of its stream
  // threads has received its first assignment (possibly empty: more
  // instances than partitions) and none is in a rebalance, and every task
  // it has is running, none still opening or restoring its stores.
  // Thread-safe.
  Readiness CheckReadiness() const;
  const StreamsConfig& config() const { return config_; }
  const Topology& topology() const { return *topology_; }
  // Records processed by all threads so far.
  int64_t processed() const;
  // A read-only view of the store `name` over this instance's tasks (see
  // local_stores.h: thread-safe, follows rebalances, reads what RocksDB
  // holds: committed state under exactly-once; under at-least-once also
  // writes since the last commit that left the record cache).
  // InvalidArgument for a store the topology does not have; FailedPrecondition
  // for an in-memory store (not queryable from other threads).
  absl::StatusOr<std::unique_ptr<ReadOnlyKeyValueStore>> Store(std::string_view name) const;

  // For interactive queries (the query module). This instance's process id
  // (empty before Start) and its stores' local copies, active and standby.
  std::string process_id() const;
  const LocalStores& local_stores() const { return *local_stores_; }
  // The clock the instance was created with (the query server's default).
  const Clock& clock() const { return clock_; }
  // The group's assignment as every member computes it: each task's active
  // process, its standbys' processes, and each process's endpoint (from
  // application.server). Unavailable while the group rebalances or the
  // broker cannot be reached. A broker round trip: callers cache it.
  struct GroupMetadata {
    std::map<TaskId, std::string> active;
    std::map<TaskId, std::vector<std::string>> standbys;
    std::map<std::string, std::string> endpoints;
    std::vector<int32_t> tasks_per_subtopology;
  };
  absl::StatusOr<GroupMetadata> Metadata() const;
  // Uncommitted reads: runs `read` on the stream thread of the local active
  // task `task` against its store `store` as its processors see it (record
  // cache and open transaction included), between two polls (so it may wait
  // up to poll.ms). NotFound / Unavailable when no local thread serves the
  // task now; DeadlineExceeded after `timeout`.
  absl::Status ReadUncommitted(TaskId task, const std::string& store,
                               const std::function<absl::Status(const ReadOnlyKeyValueStore&)>& read,
                               absl::Duration timeout) const;

 private:
  KafkaStreams(std::shared_ptr<const Topology> topology, StreamsConfig config, const Clock& clock);
  absl::Status PrepareTopics();
  void OnThreadExit(int index, const absl::Status& status);
  absl::StatusOr<int> AddStreamThreadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnGlobalThreadExit(const absl::Status& status);
  // Opens the global stores and reads their topics to the end.
  absl::Status BootstrapGlobalStores(const std::string& process_id);
  // After the stream threads stopped: final checkpoint, stores closed.
  void StopGlobalThread();
  void SetState(State state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The registry's collector: instance state, threads, stores (RocksDB
  // properties, restore and standby progress), block cache.
  void CollectMetrics(std::vector<MetricSample>* out) const;
  // Starts the metrics.server endpoint, when configured.
  absl::Status StartMetricsServer();
  void StopMetricsServer();

  std::shared_ptr<const Topology> topology_;
  const StreamsConfig config_;
  const Clock& clock_;
  MetricsRegistry metrics_;
  // The one RocksDB memory budget of this instance (when it has stores).
  std::shared_ptr<RocksDbResources> rocksdb_;
  // Locked for the instance's life when the topology keeps state. Declared
  // before the threads: it outlives them.
  std::unique_ptr<StateDirectory> directory_;
  // num.standby.replicas > 0 with state; stopped after the threads, before
  // the directory is released.
  std::unique_ptr<StandbyManager> standby_;
  // With global stores: open from Start until every stream thread (their
  // readers) has stopped; the global thread (their writer) stops first.
  std::unique_ptr<GlobalStores> global_stores_;
  std::unique_ptr<GlobalStreamThread> global_thread_;
  // This instance's persistent stores, for Store(); shared with the views.
  std::shared_ptr<LocalStores> local_stores_ = std::make_shared<LocalStores>();
  // Grows only (under mu_): a removed thread stays, joined, so that
  // pointers taken under the lock stay valid.
  std::vector<std::unique_ptr<StreamThread>> threads_;
  std::set<int> removed_ ABSL_GUARDED_BY(mu_);
  std::string process_id_;
  // Metadata(): its own admin client and the partition counts, read once.
  mutable absl::Mutex metadata_mu_;
  mutable std::unique_ptr<kafka::Admin> metadata_admin_ ABSL_GUARDED_BY(metadata_mu_);
  mutable std::vector<int32_t> tasks_per_subtopology_ ABSL_GUARDED_BY(metadata_mu_);

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kCreated;
  int running_threads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  UncaughtErrorHandler uncaught_handler_ ABSL_GUARDED_BY(mu_);
  // shutdown_application: the member asking the group to stop; joined by
  // Wait.
  std::thread shutdown_requester_ ABSL_GUARDED_BY(mu_);

  // The instance's runnel_tasks{state} gauges, read by CheckReadiness.
  const Gauge* tasks_created_;
  const Gauge* tasks_restoring_;
  // metrics.server: from Start until Wait returns (or destruction).
  // Declared after everything its handlers read: gone before it.
  absl::Mutex metrics_server_mu_;
  std::unique_ptr<MetricsServer> metrics_server_ ABSL_GUARDED_BY(metrics_server_mu_);
  std::atomic<uint16_t> metrics_port_{0};
  // From Start: the topology check, and the recorder thread that records
  // the topology once the instance has started (its callback reads this
  // instance: it is destroyed first).
  std::unique_ptr<TopologyCompatibility> compatibility_;
};

// Runs `streams` until SIGINT or SIGTERM, then shuts it down cleanly (final
// commit, group left). Blocks those signals in the calling thread before
// starting, so every thread created afterwards (stream threads and
// librdkafka's) inherits the mask and the signal is taken here. Returns
// Start()'s error or the first thread error; OK after a clean shutdown.
// `after_start` (optional) runs once the instance started (e.g. to start
// its query server; its error shuts the instance down and is returned),
// `before_close` before it closes.
absl::Status RunUntilShutdownSignal(KafkaStreams& streams, const std::function<absl::Status()>& after_start = {},
                                    const std::function<void()>& before_close = {});

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_KAFKA_STREAMS_H_
