#include "runnel/state/record_cache.h"

#include <map>

#include "runnel/common/strings.h"

namespace runnel {
namespace {

// Bookkeeping per entry beyond key and value bytes (map slot, list node).
constexpr int64_t kEntryOverhead = 64;

}  // namespace

CachingKeyValueStore::CachingKeyValueStore(std::shared_ptr<KeyValueStore> inner, RecordCacheBudget* budget,
                                           std::function<Timestamp()> timestamp)
    : inner_(std::move(inner)), budget_(budget), timestamp_(std::move(timestamp)) {}

CachingKeyValueStore::~CachingKeyValueStore() { budget_->Add(-bytes_); }

int64_t CachingKeyValueStore::SizeOf(std::string_view key, const Entry& e) {
  return static_cast<int64_t>(key.size() + (e.value ? e.value->size() : 0)) + kEntryOverhead;
}

absl::StatusOr<std::optional<std::string>> CachingKeyValueStore::Get(std::string_view key) const {
  auto it = entries_.find(ToAbsl(key));
  if (it != entries_.end()) return it->second.value;
  return inner_->Get(key);
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> CachingKeyValueStore::Merge(
    std::unique_ptr<KeyValueIterator> below, std::optional<std::string_view> from,
    std::optional<std::string_view> to) const {
  std::vector<OverlayEntry> overlay;
  for (const auto& [key, entry] : entries_) {
    if (!entry.dirty) continue;
    std::string_view k = key;
    if ((from && k < *from) || (to && k > *to)) continue;
    overlay.push_back({k, &entry.value});
  }
  return MergeOverlay(std::move(below), overlay);
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> CachingKeyValueStore::Range(std::string_view from,
                                                                              std::string_view to) const {
  auto below = inner_->Range(from, to);
  if (!below.ok()) return below.status();
  if (from > to) return std::move(*below);
  return Merge(*std::move(below), from, to);
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> CachingKeyValueStore::All() const {
  auto below = inner_->All();
  if (!below.ok()) return below.status();
  return Merge(*std::move(below), std::nullopt, std::nullopt);
}

absl::StatusOr<int64_t> CachingKeyValueStore::ApproximateNumEntries() const {
  // An estimate: dirty inserts not yet below are not counted.
  return inner_->ApproximateNumEntries();
}

absl::Status CachingKeyValueStore::Put(std::string_view key, std::optional<std::string_view> value) {
  return PutWithTimestamp(key, value, timestamp_());
}

absl::Status CachingKeyValueStore::PutWithTimestamp(std::string_view key, std::optional<std::string_view> value,
                                                    Timestamp timestamp) {
  auto [it, inserted] = entries_.try_emplace(ToAbsl(key));
  Entry& e = it->second;
  const int64_t before = inserted ? 0 : SizeOf(key, e);
  e.value = value ? std::optional<std::string>(std::string(*value)) : std::nullopt;
  e.timestamp = timestamp;
  if (!e.dirty) {
    e.dirty = true;
    dirty_.emplace_back(key);
  }
  const int64_t delta = SizeOf(key, e) - before;
  bytes_ += delta;
  budget_->Add(delta);
  if (budget_->Exceeded()) return Evict();
  return absl::OkStatus();
}

absl::Status CachingKeyValueStore::PutAll(const std::vector<Write>& writes) {
  for (const auto& w : writes) {
    absl::Status s = PutWithTimestamp(w.key, w.value ? std::optional<std::string_view>(*w.value) : std::nullopt,
                                      w.timestamp ? *w.timestamp : timestamp_());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CachingKeyValueStore::DropRange(std::string_view from, std::string_view to) {
  if (from >= to) return absl::OkStatus();
  if (absl::Status s = FlushDirty(); !s.ok()) return s;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const std::string_view key = it->first;
    if (key >= from && key < to) {
      const int64_t size = SizeOf(key, it->second);
      bytes_ -= size;
      budget_->Add(-size);
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  return inner_->DropRange(from, to);
}

absl::Status CachingKeyValueStore::FlushDirty() {
  if (dirty_.empty()) return absl::OkStatus();
  // Each write keeps its entry's timestamp: the changelog record below and
  // the listener's record carry the time of the put, not of this flush.
  std::vector<Write> batch;
  batch.reserve(dirty_.size());
  std::vector<std::optional<std::string>> olds;
  if (send_old_values_) olds.reserve(dirty_.size());
  for (const std::string& key : dirty_) {
    const Entry& e = entries_.find(key)->second;
    if (send_old_values_) {
      auto old = inner_->Get(key);
      if (!old.ok()) return old.status();
      olds.push_back(*std::move(old));
    }
    batch.push_back({key, e.value, e.timestamp});
  }
  if (absl::Status s = inner_->PutAll(batch); !s.ok()) return s;
  // The store below has every entry now: they are clean even if a listener
  // fails (the task then fails and its uncommitted input is replayed).
  for (const auto& w : batch) entries_.find(w.key)->second.dirty = false;
  dirty_.clear();
  if (!listener_) return absl::OkStatus();
  for (size_t i = 0; i < batch.size(); ++i) {
    std::optional<std::string_view> old;
    if (send_old_values_ && olds[i]) old = *olds[i];
    const auto& value = batch[i].value;
    absl::Status s = listener_(batch[i].key, value ? std::optional<std::string_view>(*value) : std::nullopt, old,
                               *batch[i].timestamp);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Over budget: everything dirty in this store goes down in one batch, then
// clean entries are dropped (in no particular order: a clean entry only
// saves a read) until this store holds half of what it held. Only the store
// being written evicts; stores sharing the budget evict themselves when they
// are written, so the total comes back under the budget without one store
// draining itself to nothing on every write.
absl::Status CachingKeyValueStore::Evict() {
  if (absl::Status s = FlushDirty(); !s.ok()) return s;
  const int64_t keep = bytes_ / 2;
  const size_t before = entries_.size();
  for (auto it = entries_.begin(); it != entries_.end() && bytes_ > keep;) {
    const int64_t size = SizeOf(it->first, it->second);
    bytes_ -= size;
    budget_->Add(-size);
    entries_.erase(it++);
  }
  // A mostly empty table still costs its capacity on every scan: shrink it.
  if (entries_.size() < before / 4) entries_.rehash(0);
  return absl::OkStatus();
}

absl::Status CachingKeyValueStore::Flush() {
  if (absl::Status s = FlushDirty(); !s.ok()) return s;
  return inner_->Flush();
}

absl::Status CachingKeyValueStore::Close() {
  budget_->Add(-bytes_);
  bytes_ = 0;
  entries_.clear();
  dirty_.clear();
  return inner_->Close();
}

}  // namespace runnel
