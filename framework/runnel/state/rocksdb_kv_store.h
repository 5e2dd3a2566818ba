#ifndef RUNNEL_STATE_ROCKSDB_KV_STORE_H_
#define RUNNEL_STATE_ROCKSDB_KV_STORE_H_

// The persistent key-value store: one RocksDB instance per store per task,
// under state.dir/<application.id>/<task>/<store>.
//
// Durability model (as in Kafka Streams): the changelog topic is the source
// of truth, so RocksDB's WAL is off for Put/PutAll; Flush() (on commit,
// before the checkpoint file is written) moves memtables to SST files. After
// a crash the store may hold writes newer than its checkpoint; replaying the
// changelog from the checkpoint rewrites them with the same values.
//
// Exactly-once uses WriteCommitted instead: a commit's writes and the
// changelog offset they reach go in one atomic write with the WAL on (not
// synced: a process crash keeps it, a power loss may not), the offset in a
// column family of its own ("runnel.meta"). The store then never holds an
// uncommitted write, and CommittedChangelogOffset says where a restore
// resumes.
//
// Threading: writes and Close from the owning task's thread only.
// Get/Range/All/ApproximateNumEntries may run on other threads (interactive
// queries) concurrently with writes and with Close: RocksDB reads are
// thread-safe, and Close waits for reads in progress (a reader lock); after
// it, reads return FailedPrecondition. An iterator must not outlive the
// store's Close (the query layer drains iterators under its own reference).

#include <memory>
#include <shared_mutex>
#include <string>

#include "runnel/common/types.h"
#include "runnel/state/kv_store.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class WriteBatch;
class WriteBufferManager;
}  // namespace rocksdb

namespace runnel {

// One memory budget for every RocksDB store of the process: a shared LRU
// block cache, and memtables charged against that same cache through a
// WriteBufferManager. Shared by all stores; outlives them (shared_ptr).
class RocksDbResources {
 public:
  // block_cache_bytes bounds the block cache (memtables included, up to
  // write_buffer_bytes of it).
  static std::shared_ptr<RocksDbResources> Create(int64_t block_cache_bytes, int64_t write_buffer_bytes);
  ~RocksDbResources();

  const std::shared_ptr<rocksdb::Cache>& cache() const { return cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffer_manager() const { return wbm_; }
  // Bytes currently charged to the block cache (blocks + memtables).
  int64_t CacheUsage() const;

 private:
  RocksDbResources() = default;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> wbm_;
};

class RocksDbKeyValueStore final : public KeyValueStore {
 public:
  // Opens (creating if missing) the store in `dir`. A corrupted database is
  // DataLoss: the caller wipes it (Destroy) and restores from the changelog.
  static absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> Open(
      std::string name, std::string dir, std::shared_ptr<RocksDbResources> resources);
  // Removes a closed store's files.
  static absl::Status Destroy(const std::string& dir);
  ~RocksDbKeyValueStore() override;

  std::string_view name() const override { return name_; }
  const std::string& dir() const { return dir_; }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from,
                                                          std::string_view to) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> RangeFrom(std::string_view from) const override;
  absl::StatusOr<int64_t> ApproximateNumEntries() const override;
  absl::Status Put(std::string_view key, std::optional<std::string_view> value) override;
  absl::Status PutAll(const std::vector<Write>& writes) override;
  // A range tombstone, written to the WAL (it may follow WriteCommitted
  // data, which must not come back after a crash either).
  absl::Status DropRange(std::string_view from, std::string_view to) override;
  absl::Status Flush() override;
  absl::Status Close() override;

  // Exactly-once commit: `writes` and, when given, the changelog offset
  // they bring the store to, atomically and WAL-protected.
  // `drops` ([from, to) ranges) are deleted first, in the same batch.
  absl::Status WriteCommitted(const std::vector<Write>& writes, std::optional<Offset> changelog_next,
                              const std::vector<std::pair<std::string, std::string>>& drops = {});
  // A RocksDB integer property ("rocksdb.total-sst-files-size", ...) summed
  // over the store's column families, for metrics. Any thread, like Get.
  absl::StatusOr<uint64_t> AggregatedIntProperty(const std::string& property) const;
  // The offset recorded by the last WriteCommitted; nullopt if none.
  absl::StatusOr<std::optional<Offset>> CommittedChangelogOffset() const;

 private:
  RocksDbKeyValueStore(std::string name, std::string dir, std::shared_ptr<RocksDbResources> resources,
                       rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles);
  absl::Status CheckOpen() const;
  absl::Status AddToBatch(const std::vector<Write>& writes, rocksdb::WriteBatch& batch) const;

  std::string name_;
  std::string dir_;
  std::shared_ptr<RocksDbResources> resources_;
  // Readers hold it shared; Close holds it exclusively while it resets db_.
  mutable std::shared_mutex close_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  // [0] default (the data), [1] runnel.meta; destroyed before db_ closes.
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_ROCKSDB_KV_STORE_H_
