#ifndef RUNNEL_STATE_CHANGELOG_H_
#define RUNNEL_STATE_CHANGELOG_H_

// Changelogging: every write to a logged store is also sent to the store's
// compacted changelog topic, <application.id>-<store>-changelog, on the
// task's partition. The topic is what a new or wiped instance restores from.
//
// ChangelogWriter is the narrow I/O seam: the runtime sends through the
// task's producer (batched by librdkafka; a commit flushes it before
// offsets are committed), unit tests and the test driver record the sends.
//
// Threading: the owning task's thread.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runnel/common/types.h"
#include "runnel/state/kv_store.h"

namespace runnel {

std::string ChangelogTopicName(std::string_view application_id, std::string_view store_name);

class ChangelogWriter {
 public:
  virtual ~ChangelogWriter() = default;
  // A null value is a tombstone (compaction removes the key).
  [[nodiscard]] virtual absl::Status Send(std::string_view topic, Partition partition, std::string_view key,
                                          std::optional<std::string_view> value, Timestamp timestamp) = 0;
};

class ChangeLoggingKeyValueStore final : public KeyValueStore {
 public:
  // `inner` holds the bytes; `writer` outlives this store; `timestamp` gives
  // the timestamp of the record being processed. Each changelog record
  // carries the timestamp of the write that made it, as in Kafka Streams:
  // a Write's own (Write::timestamp, set by the cache above for entries it
  // sends down later), else `timestamp()` at the write.
  ChangeLoggingKeyValueStore(std::shared_ptr<KeyValueStore> inner, std::string changelog_topic,
                             Partition partition, ChangelogWriter* writer,
                             std::function<Timestamp()> timestamp);

  const std::string& changelog_topic() const { return topic_; }
  Partition partition() const { return partition_; }
  KeyValueStore& inner() { return *inner_; }

  // Writes restored changelog records into the inner store without logging
  // them again.
  [[nodiscard]] absl::Status RestoreBatch(const std::vector<Write>& writes) { return inner_->PutAll(writes); }

  std::string_view name() const override { return inner_->name(); }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override { return inner_->Get(key); }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from,
                                                          std::string_view to) const override {
    return inner_->Range(from, to);
  }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override { return inner_->All(); }
  absl::StatusOr<int64_t> ApproximateNumEntries() const override { return inner_->ApproximateNumEntries(); }
  absl::Status Put(std::string_view key, std::optional<std::string_view> value) override;
  absl::Status PutAll(const std::vector<Write>& writes) override;
  // Not logged (see KeyValueStore::DropRange).
  absl::Status DropRange(std::string_view from, std::string_view to) override { return inner_->DropRange(from, to); }
  absl::Status Flush() override { return inner_->Flush(); }
  absl::Status Close() override { return inner_->Close(); }

 private:
  // Shared: a persistent store below may also be held by read-only query
  // views (see RocksDbKeyValueStore threading).
  std::shared_ptr<KeyValueStore> inner_;
  std::string topic_;
  Partition partition_;
  ChangelogWriter* writer_;
  std::function<Timestamp()> timestamp_;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_CHANGELOG_H_
