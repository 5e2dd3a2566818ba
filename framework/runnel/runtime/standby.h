#ifndef RUNNEL_RUNTIME_STANDBY_H_
#define RUNNEL_RUNTIME_STANDBY_H_

// Standby replicas (num.standby.replicas = N): warm copies of stateful tasks
// that other instances own, kept current from the changelogs, so that a
// failover restores only the tail the standby had not yet applied.
//
// Placement: every instance reads the group's members and assignments
// (DescribeConsumerGroups; members are grouped into instances by the
// process id in their client.id, see ThreadClientId) and runs the same
// deterministic PlaceStandbys, so they agree on who keeps which standby
// without talking to each other. librdkafka has no custom assignor, so
// standbys follow the active assignment rather than shaping it.
//
// A standby holds its task's directory lock. When a stream thread of this
// instance becomes the task's active owner it asks for the lock
// (StateDirectory::RequestRelease); the standby closes (at-least-once: its
// stores flushed and checkpointed; exactly-once: each write already carried
// its offset) and the thread restores only what is left.
//
// Only logged RocksDB stores have standbys (an in-memory copy could not be
// handed over). Standbys read read_committed, so under exactly_once_v2 they
// hold committed state only. One ChangelogReader follows every standby's
// changelog partitions, with no end, into its TaskStores (ApplyStandby).
//
// Threading: one thread of its own (Start/Stop from KafkaStreams).

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/changelog_reader.h"
#include "runnel/runtime/state_directory.h"
#include "runnel/runtime/streams_config.h"
#include "runnel/runtime/task_stores.h"
#include "runnel/topology/topology.h"

namespace runnel {

// Whether sub-topology `sub` has a store that standbys keep (logged RocksDB).
bool HasStandbyStores(const Topology& topology, int32_t sub);

// For each task in `active` (task -> owning process), the processes that
// keep its `replicas` standbys: never the owner, the least-loaded first,
// ties broken by a hash of (process, task) so that standbys spread out.
// Deterministic: the same inputs give the same placement everywhere.
std::map<TaskId, std::vector<std::string>> PlaceStandbys(const std::map<TaskId, std::string>& active,
                                                         const std::set<std::string>& processes, int replicas);

class StandbyManager {
 public:
  // Everything given outlives the manager.
  StandbyManager(std::shared_ptr<const Topology> topology, const StreamsConfig& config, std::string process_id,
                 StateDirectory* directory, std::shared_ptr<RocksDbResources> rocksdb, MetricsRegistry* metrics,
                 const Clock& clock, LocalStores* local_stores = nullptr);
  ~StandbyManager();

  absl::Status Start();
  // Closes the standbys (durably) and joins the thread. Idempotent.
  void Stop();
  // The tasks this instance keeps standbys of now.
  std::vector<TaskId> tasks() const;

 private:
  void Run();
  // Reads the group and opens/closes standbys to match the placement.
  absl::Status Refresh();
  // Sets each standby store's changelog end from the consumer's cache.
  void RefreshChangelogEnds();
  absl::Status Open(TaskId task);
  void Close(TaskId task);
  absl::Status Reassign();

  std::shared_ptr<const Topology> topology_;
  const StreamsConfig& config_;
  const std::string process_id_;
  StateDirectory* directory_;
  std::shared_ptr<RocksDbResources> rocksdb_;
  const Clock& clock_;
  // Optional: where the standbys' stores are registered for queries.
  LocalStores* local_stores_;
  Counter* applied_records_;
  RecordCacheBudget no_cache_{0};

  // One standby's stores, and the sink its changelogs go to.
  struct Standby {
    std::unique_ptr<TaskStores> stores;
    std::unique_ptr<ChangelogSink> sink;
  };

  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<ChangelogConsumer> consumer_;
  // Thread-only. The reader follows every standby's changelog partitions.
  std::unique_ptr<ChangelogReader> reader_;
  std::map<TaskId, Standby> standbys_;
  // Tasks per sub-topology (sticky assignment), read at the first refresh.
  std::vector<int32_t> tasks_per_subtopology_;
  mutable absl::Mutex mu_;
  std::vector<TaskId> published_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_STANDBY_H_
