#ifndef RUNNEL_STATE_KV_STORE_H_
#define RUNNEL_STATE_KV_STORE_H_

// Key-value state stores over serialized bytes. Typed access (serdes) lives a
// layer up; here keys order bytewise (unsigned lexicographic), exactly as
// RocksDB's default comparator and Kafka Streams' Bytes do, so a range scan
// means the same thing in every implementation.
//
// Layers, outermost first, each a KeyValueStore wrapping the next:
//   CachingKeyValueStore  (record_cache.h: merges updates between commits)
//   ChangeLoggingKeyValueStore (changelog.h: every write to the changelog)
//   RocksDbKeyValueStore or InMemoryKeyValueStore (the bytes)
//
// Threading: a store belongs to one stream task and is written only by the
// thread running it. Read-only views (ReadOnlyKeyValueStore) may be used by
// the query layer from other threads only through a store that documents it
// (RocksDbKeyValueStore does; the in-memory store does not).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/types.h"

namespace runnel {

struct KeyValueEntry {
  std::string key;
  std::string value;
  bool operator==(const KeyValueEntry&) const = default;
};

// Forward iteration over a snapshot or a live range. Valid() is false at the
// end or after an error; status() tells which.
class KeyValueIterator {
 public:
  virtual ~KeyValueIterator() = default;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual absl::Status status() const = 0;
};

// Drains an iterator into entries (tests, small ranges).
absl::StatusOr<std::vector<KeyValueEntry>> Collect(KeyValueIterator& it);
// An iterator over entries it owns (already in key order).
std::unique_ptr<KeyValueIterator> MakeSnapshotIterator(std::vector<KeyValueEntry> entries);

// A pending write over a store: a value, or nullopt for a delete.
struct OverlayEntry {
  std::string_view key;
  const std::optional<std::string>* value;
};
// Drains `below` and lays `overlay` (writes not yet in it, any order) over
// it: a snapshot iterator over the result. The overlay must already be
// limited to the range `below` covers.
absl::StatusOr<std::unique_ptr<KeyValueIterator>> MergeOverlay(std::unique_ptr<KeyValueIterator> below,
                                                               const std::vector<OverlayEntry>& overlay);

class ReadOnlyKeyValueStore {
 public:
  virtual ~ReadOnlyKeyValueStore() = default;
  virtual std::string_view name() const = 0;
  // nullopt when the key has no value.
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;
  // Keys in [from, to], both inclusive, in bytewise order. from > to is an
  // empty range.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(
      std::string_view from, std::string_view to) const = 0;
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const = 0;
  // Keys >= from in bytewise order: a range with no upper bound. The
  // default walks All() up to `from` (cost grows with the keys before it);
  // RocksDB seeks.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<KeyValueIterator>> RangeFrom(std::string_view from) const;
  // An estimate for RocksDB, exact in memory.
  [[nodiscard]] virtual absl::StatusOr<int64_t> ApproximateNumEntries() const = 0;
};

class KeyValueStore : public ReadOnlyKeyValueStore {
 public:
  // A null value deletes the key (a tombstone, as in a changelog).
  [[nodiscard]] virtual absl::Status Put(std::string_view key, std::optional<std::string_view> value) = 0;
  [[nodiscard]] absl::Status Delete(std::string_view key) { return Put(key, std::nullopt); }
  // Applies the writes in order; for RocksDB atomically.
  struct Write {
    std::string key;
    std::optional<std::string> value;
    // The timestamp of the record that made this write, when it is not the
    // one being processed now: a cache sending its entries down later sets
    // it. Only stores that log writes (ChangeLoggingKeyValueStore) read it;
    // unset, they take the current record's.
    std::optional<Timestamp> timestamp;
  };
  [[nodiscard]] virtual absl::Status PutAll(const std::vector<Write>& writes) = 0;
  // Deletes every key in [from, to) here and in the stores below, with no
  // changelog record. For retention only (a window store dropping an expired
  // segment): the changelog topic's own retention expires those records,
  // and a restore drops them again. A range tombstone in RocksDB: cheap
  // whatever the range holds.
  [[nodiscard]] virtual absl::Status DropRange(std::string_view from, std::string_view to) = 0;
  // Makes every write so far durable in the store's own medium (memtable to
  // SST for RocksDB; a no-op in memory). Called on commit before the
  // checkpoint is written.
  [[nodiscard]] virtual absl::Status Flush() = 0;
  // Idempotent. Afterwards every call fails with FailedPrecondition.
  [[nodiscard]] virtual absl::Status Close() = 0;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_KV_STORE_H_
