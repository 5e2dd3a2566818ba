#include "runnel/state/transactional_store.h"

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {

absl::Status TransactionalKeyValueStore::Commit(std::optional<Offset> changelog_next) {
  if (pending_.empty() && pending_drops_.empty() && !changelog_next) return absl::OkStatus();
  std::vector<Write> writes;
  writes.reserve(pending_.size());
  for (auto& [key, value] : pending_) writes.push_back({key, std::move(value)});
  pending_.clear();
  std::vector<std::pair<std::string, std::string>> drops = std::move(pending_drops_);
  pending_drops_.clear();
  return inner_->WriteCommitted(writes, changelog_next, drops);
}

bool TransactionalKeyValueStore::Dropped(std::string_view key) const {
  for (const auto& [from, to] : pending_drops_) {
    if (key >= from && key < to) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> TransactionalKeyValueStore::WithoutDropped(
    std::unique_ptr<KeyValueIterator> below) const {
  if (pending_drops_.empty()) return below;
  auto entries = Collect(*below);
  if (!entries.ok()) return entries.status();
  std::vector<KeyValueEntry> kept;
  kept.reserve(entries->size());
  for (auto& e : *entries) {
    if (!Dropped(e.key)) kept.push_back(std::move(e));
  }
  return MakeSnapshotIterator(std::move(kept));
}

absl::StatusOr<std::optional<std::string>> TransactionalKeyValueStore::Get(std::string_view key) const {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  if (Dropped(key)) return std::optional<std::string>();
  return inner_->Get(key);
}

std::vector<OverlayEntry> TransactionalKeyValueStore::OverlayIn(std::optional<std::string_view> from,
                                                               std::optional<std::string_view> to) const {
  std::vector<OverlayEntry> overlay;
  auto it = from ? pending_.lower_bound(*from) : pending_.begin();
  for (; it != pending_.end() && (!to || std::string_view(it->first) <= *to); ++it) {
    overlay.push_back({it->first, &it->second});
  }
  return overlay;
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> TransactionalKeyValueStore::Range(std::string_view from,
                                                                                    std::string_view to) const {
  auto below = inner_->Range(from, to);
  if (!below.ok() || from > to) return below;
  below = WithoutDropped(*std::move(below));
  if (!below.ok() || pending_.empty()) return below;
  return MergeOverlay(*std::move(below), OverlayIn(from, to));
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> TransactionalKeyValueStore::All() const {
  auto below = inner_->All();
  if (!below.ok()) return below;
  below = WithoutDropped(*std::move(below));
  if (!below.ok() || pending_.empty()) return below;
  return MergeOverlay(*std::move(below), OverlayIn(std::nullopt, std::nullopt));
}

absl::StatusOr<int64_t> TransactionalKeyValueStore::ApproximateNumEntries() const {
  auto below = inner_->ApproximateNumEntries();
  if (!below.ok()) return below;
  return *below + static_cast<int64_t>(pending_.size());
}

absl::Status TransactionalKeyValueStore::Put(std::string_view key, std::optional<std::string_view> value) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("store '", ToAbsl(name()), "' is closed"));
  pending_.insert_or_assign(std::string(key), value ? std::optional<std::string>(std::string(*value)) : std::nullopt);
  return absl::OkStatus();
}

absl::Status TransactionalKeyValueStore::DropRange(std::string_view from, std::string_view to) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("store '", ToAbsl(name()), "' is closed"));
  if (from >= to) return absl::OkStatus();
  pending_.erase(pending_.lower_bound(from), pending_.lower_bound(to));
  pending_drops_.emplace_back(std::string(from), std::string(to));
  return absl::OkStatus();
}

absl::Status TransactionalKeyValueStore::PutAll(const std::vector<Write>& writes) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("store '", ToAbsl(name()), "' is closed"));
  for (const auto& w : writes) pending_.insert_or_assign(w.key, w.value);
  return absl::OkStatus();
}

absl::Status TransactionalKeyValueStore::Close() {
  closed_ = true;
  pending_.clear();
  return inner_->Close();
}

}  // namespace runnel
