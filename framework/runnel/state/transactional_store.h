#ifndef RUNNEL_STATE_TRANSACTIONAL_STORE_H_
#define RUNNEL_STATE_TRANSACTIONAL_STORE_H_

// TransactionalKeyValueStore: under exactly_once_v2, keeps a task's writes
// out of RocksDB until the Kafka transaction carrying their changelog
// records has committed.
//
// Writes land in an in-memory overlay (reads and ranges see it over the
// RocksDB store below). Commit() moves the overlay down in one atomic,
// WAL-protected RocksDB write together with the changelog offset it
// reaches; Abort() drops it. So after a crash (kill -9) the database holds
// exactly the state of some committed transaction plus the offset to resume
// the changelog from: the restore replays only the committed tail, never the
// whole changelog (Kafka Streams' default under EOS wipes the store).
//
// Sits between the changelogging layer and the RocksDB store:
//   Caching -> ChangeLogging -> Transactional -> RocksDb
// The overlay holds what reached it since the last commit: with the record
// cache on, mostly the cache's flush at commit time; without it, every
// distinct key written in a commit interval.
//
// Threading: the owning task's thread. Queries from other threads read the
// RocksDB store below directly, so they see committed state only.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "runnel/common/types.h"
#include "runnel/state/rocksdb_kv_store.h"

namespace runnel {

class TransactionalKeyValueStore final : public KeyValueStore {
 public:
  explicit TransactionalKeyValueStore(std::shared_ptr<RocksDbKeyValueStore> inner) : inner_(std::move(inner)) {}

  RocksDbKeyValueStore& inner() { return *inner_; }
  // Writes waiting for Commit.
  size_t pending() const { return pending_.size(); }
  // Moves the pending writes into the store with `changelog_next` (the
  // changelog offset after this commit's last record), atomically.
  absl::Status Commit(std::optional<Offset> changelog_next);
  // Drops the pending writes (the transaction was aborted).
  void Abort() {
    pending_.clear();
    pending_drops_.clear();
  }
  // Applies restored changelog records straight to the store, with the
  // offset after them (there is nothing pending during a restore).
  absl::Status RestoreBatch(const std::vector<Write>& writes, Offset changelog_next) {
    return inner_->WriteCommitted(writes, changelog_next);
  }

  std::string_view name() const override { return inner_->name(); }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from,
                                                          std::string_view to) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override;
  // An estimate: pending writes count as new keys.
  absl::StatusOr<int64_t> ApproximateNumEntries() const override;
  absl::Status Put(std::string_view key, std::optional<std::string_view> value) override;
  absl::Status PutAll(const std::vector<Write>& writes) override;
  // Drops pending writes in the range and hides the committed data there;
  // the committed data goes in the commit's atomic write. Not at once: a
  // crash before the commit must find the range as the last commit left it,
  // since the replayed input may still need it (a window that the aborted
  // transaction emitted is emitted again from it).
  absl::Status DropRange(std::string_view from, std::string_view to) override;
  // Nothing to do: pending writes wait for Commit, and the committed ones
  // are in RocksDB's WAL (memtables need no flush to survive a crash).
  absl::Status Flush() override { return absl::OkStatus(); }
  // Drops pending writes and closes the store below.
  absl::Status Close() override;

 private:
  std::vector<OverlayEntry> OverlayIn(std::optional<std::string_view> from,
                                      std::optional<std::string_view> to) const;

  std::shared_ptr<RocksDbKeyValueStore> inner_;
  bool Dropped(std::string_view key) const;
  // `below` without the keys of pending drops.
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> WithoutDropped(std::unique_ptr<KeyValueIterator> below) const;

  std::map<std::string, std::optional<std::string>, std::less<>> pending_;
  // [from, to) ranges dropped since the last commit.
  std::vector<std::pair<std::string, std::string>> pending_drops_;
  bool closed_ = false;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_TRANSACTIONAL_STORE_H_
