#ifndef RUNNEL_DSL_INTERNAL_STATEFUL_H_
#define RUNNEL_DSL_INTERNAL_STATEFUL_H_

// The processors behind KGroupedStream's count / reduce / aggregate and
// StreamsBuilder::Table.
//
// Per record: read the key's aggregate from the store, fold the value in,
// write it back. Results go downstream (the KTable's change stream) when the
// store sends them down: at every commit and on cache eviction when the
// store is cached (one record per key per commit), or after every update
// when it is not. Like Kafka Streams, a record with a null key is dropped:
// it has no group.

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/typed_store.h"
#include "runnel/serde/serde.h"
#include "runnel/state/record_cache.h"

namespace runnel::dsl_internal {

// The output side of a table held in a store: writes go to the store, and
// the table's updates go downstream when the store sends them down (every
// commit and on eviction when cached; at once when not). Shared by
// aggregations and table sources. Lives inside its processor (same thread).
template <typename K, typename V>
class TableOutput {
 public:
  TableOutput(std::string store_name, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_name_(std::move(store_name)), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)) {}

  const std::string& store_name() const { return store_name_; }
  TypedKeyValueStore<K, V>& store() { return *store_; }

  absl::Status Init(ProcessorContext<K, V>& context) {
    context_ = &context;
    KeyValueStore* store = context.GetKeyValueStore(store_name_);
    if (store == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("store '", store_name_, "' is not available to task ",
                                                        context.task_id().ToString()));
    }
    store_.emplace(store, key_serde_, value_serde_);
    if (auto* cached = dynamic_cast<CachingKeyValueStore*>(store)) {
      cached_ = true;
      cached->SetFlushListener(
          [this](std::string_view key, std::optional<std::string_view> value, std::optional<std::string_view>,
                 Timestamp ts) { return ForwardBytes(key, value, ts); },
          /*send_old_values=*/false);
    }
    return absl::OkStatus();
  }

  absl::Status Put(K key, V value, Timestamp ts) {
    if (absl::Status s = store_->Put(key, value); !s.ok()) return s;
    if (cached_) return absl::OkStatus();
    return context_->Forward(Record<K, V>{std::move(key), std::move(value), ts, {}});
  }
  // Deletions are not forwarded: downstream records carry values only.
  absl::Status Delete(const K& key) { return store_->Delete(key); }

  // Logs (rate-limited) that a record without a key was dropped.
  void DropNullKey() {
    int64_t suppressed = 0;
    if (null_key_log_.Allow(context_->clock().NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("store '{}': dropping a record with a null key", store_name_);
    }
  }

 private:
  absl::Status ForwardBytes(std::string_view key, std::optional<std::string_view> value, Timestamp ts) {
    if (!value) return absl::OkStatus();
    auto k = key_serde_->Deserialize(key);
    if (!k.ok()) return k.status();
    auto v = value_serde_->Deserialize(value);
    if (!v.ok()) return v.status();
    return context_->Forward(Record<K, V>{*std::move(k), *std::move(v), ts, {}});
  }

  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  ProcessorContext<K, V>* context_ = nullptr;
  std::optional<TypedKeyValueStore<K, V>> store_;
  bool cached_ = false;
  RateLimiter null_key_log_{10'000};
};

// fold(key, value, current aggregate or nullopt for the key's first record)
// -> new aggregate.
template <typename K, typename V, typename VA, typename Fold>
class AggregateProcessor final : public Processor<K, V, K, VA> {
 public:
  AggregateProcessor(std::string store_name, SerdePtr<K> key_serde, SerdePtr<VA> agg_serde, Fold fold)
      : out_(std::move(store_name), key_serde, std::move(agg_serde)), key_serde_(std::move(key_serde)),
        fold_(std::move(fold)) {}

  absl::Status Init(ProcessorContext<K, VA>& context) override {
    absl::Status s = Processor<K, V, K, VA>::Init(context);
    if (!s.ok()) return s;
    return out_.Init(context);
  }

  absl::Status Process(Record<K, V> r) override {
    if (key_serde_->IsNull(r.key)) {
      out_.DropNullKey();
      return absl::OkStatus();
    }
    auto current = out_.store().Get(r.key);
    if (!current.ok()) return current.status();
    VA next = fold_(r.key, r.value, *std::move(current));
    return out_.Put(std::move(r.key), std::move(next), r.timestamp);
  }

 private:
  TableOutput<K, VA> out_;
  SerdePtr<K> key_serde_;
  Fold fold_;
};

// builder.Table(topic): the latest value per key of a topic, in a store; a
// null value (tombstone) deletes the key.
template <typename K, typename V>
class TableSourceProcessor final : public Processor<K, std::optional<V>, K, V> {
 public:
  TableSourceProcessor(std::string store_name, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : out_(std::move(store_name), key_serde, std::move(value_serde)), key_serde_(std::move(key_serde)) {}

  absl::Status Init(ProcessorContext<K, V>& context) override {
    absl::Status s = Processor<K, std::optional<V>, K, V>::Init(context);
    if (!s.ok()) return s;
    return out_.Init(context);
  }

  absl::Status Process(Record<K, std::optional<V>> r) override {
    if (key_serde_->IsNull(r.key)) {
      out_.DropNullKey();
      return absl::OkStatus();
    }
    if (!r.value) return out_.Delete(r.key);
    return out_.Put(std::move(r.key), *std::move(r.value), r.timestamp);
  }

 private:
  TableOutput<K, V> out_;
  SerdePtr<K> key_serde_;
};

}  // namespace runnel::dsl_internal

#endif  // RUNNEL_DSL_INTERNAL_STATEFUL_H_
