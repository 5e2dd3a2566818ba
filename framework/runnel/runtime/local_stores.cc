#include "runnel/runtime/local_stores.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {

int64_t StoreCopyStatus::Lag() const {
  if (!standby_ && ready()) return 0;
  const int64_t end = changelog_end(), position = changelog_position();
  // Without an end there is no lag to tell: a standby opened from a
  // checkpoint knows its position long before its consumer's first fetch
  // says how far the changelog goes, and claiming 0 then answered max_lag=0
  // queries with the checkpoint's stale state.
  if (end < 0) return -1;
  return std::max<int64_t>(0, end - std::max<int64_t>(0, position));
}

void StoreCopyStatus::SetInputPositions(const std::vector<std::pair<TopicPartition, Offset>>& offsets) {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [tp, offset] : offsets) inputs_[tp] = offset;
  }
  NotifyPositionListeners();
}

int64_t StoreCopyStatus::AddPositionListener(std::function<void()> listener) const {
  absl::MutexLock lock(&listeners_mu_);
  const int64_t id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  listener_count_.fetch_add(1, std::memory_order_release);
  return id;
}

void StoreCopyStatus::RemovePositionListener(int64_t id) const {
  absl::MutexLock lock(&listeners_mu_);
  if (listeners_.erase(id) > 0) listener_count_.fetch_sub(1, std::memory_order_release);
}

void StoreCopyStatus::NotifyPositionListeners() const {
  if (listener_count_.load(std::memory_order_acquire) == 0) return;
  absl::MutexLock lock(&listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener();
}

std::vector<std::pair<TopicPartition, Offset>> StoreCopyStatus::Positions() const {
  std::vector<std::pair<TopicPartition, Offset>> out;
  absl::MutexLock lock(&mu_);
  if (changelog_ && changelog_position() >= 0) out.emplace_back(*changelog_, Offset(changelog_position()));
  for (const auto& [tp, offset] : inputs_) out.emplace_back(tp, offset);
  return out;
}

void LocalStores::Add(const std::string& store, TaskId task, std::shared_ptr<ReadOnlyKeyValueStore> view,
                      std::shared_ptr<const StoreCopyStatus> status) {
  absl::MutexLock lock(&mu_);
  stores_[store][task] = Copy{task, std::move(view), std::move(status)};
}

void LocalStores::Remove(const std::string& store, TaskId task) {
  absl::MutexLock lock(&mu_);
  auto it = stores_.find(store);
  if (it == stores_.end()) return;
  it->second.erase(task);
  if (it->second.empty()) stores_.erase(it);
}

std::vector<std::pair<TaskId, std::shared_ptr<ReadOnlyKeyValueStore>>> LocalStores::Find(
    std::string_view store) const {
  std::vector<std::pair<TaskId, std::shared_ptr<ReadOnlyKeyValueStore>>> out;
  for (auto& copy : FindCopies(store)) {
    if (copy.status == nullptr || !copy.status->standby()) out.emplace_back(copy.task, std::move(copy.view));
  }
  return out;
}

std::optional<LocalStores::Copy> LocalStores::FindCopy(std::string_view store, TaskId task) const {
  absl::MutexLock lock(&mu_);
  auto it = stores_.find(store);
  if (it == stores_.end()) return std::nullopt;
  auto copy = it->second.find(task);
  if (copy == it->second.end()) return std::nullopt;
  return copy->second;
}

std::vector<LocalStores::Copy> LocalStores::FindCopies(std::string_view store) const {
  absl::MutexLock lock(&mu_);
  std::vector<Copy> out;
  auto it = stores_.find(store);
  if (it == stores_.end()) return out;
  for (const auto& [task, copy] : it->second) out.push_back(copy);
  return out;
}

namespace {

class LocalStoreView final : public ReadOnlyKeyValueStore {
 public:
  LocalStoreView(std::string name, std::shared_ptr<const LocalStores> stores)
      : name_(std::move(name)), stores_(std::move(stores)) {}

  std::string_view name() const override { return name_; }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    auto copies = Copies();
    if (!copies.ok()) return copies.status();
    for (const auto& [task, store] : *copies) {
      auto v = store->Get(key);
      if (!v.ok() || v->has_value()) return v;
    }
    return std::optional<std::string>();
  }

  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from, std::string_view to) const override {
    return Merge([&](const ReadOnlyKeyValueStore& s) { return s.Range(from, to); });
  }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override {
    return Merge([](const ReadOnlyKeyValueStore& s) { return s.All(); });
  }

  absl::StatusOr<int64_t> ApproximateNumEntries() const override {
    auto copies = Copies();
    if (!copies.ok()) return copies.status();
    int64_t n = 0;
    for (const auto& [task, store] : *copies) {
      auto c = store->ApproximateNumEntries();
      if (!c.ok()) return c.status();
      n += *c;
    }
    return n;
  }

 private:
  using Copy = std::pair<TaskId, std::shared_ptr<ReadOnlyKeyValueStore>>;
  absl::StatusOr<std::vector<Copy>> Copies() const {
    auto copies = stores_->Find(name_);
    if (copies.empty()) {
      return absl::NotFoundError(absl::StrCat("store '", name_, "' has no local task on this instance (yet)"));
    }
    return copies;
  }

  template <typename Open>
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Merge(Open open) const {
    auto copies = Copies();
    if (!copies.ok()) return copies.status();
    std::map<std::string, std::string> merged;
    for (const auto& [task, store] : *copies) {
      auto it = open(*store);
      if (!it.ok()) return it.status();
      auto entries = Collect(**it);
      if (!entries.ok()) return entries.status();
      for (auto& e : *entries) merged.emplace(std::move(e.key), std::move(e.value));
    }
    std::vector<KeyValueEntry> out;
    out.reserve(merged.size());
    for (auto& [k, v] : merged) out.push_back({k, std::move(v)});
    return MakeSnapshotIterator(std::move(out));
  }

  std::string name_;
  std::shared_ptr<const LocalStores> stores_;
};

}  // namespace

std::unique_ptr<ReadOnlyKeyValueStore> MakeLocalStoreView(std::string name, std::shared_ptr<const LocalStores> stores) {
  return std::make_unique<LocalStoreView>(std::move(name), std::move(stores));
}

}  // namespace runnel
