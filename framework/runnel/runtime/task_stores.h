#ifndef RUNNEL_RUNTIME_TASK_STORES_H_
#define RUNNEL_RUNTIME_TASK_STORES_H_

// The state stores of one stream task, under
// state.dir/<application.id>/<task id>/<store>, with the task's checkpoint
// file beside them (state.dir/<application.id>/<task id>/.checkpoint).
//
// Lifecycle, driven by the task's stream thread:
//   Open     opens each store: RocksDB or in-memory, wrapped in the
//            changelogging layer (when logged) and the record cache (when
//            cached). Reads the checkpoint; without a valid one, the
//            persistent stores' files are wiped (never trust them).
//   Restore  (BeginRestore, then RestoreSome until it says done, from the
//            thread's loop so the main consumer keeps polling) first wipes
//            every store whose position is outside its changelog's offsets
//            (CheckChangelogPositions), then replays each
//            logged store's changelog partition from the checkpointed offset
//            (or the beginning) to its end through a ChangelogReader
//            (progress logged and counted there), and checkpoints the
//            result.
//   Flush    at commit: caches down (results forwarded, changelog sent),
//            memtables to disk.
//   Checkpoint after offsets are committed: the changelog end offsets.
//   Close    closes the stores (a clean close flushes first).
//
// Under exactly_once_v2 (StateEnv::exactly_once) logged RocksDB stores get a
// TransactionalKeyValueStore layer: nothing uncommitted reaches RocksDB, and
// CommitTransaction (after the Kafka transaction commits) writes each
// store's pending writes with its changelog offset atomically. That offset,
// not the checkpoint file, is where a restore resumes, so a kill -9 costs
// only the changelog tail since the last commit. A store without one is
// wiped and restored in full.

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/common/types.h"
#include "absl/container/flat_hash_map.h"
#include "runnel/runtime/changelog_reader.h"
#include "runnel/runtime/global_stores.h"
#include "runnel/runtime/local_stores.h"
#include "runnel/runtime/state_directory.h"
#include "runnel/state/changelog.h"
#include "runnel/state/checkpoint.h"
#include "runnel/state/record_cache.h"
#include "runnel/state/rocksdb_kv_store.h"
#include "runnel/state/transactional_store.h"
#include "runnel/topology/topology.h"

namespace runnel {

// What a thread gives its tasks' stores. Pointers outlive the tasks.
struct StateEnv {
  std::string application_id;
  // state.dir/<application.id>
  std::string app_dir;
  std::shared_ptr<RocksDbResources> rocksdb;
  RecordCacheBudget* cache_budget = nullptr;
  ChangelogWriter* changelog = nullptr;
  // Optional (null in the test driver): records and bytes restored, and
  // microseconds spent restoring.
  Counter* restored_records = nullptr;
  Counter* restored_bytes = nullptr;
  Counter* restore_micros = nullptr;
  // Optional: stores wiped because their local position was outside their
  // changelog's offsets.
  Counter* wiped_stores = nullptr;
  // Optional: where RocksDB stores are registered for read-only queries.
  LocalStores* local_stores = nullptr;
  // A standby replica's stores (registered as such for queries).
  bool standby = false;
  // The stream thread running an active task (for uncommitted reads).
  int thread_index = -1;
  // Optional: the instance's state directory; Open takes the task's lock.
  StateDirectory* directory = nullptr;
  bool exactly_once = false;
  // Optional: the instance's metrics (TaskContext::metrics); without it the
  // task keeps a registry of its own.
  MetricsRegistry* metrics = nullptr;
  // Optional: the instance's global stores, which Get answers (read-only)
  // for names the task has no store of.
  const GlobalStores* global_stores = nullptr;
  // Required to restore: the injected clock restore progress and stalls
  // are timed by.
  const Clock* clock = nullptr;
  // Optional: set (by another thread) when the owner shuts down; a restore
  // waiting for an unavailable changelog gives up (Cancelled) rather than
  // holding the shutdown for its whole retry time.
  const std::atomic<bool>* stopping = nullptr;
};

class TaskStores final : private ChangelogSink {
 public:
  // `timestamp` gives the timestamp of the record being processed.
  TaskStores(TaskId task, StateEnv env, std::function<Timestamp()> timestamp);
  ~TaskStores() override;

  // Unavailable while another thread of the process holds the task.
  absl::Status Open(const std::map<std::string, StoreSpec>& specs, const std::set<std::string>& names);
  bool empty() const { return stores_.empty(); }
  // The task's store `name`, else the read-only handle of the global store
  // `name`, else nullptr.
  KeyValueStore* Get(std::string_view name) const;

  // Queries each logged store's changelog offsets (low, end) through
  // `consumer` and wipes every RocksDB store whose local position (its
  // checkpoint, committed or standby offset) lies outside them, logging
  // why: such a store holds a history its changelog does not have (the
  // changelog recreated, a new cluster, records deleted). A wiped store is
  // reopened empty, so its restore starts from the beginning. Must run
  // before processors hold the stores (an active task's processors are
  // initialized after its restore). Answers the offsets per changelog.
  absl::StatusOr<std::map<TopicPartition, std::pair<Offset, Offset>>> CheckChangelogPositions(
      ChangelogConsumer& consumer);

  // The changelog partitions of the logged stores.
  std::vector<TopicPartition> ChangelogPartitions() const;
  // `consumer` is a restore consumer, used by one task's restore at a time
  // (it outlives the restore). BeginRestore assigns it the changelog
  // partitions that are behind; RestoreSome (after BeginRestore) applies
  // what arrives within `budget` and answers true once every store is
  // current (the consumer is then left with no assignment, the stores
  // flushed and checkpointed). Restoring needs StateEnv::clock.
  absl::Status BeginRestore(ChangelogConsumer& consumer);
  absl::StatusOr<bool> RestoreSome(absl::Duration budget);
  absl::Status Flush();
  absl::Status Checkpoint(const std::map<TopicPartition, Offset>& changelog_ends);
  // Exactly-once, after the transaction committed: `changelog_next` has,
  // per changelog partition written in it, the offset after its last record.
  absl::Status CommitTransaction(const absl::flat_hash_map<TopicPartition, Offset>& changelog_next);

  // Standby replicas: the stores follow their changelogs with no end.
  // StandbyPositions says where each logged RocksDB store resumes (its
  // checkpoint or committed offset; Offset(-2), the beginning, without one);
  // ApplyStandby writes what arrived (under EOS with its offset, atomically;
  // with no writes it only moves the position, to an end past markers);
  // CheckpointStandby makes at-least-once positions durable (memtables, then
  // the checkpoint file).
  std::map<TopicPartition, Offset> StandbyPositions() const;
  absl::Status ApplyStandby(const TopicPartition& tp, const std::vector<KeyValueStore::Write>& writes, Offset next);
  absl::Status CheckpointStandby();
  // For queries: a standby's view of its changelog's end (lag), and an
  // active task's committed input offsets (its stores' input position).
  void SetChangelogEnd(const TopicPartition& tp, Offset end);
  void SetInputPositions(const std::vector<std::pair<TopicPartition, Offset>>& offsets);
  void Close();

 private:
  struct Entry {
    StoreSpec spec;
    std::shared_ptr<KeyValueStore> outer;
    ChangeLoggingKeyValueStore* logged = nullptr;  // inside outer, or null
    TransactionalKeyValueStore* txn = nullptr;     // inside logged (EOS), or null
    std::string dir;                                // RocksDB stores only
    // Registered with env_.local_stores (RocksDB stores), else null.
    std::shared_ptr<StoreCopyStatus> status;
  };

  // Opens one store (RocksDB or in-memory, with its layers) into stores_,
  // wiping a RocksDB store that no changelog offset vouches for.
  absl::Status OpenStore(const StoreSpec& spec);
  // Closes, destroys and reopens (empty) the RocksDB store `name`, and
  // forgets every offset recorded for its `changelog` partition.
  absl::Status WipeStore(const std::string& name, const TopicPartition& changelog);
  // The store logged to `tp` (NotFound without one).
  absl::StatusOr<Entry*> LoggedTo(const TopicPartition& tp);
  // Writes replayed changelog records into `e` below its changelog layer
  // (under exactly-once with `next`, atomically).
  static absl::Status Replay(Entry& e, const std::vector<KeyValueStore::Write>& writes, Offset next);
  // ChangelogSink, for the restore: what the restore read.
  absl::Status Apply(const TopicPartition& tp, const std::vector<const kafka::ConsumedRecord*>& records,
                     Offset next) override;

  TaskId task_;
  StateEnv env_;
  std::function<Timestamp()> timestamp_;
  std::string task_dir_;
  CheckpointFile checkpoint_;
  // Where each changelog partition's restore starts (from the checkpoint).
  std::map<TopicPartition, Offset> restore_from_;
  std::map<std::string, Entry, std::less<>> stores_;
  // While restoring (BeginRestore until RestoreSome is done): the reader,
  // and the end offsets the checkpoint will record.
  std::unique_ptr<ChangelogReader> restore_;
  std::map<TopicPartition, Offset> restored_ends_;
  // At-least-once: what the checkpoint file holds (merged into on each
  // Checkpoint).
  std::map<TopicPartition, Offset> checkpointed_;
  bool locked_ = false;
  // Standby: next offset per changelog partition applied since the last
  // CheckpointStandby (at-least-once).
  std::map<TopicPartition, Offset> standby_applied_;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_TASK_STORES_H_
