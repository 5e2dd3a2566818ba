#ifndef RUNNEL_DSL_INTERNAL_STATEFUL_H_
#define RUNNEL_DSL_INTERNAL_STATEFUL_H_

// The processor behind KGroupedStream's count / reduce / aggregate.
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

// fold(key, value, current aggregate or nullopt for the key's first record)
// -> new aggregate.
template <typename K, typename V, typename VA, typename Fold>
class AggregateProcessor final : public Processor<K, V, K, VA> {
 public:
  AggregateProcessor(std::string store_name, SerdePtr<K> key_serde, SerdePtr<VA> agg_serde, Fold fold)
      : store_name_(std::move(store_name)),
        key_serde_(std::move(key_serde)),
        agg_serde_(std::move(agg_serde)),
        fold_(std::move(fold)) {}

  absl::Status Init(ProcessorContext<K, VA>& context) override {
    absl::Status s = Processor<K, V, K, VA>::Init(context);
    if (!s.ok()) return s;
    KeyValueStore* store = context.GetKeyValueStore(store_name_);
    if (store == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("store '", store_name_, "' is not available to task ",
                                                        context.task_id().ToString()));
    }
    store_.emplace(store, key_serde_, agg_serde_);
    if (auto* cached = dynamic_cast<CachingKeyValueStore*>(store)) {
      cached_ = true;
      cached->SetFlushListener(
          [this](std::string_view key, std::optional<std::string_view> value, std::optional<std::string_view>,
                 Timestamp ts) { return ForwardBytes(key, value, ts); },
          /*send_old_values=*/false);
    }
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, V> r) override {
    if (key_serde_->IsNull(r.key)) {
      int64_t suppressed = 0;
      if (null_key_log_.Allow(this->context().clock().NowMillis().value(), &suppressed)) {
        Logger("runnel")->warn("store '{}': dropping a record with a null key (it has no group)", store_name_);
      }
      return absl::OkStatus();
    }
    auto current = store_->Get(r.key);
    if (!current.ok()) return current.status();
    VA next = fold_(r.key, r.value, *std::move(current));
    if (absl::Status s = store_->Put(r.key, next); !s.ok()) return s;
    if (cached_) return absl::OkStatus();
    return this->context().Forward(Record<K, VA>{std::move(r.key), std::move(next), r.timestamp, {}});
  }

 private:
  absl::Status ForwardBytes(std::string_view key, std::optional<std::string_view> value, Timestamp ts) {
    if (!value) return absl::OkStatus();  // aggregates are never deleted here
    auto k = key_serde_->Deserialize(key);
    if (!k.ok()) return k.status();
    auto v = agg_serde_->Deserialize(value);
    if (!v.ok()) return v.status();
    return this->context().Forward(Record<K, VA>{*std::move(k), *std::move(v), ts, {}});
  }

  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> agg_serde_;
  Fold fold_;
  std::optional<TypedKeyValueStore<K, VA>> store_;
  bool cached_ = false;
  RateLimiter null_key_log_{10'000};
};

}  // namespace runnel::dsl_internal

#endif  // RUNNEL_DSL_INTERNAL_STATEFUL_H_
