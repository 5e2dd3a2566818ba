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

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "runnel/common/types.h"
#include "runnel/state/kv_store.h"

namespace runnel {

// How current one local copy of a store is, for interactive queries.
// Written by the copy's owner (its stream thread or the standby thread),
// read by query threads: every field is atomic or under `mu`.
class StoreCopyStatus {
 public:
  // `thread`: the index of the stream thread that owns an active copy
  // (-1 for standbys).
  explicit StoreCopyStatus(bool standby, int thread = -1) : standby_(standby), thread_(thread) {}

  bool standby() const { return standby_; }
  int thread() const { return thread_; }
  // Active copies: restored and processing. Standbys are never "ready"; they
  // answer only requests that allow their lag.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_release); }

  // The changelog partition, and the next changelog offset the readable
  // (committed) state reflects; -1 before the first restore or commit.
  void SetChangelog(TopicPartition tp) {
    absl::MutexLock lock(&mu_);
    changelog_ = std::move(tp);
  }
  void SetChangelogPosition(Offset next) {
    changelog_position_.store(next.value(), std::memory_order_release);
    NotifyPositionListeners();
  }
  // The changelog's end as last seen (standbys: the consumer's cached high
  // watermark; restoring actives: the restore's target).
  void SetChangelogEnd(Offset end) { changelog_end_.store(end.value(), std::memory_order_release); }
  int64_t changelog_position() const { return changelog_position_.load(std::memory_order_acquire); }
  int64_t changelog_end() const { return changelog_end_.load(std::memory_order_acquire); }
  // Records behind the changelog's end; 0 for a ready active copy.
  int64_t Lag() const;
  // The input partitions' committed offsets (active copies).
  void SetInputPositions(const std::vector<std::pair<TopicPartition, Offset>>& offsets);
  // Changelog position first, then the inputs'.
  std::vector<std::pair<TopicPartition, Offset>> Positions() const;

  // Position listeners, for queries that wait until a copy reaches a
  // position (ReadOptions.min_position) without polling: `listener` runs on
  // the writer's thread after every SetChangelogPosition and
  // SetInputPositions, so it must only signal (never block or call back in
  // here). Const: readers hold the status as const; listeners are not part
  // of its state. Remove returns after any running call of it has ended.
  int64_t AddPositionListener(std::function<void()> listener) const;
  void RemovePositionListener(int64_t id) const;

 private:
  void NotifyPositionListeners() const;

  const bool standby_;
  const int thread_;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> changelog_position_{-1};
  std::atomic<int64_t> changelog_end_{-1};
  mutable absl::Mutex mu_;
  std::optional<TopicPartition> changelog_ ABSL_GUARDED_BY(mu_);
  std::map<TopicPartition, Offset> inputs_ ABSL_GUARDED_BY(mu_);
  // Checked without the lock so that writers pay nothing when none listens.
  mutable std::atomic<int> listener_count_{0};
  mutable absl::Mutex listeners_mu_;
  mutable int64_t next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  mutable std::map<int64_t, std::function<void()>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

class LocalStores {
 public:
  // `status` null: an active copy that is always ready (global stores).
  void Add(const std::string& store, TaskId task, std::shared_ptr<ReadOnlyKeyValueStore> view,
           std::shared_ptr<const StoreCopyStatus> status = nullptr);
  void Remove(const std::string& store, TaskId task);
  // The local active tasks' copies of `store`, by task.
  std::vector<std::pair<TaskId, std::shared_ptr<ReadOnlyKeyValueStore>>> Find(std::string_view store) const;

  struct Copy {
    TaskId task;
    std::shared_ptr<ReadOnlyKeyValueStore> view;
    std::shared_ptr<const StoreCopyStatus> status;  // null: always ready
  };
  // The copy of `store` for `task`, if this instance has one.
  std::optional<Copy> FindCopy(std::string_view store, TaskId task) const;
  // Every copy, standbys included.
  std::vector<Copy> FindCopies(std::string_view store) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<TaskId, Copy>, std::less<>> stores_ ABSL_GUARDED_BY(mu_);
};

// One store across all local tasks: Get asks each task's copy (a key lives
// in one partition); Range/All merge them in key order (into a snapshot);
// ApproximateNumEntries sums. NotFound when no local task holds the store.
std::unique_ptr<ReadOnlyKeyValueStore> MakeLocalStoreView(std::string name, std::shared_ptr<const LocalStores> stores);

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_LOCAL_STORES_H_
