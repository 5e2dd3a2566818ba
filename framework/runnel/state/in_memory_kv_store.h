#ifndef RUNNEL_STATE_IN_MEMORY_KV_STORE_H_
#define RUNNEL_STATE_IN_MEMORY_KV_STORE_H_

// A sorted in-memory key-value store: the test driver's default and
// Materialized::InMemory(). Not durable: after a restart it is rebuilt from
// its changelog. Iterators copy the range when created, so writes during an
// iteration do not disturb it.
//
// Threading: one thread (the owning task's); not safe for concurrent readers.

#include <map>
#include <string>

#include "runnel/state/kv_store.h"

namespace runnel {

class InMemoryKeyValueStore final : public KeyValueStore {
 public:
  explicit InMemoryKeyValueStore(std::string name);

  std::string_view name() const override { return name_; }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from,
                                                          std::string_view to) const override;
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override;
  absl::StatusOr<int64_t> ApproximateNumEntries() const override;
  absl::Status Put(std::string_view key, std::optional<std::string_view> value) override;
  absl::Status PutAll(const std::vector<Write>& writes) override;
  absl::Status DropRange(std::string_view from, std::string_view to) override;
  absl::Status Flush() override;
  absl::Status Close() override;

 private:
  absl::Status CheckOpen() const;

  std::string name_;
  // std::string compares bytes as unsigned char via char_traits<char>::compare
  // (memcmp), which is the bytewise order the interface promises.
  std::map<std::string, std::string, std::less<>> data_;
  bool closed_ = false;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_IN_MEMORY_KV_STORE_H_
