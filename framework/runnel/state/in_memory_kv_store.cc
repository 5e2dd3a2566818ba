#include "runnel/state/in_memory_kv_store.h"

#include "absl/strings/str_cat.h"

namespace runnel {

InMemoryKeyValueStore::InMemoryKeyValueStore(std::string name) : name_(std::move(name)) {}

absl::Status InMemoryKeyValueStore::CheckOpen() const {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("store '", name_, "' is closed"));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> InMemoryKeyValueStore::Get(std::string_view key) const {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  auto it = data_.find(key);
  if (it == data_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> InMemoryKeyValueStore::Range(
    std::string_view from, std::string_view to) const {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::vector<KeyValueEntry> entries;
  if (from <= to) {
    for (auto it = data_.lower_bound(from); it != data_.end() && std::string_view(it->first) <= to; ++it) {
      entries.push_back({it->first, it->second});
    }
  }
  return MakeSnapshotIterator(std::move(entries));
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> InMemoryKeyValueStore::All() const {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::vector<KeyValueEntry> entries;
  entries.reserve(data_.size());
  for (const auto& [k, v] : data_) entries.push_back({k, v});
  return MakeSnapshotIterator(std::move(entries));
}

absl::StatusOr<int64_t> InMemoryKeyValueStore::ApproximateNumEntries() const {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  return static_cast<int64_t>(data_.size());
}

absl::Status InMemoryKeyValueStore::DropRange(std::string_view from, std::string_view to) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (from >= to) return absl::OkStatus();
  data_.erase(data_.lower_bound(from), data_.lower_bound(to));
  return absl::OkStatus();
}

absl::Status InMemoryKeyValueStore::Put(std::string_view key, std::optional<std::string_view> value) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (!value) {
    auto it = data_.find(key);
    if (it != data_.end()) data_.erase(it);
    return absl::OkStatus();
  }
  auto it = data_.find(key);
  if (it == data_.end()) {
    data_.emplace(std::string(key), std::string(*value));
  } else {
    it->second.assign(value->data(), value->size());
  }
  return absl::OkStatus();
}

absl::Status InMemoryKeyValueStore::PutAll(const std::vector<Write>& writes) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  for (const auto& w : writes) {
    absl::Status s = Put(w.key, w.value ? std::optional<std::string_view>(*w.value) : std::nullopt);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status InMemoryKeyValueStore::Flush() { return CheckOpen(); }

absl::Status InMemoryKeyValueStore::Close() {
  closed_ = true;
  data_.clear();
  return absl::OkStatus();
}

}  // namespace runnel
