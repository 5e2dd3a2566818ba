#include "runnel/state/kv_store.h"


namespace runnel {

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

}  // namespace runnel
