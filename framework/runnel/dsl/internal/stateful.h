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
#include "runnel/common/status.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/typed_store.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/state/record_cache.h"

namespace runnel::dsl::internal {

// Logs, at most every 10 s, that a processor dropped records without a key
// (Kafka Streams drops them too: they have no group, no row to join). Owned
// by its processor, used on the processor's thread.
class NullKeyDropLog {
 public:
  // `who` names the node or store in the warning.
  explicit NullKeyDropLog(std::string who) : who_(std::move(who)) {}
  void Drop(const TaskContext& context) {
    int64_t suppressed = 0;
    if (!limiter_.Allow(context.clock().NowMillis().value(), &suppressed)) return;
    if (suppressed > 0) {
      Logger("runnel")->warn("{}: dropping a record with a null key ({} more since the last warning)", who_,
                             suppressed);
    } else {
      Logger("runnel")->warn("{}: dropping a record with a null key", who_);
    }
  }

 private:
  std::string who_;
  RateLimiter limiter_{10'000};
};

// The output side of a table held in a store: writes go to the store, and
// the table's changes (new and old value) go downstream when the store sends
// them down (every commit and on eviction when cached, with the old value as
// of the previous send; at once when not). Shared by aggregations and table
// sources. Lives inside its processor (same thread).
template <typename K, typename V>
class TableOutput {
 public:
  TableOutput(std::string store_name, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_name_(std::move(store_name)), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)) {}

  TypedKeyValueStore<K, V>& store() { return *store_; }
  // Cached: old values come from the cache's flush, callers need not read them.
  bool cached() const { return cache_ != nullptr; }

  absl::Status Init(ProcessorContext<K, Change<V>>& context) {
    context_ = &context;
    KeyValueStore* store = context.GetKeyValueStore(store_name_);
    if (store == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("store '", store_name_, "' is not available to task ",
                                                        context.task_id().ToString()));
    }
    store_.emplace(store, key_serde_, value_serde_);
    if (auto* cached = dynamic_cast<CachingKeyValueStore*>(store)) {
      cache_ = cached;
      cached->SetFlushListener(
          [this](std::string_view key, std::optional<std::string_view> value, std::optional<std::string_view> old,
                 Timestamp ts) { return ForwardBytes(key, value, old, ts); },
          /*send_old_values=*/true);
    }
    return absl::OkStatus();
  }

  // `old` is the row's value before this write (ignored when cached). `ts`
  // is the change's timestamp, kept by the cache until it sends it down.
  absl::Status Put(K key, V value, std::optional<V> old, Timestamp ts) {
    if (cache_ != nullptr) return PutCached(key, &value, ts);
    if (absl::Status s = store_->Put(key, value); !s.ok()) return s;
    return context_->Forward(Record<K, Change<V>>{std::move(key), Change<V>{std::move(value), std::move(old)}, ts, {}});
  }
  absl::Status Delete(K key, std::optional<V> old, Timestamp ts) {
    if (cache_ != nullptr) return PutCached(key, nullptr, ts);
    if (absl::Status s = store_->Delete(key); !s.ok()) return s;
    if (!old) return absl::OkStatus();
    return context_->Forward(Record<K, Change<V>>{std::move(key), Change<V>{std::nullopt, std::move(old)}, ts, {}});
  }

  // Sets the row to `value` (none deletes it); the change's old value is
  // read from the store first unless the cache supplies it.
  // `read_old` false: nothing downstream wants the old value (a global
  // table), so it is not read.
  absl::Status Set(K key, std::optional<V> value, Timestamp ts, bool read_old = true) {
    std::optional<V> old;
    if (cache_ == nullptr && read_old) {
      auto current = store_->Get(key);
      if (!current.ok()) return current.status();
      old = *std::move(current);
    }
    if (!value) return Delete(std::move(key), std::move(old), ts);
    return Put(std::move(key), *std::move(value), std::move(old), ts);
  }

  // Logs (rate-limited) that a record without a key was dropped.
  void DropNullKey() { null_keys_.Drop(*context_); }

 private:
  // `value` null: a delete.
  absl::Status PutCached(const K& key, const V* value, Timestamp ts) {
    std::string k, v;
    if (absl::Status s = key_serde_->Serialize(key, k); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("store '", store_name_, "': key: ", s.message()));
    }
    if (value == nullptr) return cache_->PutWithTimestamp(k, std::nullopt, ts);
    if (absl::Status s = value_serde_->Serialize(*value, v); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("store '", store_name_, "': value: ", s.message()));
    }
    return cache_->PutWithTimestamp(k, v, ts);
  }
  absl::StatusOr<std::optional<V>> Decode(std::optional<std::string_view> bytes) const {
    if (!bytes) return std::optional<V>();
    auto v = value_serde_->Deserialize(bytes);
    if (!v.ok()) return v.status();
    return std::optional<V>(*std::move(v));
  }
  absl::Status ForwardBytes(std::string_view key, std::optional<std::string_view> value,
                            std::optional<std::string_view> old, Timestamp ts) {
    if (!value && !old) return absl::OkStatus();  // deleted a row that was never sent
    auto k = key_serde_->Deserialize(key);
    if (!k.ok()) return k.status();
    auto v = Decode(value);
    if (!v.ok()) return v.status();
    auto o = Decode(old);
    if (!o.ok()) return o.status();
    return context_->Forward(Record<K, Change<V>>{*std::move(k), Change<V>{*std::move(v), *std::move(o)}, ts, {}});
  }

  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  ProcessorContext<K, Change<V>>* context_ = nullptr;
  std::optional<TypedKeyValueStore<K, V>> store_;
  // The store itself when it is cached (owned by the task), else null.
  CachingKeyValueStore* cache_ = nullptr;
  NullKeyDropLog null_keys_{absl::StrCat("store '", store_name_, "'")};
};

// fold(key, value, current aggregate or nullopt for the key's first record)
// -> new aggregate. V is the stream's value for KGroupedStream, or
// Change<V> for KGroupedTable (whose fold subtracts the old value and adds
// the new one).
template <typename K, typename V, typename VA, typename Fold>
class AggregateProcessor final : public Processor<K, V, K, Change<VA>> {
 public:
  AggregateProcessor(std::string store_name, SerdePtr<K> key_serde, SerdePtr<VA> agg_serde, Fold fold)
      : out_(std::move(store_name), key_serde, std::move(agg_serde)), key_serde_(std::move(key_serde)),
        fold_(std::move(fold)) {}

  absl::Status Init(ProcessorContext<K, Change<VA>>& context) override {
    absl::Status s = Processor<K, V, K, Change<VA>>::Init(context);
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
    VA next = fold_(r.key, r.value, *current);
    return out_.Put(std::move(r.key), std::move(next), *std::move(current), r.timestamp);
  }

 private:
  TableOutput<K, VA> out_;
  SerdePtr<K> key_serde_;
  Fold fold_;
};

// builder.Table(topic) and builder.GlobalTable(topic): the latest value per
// key of a topic, in a store; a null value (tombstone) deletes the key.
// `read_old_values` false (a global table: nothing downstream wants the
// change) saves the read of the previous value on every update.
template <typename K, typename V>
class TableSourceProcessor final : public Processor<K, std::optional<V>, K, Change<V>> {
 public:
  TableSourceProcessor(std::string store_name, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                       bool read_old_values = true)
      : out_(std::move(store_name), key_serde, std::move(value_serde)), key_serde_(std::move(key_serde)),
        read_old_values_(read_old_values) {}

  absl::Status Init(ProcessorContext<K, Change<V>>& context) override {
    absl::Status s = Processor<K, std::optional<V>, K, Change<V>>::Init(context);
    if (!s.ok()) return s;
    return out_.Init(context);
  }

  absl::Status Process(Record<K, std::optional<V>> r) override {
    if (key_serde_->IsNull(r.key)) {
      out_.DropNullKey();
      return absl::OkStatus();
    }
    return out_.Set(std::move(r.key), std::move(r.value), r.timestamp, read_old_values_);
  }

 private:
  TableOutput<K, V> out_;
  SerdePtr<K> key_serde_;
  bool read_old_values_;
};

// KTable filter: a row that passes is kept; one that stops passing is
// retracted (new value none, old value the one that passed).
template <typename K, typename V, typename Pred>
class TableFilterProcessor final : public Processor<K, Change<V>, K, Change<V>> {
 public:
  explicit TableFilterProcessor(Pred pred) : pred_(std::move(pred)) {}
  absl::Status Process(Record<K, Change<V>> r) override {
    Change<V> out;
    if (r.value.new_value && pred_(r.key, *r.value.new_value)) out.new_value = std::move(r.value.new_value);
    if (r.value.old_value && pred_(r.key, *r.value.old_value)) out.old_value = std::move(r.value.old_value);
    if (!out.new_value && !out.old_value) return absl::OkStatus();
    return this->context().Forward(Record<K, Change<V>>{std::move(r.key), std::move(out), r.timestamp, {}});
  }

 private:
  Pred pred_;
};

// KTable mapValues: both sides of the change are mapped.
template <typename K, typename V, typename V2, typename Fn>
class TableMapValuesProcessor final : public Processor<K, Change<V>, K, Change<V2>> {
 public:
  explicit TableMapValuesProcessor(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Process(Record<K, Change<V>> r) override {
    Change<V2> out;
    if (r.value.new_value) out.new_value = CallValueFn(fn_, r.key, *r.value.new_value);
    if (r.value.old_value) out.old_value = CallValueFn(fn_, r.key, *r.value.old_value);
    return this->context().Forward(Record<K, Change<V2>>{std::move(r.key), std::move(out), r.timestamp, {}});
  }

 private:
  Fn fn_;
};

// KTable toStream: the rows' new values (deletions are not forwarded: a
// KStream value cannot be null).
template <typename K, typename V>
class TableToStreamProcessor final : public Processor<K, Change<V>, K, V> {
 public:
  absl::Status Process(Record<K, Change<V>> r) override {
    if (!r.value.new_value) return absl::OkStatus();
    return this->context().Forward(Record<K, V>{std::move(r.key), *std::move(r.value.new_value), r.timestamp, {}});
  }
};

// KTable groupBy: re-keys each change; when the key changes, the old value
// leaves its old group and the new value joins its new group (two records).
template <typename K, typename V, typename K2, typename V2, typename Fn>
class TableGroupByProcessor final : public Processor<K, Change<V>, K2, Change<V2>> {
 public:
  explicit TableGroupByProcessor(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Process(Record<K, Change<V>> r) override {
    std::optional<KeyValue<K2, V2>> old_kv, new_kv;
    if (r.value.old_value) old_kv = fn_(r.key, *r.value.old_value);
    if (r.value.new_value) new_kv = fn_(r.key, *r.value.new_value);
    if (old_kv && new_kv && old_kv->key == new_kv->key) {
      return this->context().Forward(Record<K2, Change<V2>>{
          std::move(new_kv->key), Change<V2>{std::move(new_kv->value), std::move(old_kv->value)}, r.timestamp, {}});
    }
    if (old_kv) {
      absl::Status s = this->context().Forward(Record<K2, Change<V2>>{
          std::move(old_kv->key), Change<V2>{std::nullopt, std::move(old_kv->value)}, r.timestamp, {}});
      if (!s.ok()) return s;
    }
    if (new_kv) {
      return this->context().Forward(Record<K2, Change<V2>>{
          std::move(new_kv->key), Change<V2>{std::move(new_kv->value), std::nullopt}, r.timestamp, {}});
    }
    return absl::OkStatus();
  }

 private:
  Fn fn_;
};

// Bytes of a Change<V> in a repartition topic: a flags byte (1: new value,
// 2: old value), the new value's length (4 bytes big-endian) and bytes, then
// the old value's bytes.
template <typename V>
class ChangeSerde final : public Serde<Change<V>> {
 public:
  explicit ChangeSerde(SerdePtr<V> inner) : inner_(std::move(inner)), name_("change<" + std::string(inner_->Name()) + ">") {}
  absl::Status Serialize(const Change<V>& c, std::string& out) const override {
    std::string n, o;
    if (c.new_value) RUNNEL_RETURN_IF_ERROR(inner_->Serialize(*c.new_value, n));
    if (c.old_value) RUNNEL_RETURN_IF_ERROR(inner_->Serialize(*c.old_value, o));
    out.clear();
    out.push_back(static_cast<char>((c.new_value ? 1 : 0) | (c.old_value ? 2 : 0)));
    serdes::AppendBigEndian32(static_cast<uint32_t>(n.size()), out);
    out += n;
    out += o;
    return absl::OkStatus();
  }
  absl::StatusOr<Change<V>> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() < 5) return absl::InvalidArgumentError("change: truncated");
    const uint8_t flags = static_cast<uint8_t>((*data)[0]);
    const uint32_t n = serdes::ReadBigEndian32(data->data() + 1);
    if (flags > 3 || data->size() < 5 + static_cast<size_t>(n)) return absl::InvalidArgumentError("change: malformed");
    Change<V> c;
    if (flags & 1) {
      auto v = inner_->Deserialize(data->substr(5, n));
      if (!v.ok()) return v.status();
      c.new_value = *std::move(v);
    }
    if (flags & 2) {
      auto v = inner_->Deserialize(data->substr(5 + n));
      if (!v.ok()) return v.status();
      c.old_value = *std::move(v);
    }
    return c;
  }
  std::string_view Name() const override { return name_; }

 private:
  SerdePtr<V> inner_;
  std::string name_;
};

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_STATEFUL_H_
