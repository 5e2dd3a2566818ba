#ifndef RUNNEL_RUNTIME_LOCAL_STORES_H_
#define RUNNEL_RUNTIME_LOCAL_STORES_H_

// Read-only access to this instance's persistent stores from any thread:
// the base of interactive queries.
//
// LocalStores is a registry: a task registers each RocksDB store when it
// opens it and removes it before closing it. A view (KafkaStreams::Store)
// looks the stores up on every call, so it follows tasks as rebalances move
// them, and holds each store by shared_ptr while it reads (a store closed
// meanwhile answers FailedPrecondition instead of crashing).
//
// What a view reads is what the tasks' RocksDB stores hold: every update up
// to the last commit (or cache eviction), not the record cache's newer,
// unflushed updates. In-memory stores are not registered (not thread-safe).
//
// Threading: LocalStores and views are thread-safe.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "runnel/common/types.h"
#include "runnel/state/kv_store.h"

namespace runnel {

class LocalStores {
 public:
  void Add(const std::string& store, TaskId task, std::shared_ptr<ReadOnlyKeyValueStore> view);
  void Remove(const std::string& store, TaskId task);
  // The local tasks' copies of `store`, by task.
  std::vector<std::pair<TaskId, std::shared_ptr<ReadOnlyKeyValueStore>>> Find(std::string_view store) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<TaskId, std::shared_ptr<ReadOnlyKeyValueStore>>, std::less<>> stores_
      ABSL_GUARDED_BY(mu_);
};

// One store across all local tasks: Get asks each task's copy (a key lives
// in one partition); Range/All merge them in key order (into a snapshot);
// ApproximateNumEntries sums. NotFound when no local task holds the store.
std::unique_ptr<ReadOnlyKeyValueStore> MakeLocalStoreView(std::string name, std::shared_ptr<const LocalStores> stores);

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_LOCAL_STORES_H_
