#ifndef RUNNEL_STATE_RECORD_CACHE_H_
#define RUNNEL_STATE_RECORD_CACHE_H_

// The record cache: merges repeated updates of a key between commits, so
// a hot key costs one store write, one changelog record and one downstream
// record per commit instead of one per input record
// (statestore.cache.max.bytes; Kafka Streams' caching layer).
//
// CachingKeyValueStore sits on top of the changelogging store. Writes land in
// the cache as dirty entries, each with the timestamp of its write; they go
// down (one batch to the store below, each write with its entry's timestamp,
// so its changelog record carries the time of the put, not of the flush;
// then one call to the flush listener per key, in first-dirtied order) when
//   - Flush() is called (every commit), or
//   - the task's cache budget is exceeded (eviction). With a budget of 0
//     every write goes straight down: "forward every update".
// Reads see the cache first. Range/All merge the dirty entries over the
// store below into a snapshot.
//
// Threading: the owning task's thread, like the budget it shares with the
// task's other caching stores.

#include <cstdint>
#include <functional>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "runnel/common/types.h"
#include "runnel/state/kv_store.h"

namespace runnel {

// Bytes of cache the stores of one stream thread's tasks may hold together.
// Owned by the stream thread (the test driver owns one for all its tasks);
// shared by every cached store of its tasks.
class RecordCacheBudget {
 public:
  explicit RecordCacheBudget(int64_t max_bytes) : max_bytes_(max_bytes) {}
  int64_t max_bytes() const { return max_bytes_; }
  int64_t used_bytes() const { return used_bytes_; }
  bool Exceeded() const { return used_bytes_ > max_bytes_; }
  void Add(int64_t delta) { used_bytes_ += delta; }

 private:
  int64_t max_bytes_;
  int64_t used_bytes_ = 0;
};

class CachingKeyValueStore final : public KeyValueStore {
 public:
  // Called for each key that goes down, after the store below has it, with
  // the timestamp of the record that last wrote it. old_value is the value
  // before this flush (read from the store below) when send_old_values is
  // set, else nullopt.
  using FlushListener =
      std::function<absl::Status(std::string_view key, std::optional<std::string_view> new_value,
                                 std::optional<std::string_view> old_value, Timestamp timestamp)>;

  // `timestamp` gives the timestamp of the record being processed.
  CachingKeyValueStore(std::shared_ptr<KeyValueStore> inner, RecordCacheBudget* budget,
                       std::function<Timestamp()> timestamp);

  // Set by the processor that owns the store's output (an aggregation
  // forwards its results downstream from here).
  void SetFlushListener(FlushListener listener, bool send_old_values) {
    listener_ = std::move(listener);
    send_old_values_ = send_old_values;
  }
  ~CachingKeyValueStore() override;

  KeyValueStore& inner() { return *inner_; }
  int64_t dirty_count() const { return static_cast<int64_t>(dirty_.size()); }

  std::string_view name() const override { return inner_->name(); }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from,
                                                          std::string_view to) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override;
  absl::StatusOr<int64_t> ApproximateNumEntries() const override;
  absl::Status Put(std::string_view key, std::optional<std::string_view> value) override;
  // Put, giving the entry (and so the flush listener) `timestamp` instead of
  // the current record's: for a result that carries a timestamp of its own
  // (a join's is the later of its two rows').
  absl::Status PutWithTimestamp(std::string_view key, std::optional<std::string_view> value, Timestamp timestamp);
  absl::Status PutAll(const std::vector<Write>& writes) override;
  // Sends every dirty entry down first (a window's last update is not lost
  // to retention), then drops the range from the cache and below.
  absl::Status DropRange(std::string_view from, std::string_view to) override;
  // Sends every dirty entry down, then flushes the store below.
  absl::Status Flush() override;
  // Drops the cache without sending it down (a dirty close: the changelog
  // and the uncommitted input rebuild it). Flush() first for a clean close.
  absl::Status Close() override;

 private:
  struct Entry {
    std::optional<std::string> value;  // nullopt: deleted
    bool dirty = false;
    Timestamp timestamp{0};
  };
  static int64_t SizeOf(std::string_view key, const Entry& e);
  absl::Status FlushDirty();
  absl::Status Evict();
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Merge(std::unique_ptr<KeyValueIterator> below,
                                                          std::optional<std::string_view> from,
                                                          std::optional<std::string_view> to) const;

  // Shared: a persistent store below may also be held by read-only query
  // views (see RocksDbKeyValueStore threading).
  std::shared_ptr<KeyValueStore> inner_;
  RecordCacheBudget* budget_;
  std::function<Timestamp()> timestamp_;
  FlushListener listener_;
  bool send_old_values_ = false;
  absl::flat_hash_map<std::string, Entry> entries_;
  // Keys of dirty entries, oldest first.
  std::deque<std::string> dirty_;
  int64_t bytes_ = 0;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_RECORD_CACHE_H_
