#include "runnel/state/kv_store.h"

#include <functional>
#include <map>


namespace runnel {

absl::StatusOr<std::unique_ptr<KeyValueIterator>> ReadOnlyKeyValueStore::RangeFrom(std::string_view from) const {
  auto it = All();
  if (!it.ok()) return it.status();
  while ((*it)->Valid() && (*it)->key() < from) (*it)->Next();
  return it;
}

absl::StatusOr<std::vector<KeyValueEntry>> Collect(KeyValueIterator& it) {
  std::vector<KeyValueEntry> out;
  for (; it.Valid(); it.Next()) out.push_back({std::string(it.key()), std::string(it.value())});
  if (!it.status().ok()) return it.status();
  return out;
}

namespace {

class SnapshotIterator final : public KeyValueIterator {
 public:
  explicit SnapshotIterator(std::vector<KeyValueEntry> entries) : entries_(std::move(entries)) {}
  bool Valid() const override { return next_ < entries_.size(); }
  void Next() override { ++next_; }
  std::string_view key() const override { return entries_[next_].key; }
  std::string_view value() const override { return entries_[next_].value; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<KeyValueEntry> entries_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<KeyValueIterator> MakeSnapshotIterator(std::vector<KeyValueEntry> entries) {
  return std::make_unique<SnapshotIterator>(std::move(entries));
}

absl::StatusOr<std::unique_ptr<KeyValueIterator>> MergeOverlay(std::unique_ptr<KeyValueIterator> below,
                                                               const std::vector<OverlayEntry>& overlay) {
  std::map<std::string, std::string, std::less<>> merged;
  for (; below->Valid(); below->Next()) merged.emplace(std::string(below->key()), std::string(below->value()));
  if (!below->status().ok()) return below->status();
  for (const auto& [key, value] : overlay) {
    if (*value) {
      merged.insert_or_assign(std::string(key), **value);
    } else if (auto it = merged.find(key); it != merged.end()) {
      merged.erase(it);
    }
  }
  std::vector<KeyValueEntry> out;
  out.reserve(merged.size());
  for (auto& [k, v] : merged) out.push_back({k, std::move(v)});
  return MakeSnapshotIterator(std::move(out));
}

}  // namespace runnel
