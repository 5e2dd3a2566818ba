#include "runnel/state/rocksdb_kv_store.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/state/internal/rocksdb_status.h"

namespace runnel {
namespace state::internal {

absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(ToAbsl(context), ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return absl::UnavailableError(message);
  if (s.IsIOError()) return absl::InternalError(message);
  return absl::InternalError(message);
}

}  // namespace state::internal

namespace {

using state::internal::FromRocksDb;

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// Walks a RocksDB iterator up to an inclusive upper key (none: to the end).
// Holds the store's reader lock for its lifetime, so the store's Close waits
// for it (the owning thread must destroy its iterators before closing).
class RocksDbIterator final : public KeyValueIterator {
 public:
  RocksDbIterator(std::shared_lock<std::shared_mutex> lock, std::unique_ptr<rocksdb::Iterator> it,
                  std::optional<std::string> to)
      : lock_(std::move(lock)), it_(std::move(it)), to_(std::move(to)) {}
  bool Valid() const override { return it_->Valid() && (!to_ || ToView(it_->key()) <= *to_); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return ToView(it_->key()); }
  std::string_view value() const override { return ToView(it_->value()); }
  absl::Status status() const override { return FromRocksDb(it_->status(), "iterating"); }

 private:
  // Declared first: released after the iterator is destroyed.
  std::shared_lock<std::shared_mutex> lock_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::optional<std::string> to_;
};

// Tuned for small keyed records read-modify-written per record: bloom
// filters and a hash index in each data block for point lookups (a Get
// finds its key in the block without a binary search), LZ4 below the top
// level, 16 KiB blocks. Aggregations look up many keys that are not there
// yet (a new key, a new window: a hopping window's record opens several),
// so a memtable bloom filter answers those misses without searching the
// memtable, and L0 files keep their filter blocks pinned instead of
// looking them up in the block cache on every Get.
//
// Found by the soak run (docs/reliability.md#soak), for a process with many
// stores (the sensor dashboard: 20 stores, 40 column families):
// - Memtable arena blocks of 64 KiB, not RocksDB's min(1 MiB, buffer / 8): a
//   memtable holds at least one arena block from its first write, and the
//   WriteBufferManager flushes whenever the process's memtables exceed 7/8
//   of rocksdb.write.buffer.bytes, so 40 memtables x 1 MiB > 28 MiB made
//   every store flush nearly empty memtables about once a second (tiny SST
//   files, compactions, WAL switches) for as long as it ran.
// - The info LOG is capped (1 MiB, 2 files): it grew without bound, about
//   3 MiB per store in 10 minutes, most of the state directory.
// - No fallocate: RocksDB reserved ~18 MiB of disk per WAL file (and 4 MiB
//   per MANIFEST) up front, so the state directory took ~10x its data on
//   disk (du), though the WAL only carries exactly-once commits.
constexpr size_t kArenaBlockBytes = 64 << 10;

rocksdb::Options StoreOptions(const RocksDbResources& resources) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_manager = resources.write_buffer_manager();
  options.write_buffer_size = 16 << 20;
  options.max_write_buffer_number = 3;
  options.compression = rocksdb::kLZ4Compression;
  options.bottommost_compression = rocksdb::kLZ4Compression;
  options.max_background_jobs = 2;
  options.max_open_files = -1;
  options.avoid_flush_during_shutdown = false;
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;
  options.arena_block_size = kArenaBlockBytes;
  options.max_log_file_size = 1 << 20;
  options.keep_log_file_num = 2;
  options.allow_fallocate = false;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = resources.cache();
  table.block_size = 16 << 10;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.data_block_hash_table_util_ratio = 0.75;
  table.format_version = 5;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

constexpr char kMetaFamily[] = "runnel.meta";
constexpr char kChangelogOffsetKey[] = "changelog.offset";

rocksdb::WriteOptions NoWal() {
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  return w;
}

}  // namespace

std::shared_ptr<RocksDbResources> RocksDbResources::Create(int64_t block_cache_bytes,
                                                           int64_t write_buffer_bytes) {
  std::shared_ptr<RocksDbResources> r(new RocksDbResources());
  r->cache_ = rocksdb::NewLRUCache(static_cast<size_t>(block_cache_bytes));
  r->wbm_ = std::make_shared<rocksdb::WriteBufferManager>(static_cast<size_t>(write_buffer_bytes),
                                                          r->cache_);
  return r;
}

RocksDbResources::~RocksDbResources() = default;

int64_t RocksDbResources::CacheUsage() const { return static_cast<int64_t>(cache_->GetUsage()); }

absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> RocksDbKeyValueStore::Open(
    std::string name, std::string dir, std::shared_ptr<RocksDbResources> resources) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("store '", name, "': creating ", dir, ": ", ec.message()));
  }
  rocksdb::Options options = StoreOptions(*resources);
  options.create_missing_column_families = true;
  // The meta family holds one key (the committed changelog offset): a small
  // memtable with the same small arena blocks (see StoreOptions).
  rocksdb::ColumnFamilyOptions meta;
  meta.write_buffer_size = 1 << 20;
  meta.arena_block_size = kArenaBlockBytes;
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options)}, {kMetaFamily, meta}};
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(options), dir, families, &handles, &db);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("opening store '", name, "' in ", dir));
  return std::unique_ptr<RocksDbKeyValueStore>(new RocksDbKeyValueStore(
      std::move(name), std::move(dir), std::move(resources), db, std::move(handles)));
}

absl::Status RocksDbKeyValueStore::Destroy(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("removing ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

RocksDbKeyValueStore::RocksDbKeyValueStore(std::string name, std::string dir,
                                           std::shared_ptr<RocksDbResources> resources, rocksdb::DB* db,
                                           std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : name_(std::move(name)),
      dir_(std::move(dir)),
      resources_(std::move(resources)),
      db_(db),
      handles_(std::move(handles)) {}

RocksDbKeyValueStore::~RocksDbKeyValueStore() { (void)Close(); }

absl::Status RocksDbKeyValueStore::CheckOpen() const {
  if (db_ == nullptr) return absl::FailedPreconditionError(absl::StrCat("store '", name_, "' is closed"));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> RocksDbKeyValueStore::Get(std::string_view key) const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("get from store '", name_, "'"));
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> RocksDbKeyValueStore::Range(std::string_view from,
                                                                              std::string_view to) const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->Seek(ToSlice(from));
  // from > to: Valid() is false at once, since every key >= from is > to.
  return std::unique_ptr<KeyValueIterator>(new RocksDbIterator(std::move(lock), std::move(it), std::string(to)));
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> RocksDbKeyValueStore::All() const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  return std::unique_ptr<KeyValueIterator>(new RocksDbIterator(std::move(lock), std::move(it), std::nullopt));
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> RocksDbKeyValueStore::RangeFrom(std::string_view from) const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->Seek(ToSlice(from));
  return std::unique_ptr<KeyValueIterator>(new RocksDbIterator(std::move(lock), std::move(it), std::nullopt));
}

absl::StatusOr<int64_t> RocksDbKeyValueStore::ApproximateNumEntries() const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  uint64_t n = 0;
  if (!db_->GetIntProperty("rocksdb.estimate-num-keys", &n)) {
    return absl::InternalError(absl::StrCat("store '", name_, "': no rocksdb.estimate-num-keys"));
  }
  return static_cast<int64_t>(n);
}

absl::StatusOr<uint64_t> RocksDbKeyValueStore::AggregatedIntProperty(const std::string& property) const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  uint64_t value = 0;
  if (!db_->GetAggregatedIntProperty(property, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("store '", name_, "': no integer property ", property));
  }
  return value;
}

absl::Status RocksDbKeyValueStore::Put(std::string_view key, std::optional<std::string_view> value) {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  rocksdb::Status s = value ? db_->Put(NoWal(), ToSlice(key), ToSlice(*value))
                            : db_->Delete(NoWal(), ToSlice(key));
  return FromRocksDb(s, absl::StrCat("write to store '", name_, "'"));
}

absl::Status RocksDbKeyValueStore::PutAll(const std::vector<Write>& writes) {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  RUNNEL_RETURN_IF_ERROR(AddToBatch(writes, batch));
  return FromRocksDb(db_->Write(NoWal(), &batch), absl::StrCat("batch write to store '", name_, "'"));
}

absl::Status RocksDbKeyValueStore::DropRange(std::string_view from, std::string_view to) {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (from >= to) return absl::OkStatus();
  return FromRocksDb(db_->DeleteRange(rocksdb::WriteOptions(), handles_[0], ToSlice(from), ToSlice(to)),
                     absl::StrCat("dropping a range of store '", name_, "'"));
}

absl::Status RocksDbKeyValueStore::AddToBatch(const std::vector<Write>& writes, rocksdb::WriteBatch& batch) const {
  for (const auto& w : writes) {
    rocksdb::Status s = w.value ? batch.Put(ToSlice(w.key), ToSlice(*w.value)) : batch.Delete(ToSlice(w.key));
    if (!s.ok()) return FromRocksDb(s, absl::StrCat("batching writes to store '", name_, "'"));
  }
  return absl::OkStatus();
}

absl::Status RocksDbKeyValueStore::Flush() {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  rocksdb::FlushOptions options;
  options.wait = true;
  return FromRocksDb(db_->Flush(options, handles_), absl::StrCat("flushing store '", name_, "'"));
}

absl::Status RocksDbKeyValueStore::WriteCommitted(const std::vector<Write>& writes,
                                                  std::optional<Offset> changelog_next,
                                                  const std::vector<std::pair<std::string, std::string>>& drops) {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  for (const auto& [from, to] : drops) {
    rocksdb::Status s = batch.DeleteRange(handles_[0], ToSlice(from), ToSlice(to));
    if (!s.ok()) return FromRocksDb(s, absl::StrCat("batching a range drop of store '", name_, "'"));
  }
  RUNNEL_RETURN_IF_ERROR(AddToBatch(writes, batch));
  if (changelog_next) {
    std::string encoded = absl::StrCat(changelog_next->value());
    rocksdb::Status s = batch.Put(handles_[1], kChangelogOffsetKey, encoded);
    if (!s.ok()) return FromRocksDb(s, absl::StrCat("batching the offset of store '", name_, "'"));
  }
  rocksdb::WriteOptions wal;
  wal.disableWAL = false;
  wal.sync = false;
  return FromRocksDb(db_->Write(wal, &batch), absl::StrCat("committed write to store '", name_, "'"));
}

absl::StatusOr<std::optional<Offset>> RocksDbKeyValueStore::CommittedChangelogOffset() const {
  std::shared_lock<std::shared_mutex> lock(close_mu_);
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[1], kChangelogOffsetKey, &value);
  if (s.IsNotFound()) return std::optional<Offset>();
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("reading the offset of store '", name_, "'"));
  int64_t offset = 0;
  if (!absl::SimpleAtoi(value, &offset)) {
    return absl::DataLossError(absl::StrCat("store '", name_, "': bad committed offset '", value, "'"));
  }
  return std::optional<Offset>(Offset(offset));
}

absl::Status RocksDbKeyValueStore::Close() {
  // Without a WAL, unflushed memtables would be lost on close.
  absl::Status flushed = Flush();
  std::unique_lock<std::shared_mutex> lock(close_mu_);
  if (db_ == nullptr) return absl::OkStatus();
  for (rocksdb::ColumnFamilyHandle* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  rocksdb::Status closed = db_->Close();
  db_.reset();
  if (!flushed.ok()) return flushed;
  return FromRocksDb(closed, absl::StrCat("closing store '", name_, "'"));
}

}  // namespace runnel
