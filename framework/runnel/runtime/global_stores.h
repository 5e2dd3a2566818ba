#ifndef RUNNEL_RUNTIME_GLOBAL_STORES_H_
#define RUNNEL_RUNTIME_GLOBAL_STORES_H_

// GlobalStores: the global stores of one instance (GlobalKTable), with the
// node graphs that update them, under state.dir/<application.id>/global
// (one directory per RocksDB store, and one checkpoint file for all).
//
// A global store is fed by every partition of its topic, on every instance,
// outside any task. The topic is the store's changelog (there is no other):
// the checkpoint records, per topic partition, the next offset the store
// does not hold yet, so a restart reads only the tail. Without a valid
// checkpoint the RocksDB files are wiped and the topic is read from its
// beginning; an in-memory store always starts from the beginning.
//
// Threading: one updating thread (the runtime's GlobalStreamThread, or the
// test driver's thread) calls Update, Checkpoint and Close. Stream tasks on
// any thread read the stores through ReadOnly() handles while the updater
// writes: a RocksDB store's reads are thread-safe against its writes (see
// rocksdb_kv_store.h), and an in-memory store is wrapped in a mutex here
// (its iterators copy their range, so they never see a write in progress).
// A read sees each update as soon as Update returns: global stores are not
// cached.
//
// Lifecycle: Open -> (Update / Checkpoint)... -> Close. The owner keeps the
// stores open until every reader (stream thread) has stopped.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/types.h"
#include "runnel/processor/node.h"
#include "runnel/runtime/local_stores.h"
#include "runnel/state/checkpoint.h"
#include "runnel/state/rocksdb_kv_store.h"
#include "runnel/topology/topology.h"

namespace runnel {

struct GlobalStoresOptions {
  std::string application_id;
  // state.dir/<application.id>/global
  std::string dir;
  // Needed when a global store is a RocksDB store.
  std::shared_ptr<RocksDbResources> rocksdb;
  // Required (InvalidArgument without one): the instance's clock, which
  // the updating processors read. Outlives the stores.
  const Clock* clock = nullptr;
  // default.deserialization.exception.handler=log_and_continue: skip (and
  // log) a record that cannot be deserialized; otherwise fail, naming it.
  bool skip_undeserializable = false;
  // Optional (outlives the stores): where RocksDB global stores are
  // registered for interactive queries (KafkaStreams::Store).
  LocalStores* local_stores = nullptr;
  // Optional: the instance's metrics (what global processors count).
  MetricsRegistry* metrics = nullptr;
};

class GlobalStores final : private TaskContext, private DeserializationErrorHandler {
 public:
  // Opens every global store of `topology` (none: an empty, valid object).
  static absl::StatusOr<std::unique_ptr<GlobalStores>> Open(std::shared_ptr<const Topology> topology,
                                                            GlobalStoresOptions options);
  ~GlobalStores() override;
  GlobalStores(const GlobalStores&) = delete;
  GlobalStores& operator=(const GlobalStores&) = delete;

  bool empty() const { return entries_.empty(); }
  // The topics the global stores read, one per store.
  std::vector<std::string> Topics() const;
  bool IsGlobalTopic(std::string_view topic) const;
  // The store that `topic` feeds; NotFound for another topic.
  absl::StatusOr<std::string> StoreOfTopic(std::string_view topic) const;

  // A read-only handle on the global store `name` for stream tasks (writes
  // fail with FailedPrecondition; Flush and Close do nothing), or nullptr
  // when there is no such global store. Valid until Close. Thread-safe.
  KeyValueStore* ReadOnly(std::string_view name) const;

  // Where each topic partition resumes: the checkpointed next offset, for
  // partitions of persistent stores the checkpoint vouches for.
  const std::map<TopicPartition, Offset>& checkpointed() const { return checkpointed_; }

  // Applies one record of a global topic: its store's processor writes
  // (or, for a null value, deletes) the key. Updater thread only.
  absl::Status Update(const RawRecord& record);
  // Makes every update so far durable (memtables to disk), then records
  // `positions` (next offset per topic partition) in the checkpoint file,
  // for the persistent stores. Updater thread only.
  absl::Status Checkpoint(const std::map<TopicPartition, Offset>& positions);
  // Closes the graphs and the stores (no checkpoint: call Checkpoint first
  // for a clean close). Idempotent; afterwards ReadOnly handles fail.
  void Close();
  // Wipes every global store and its checkpoint and opens them empty (a
  // checkpoint the topics contradict: recreated or truncated). Only before
  // any reader has a ReadOnly handle (bootstrap).
  absl::Status Reset();

 private:
  struct Entry;
  GlobalStores(std::shared_ptr<const Topology> topology, GlobalStoresOptions options);
  absl::Status OpenAll();
  Entry* EntryOfTopic(std::string_view topic) const;

  // TaskContext, for the updating processors.
  std::string_view application_id() const override { return options_.application_id; }
  TaskId task_id() const override { return current_task_; }
  const RecordMetadata* record_metadata() const override { return current_; }
  Timestamp stream_time() const override { return stream_time_; }
  const Clock& clock() const override { return *options_.clock; }
  void RequestCommit() override {}
  MetricsRegistry& metrics() override { return options_.metrics != nullptr ? *options_.metrics : own_metrics_; }
  KeyValueStore* GetKeyValueStore(std::string_view name) override;
  Cancellable Schedule(absl::Duration interval, PunctuationType type, Punctuator punctuator) override;

  // DeserializationErrorHandler
  absl::Status Handle(const RawRecord& record, std::string_view part, const absl::Status& error,
                      std::string_view node) override;

  std::shared_ptr<const Topology> topology_;
  GlobalStoresOptions options_;
  MetricsRegistry own_metrics_;
  CheckpointFile checkpoint_;
  std::map<TopicPartition, Offset> checkpointed_;
  std::vector<std::unique_ptr<Entry>> entries_;
  processor::internal::NodeEnv env_;
  RecordMetadata metadata_;
  const RecordMetadata* current_ = nullptr;
  TaskId current_task_;
  Timestamp stream_time_{-1};
  RateLimiter skipped_log_{10'000};
  bool closed_ = false;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_GLOBAL_STORES_H_
