#ifndef RUNNEL_DSL_INTERNAL_GLOBAL_JOIN_H_
#define RUNNEL_DSL_INTERNAL_GLOBAL_JOIN_H_

// The processor behind KStream::Join / LeftJoin with a GlobalKTable.
//
// For each stream record: key_selector(key, value) gives the table key;
// the global store is read at that moment (the record's processing time,
// whatever the table's later updates), and joiner(value, table value)
// gives the output value under the stream record's key. Kafka Streams'
// rules (KStreamKTableJoinProcessor):
//   - a null stream value (V is std::optional and empty) is dropped;
//   - a null table key (the table's key serde says IsNull) is dropped by an
//     inner join and joined with no table value by a left join;
//   - inner: no table row, no output; left: joiner(value, std::nullopt).
// Updates of the global table produce no output.
//
// Threading: one instance per task, on the task's stream thread; the store
// it reads is written by the global thread concurrently (see
// runtime/global_stores.h for why that is safe).

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/typed_store.h"
#include "runnel/serde/serde.h"

namespace runnel::dsl::internal {

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <typename K, typename V, typename KG, typename VG, typename VR, typename KeySelector, typename Joiner>
class GlobalTableJoinProcessor final : public Processor<K, V, K, VR> {
 public:
  GlobalTableJoinProcessor(std::string store_name, SerdePtr<KG> key_serde, SerdePtr<VG> value_serde,
                           KeySelector key_selector, Joiner joiner, bool left)
      : store_name_(std::move(store_name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        key_selector_(std::move(key_selector)),
        joiner_(std::move(joiner)),
        left_(left) {}

  absl::Status Init(ProcessorContext<K, VR>& context) override {
    absl::Status s = Processor<K, V, K, VR>::Init(context);
    if (!s.ok()) return s;
    KeyValueStore* store = context.GetKeyValueStore(store_name_);
    if (store == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("global store '", store_name_, "' is not available to task ",
                                                        context.task_id().ToString()));
    }
    store_.emplace(store, key_serde_, value_serde_);
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, V> r) override {
    if constexpr (IsOptional<V>::value) {
      if (!r.value) return Drop();
    }
    std::optional<KG> table_key;
    using Selected = std::decay_t<std::invoke_result_t<KeySelector&, const K&, const V&>>;
    if constexpr (IsOptional<Selected>::value && !IsOptional<KG>::value) {
      Selected selected = key_selector_(r.key, r.value);
      if (selected) table_key.emplace(*std::move(selected));
    } else {
      KG selected = key_selector_(r.key, r.value);
      if (!key_serde_->IsNull(selected)) table_key.emplace(std::move(selected));
    }
    std::optional<VG> table_value;
    if (!table_key) {
      if (!left_) return Drop();
    } else {
      auto found = store_->Get(*table_key);
      if (!found.ok()) return found.status();
      table_value = *std::move(found);
    }
    if (!left_ && !table_value) return absl::OkStatus();
    VR out = [&]() -> VR {
      if constexpr (std::is_invocable_v<Joiner&, const V&, const std::optional<VG>&>) {
        return joiner_(r.value, table_value);
      } else {
        return joiner_(r.value, *table_value);
      }
    }();
    return this->context().Forward(Record<K, VR>{std::move(r.key), std::move(out), r.timestamp, std::move(r.headers)});
  }

 private:
  absl::Status Drop() {
    int64_t suppressed = 0;
    if (drop_log_.Allow(this->context().clock().NowMillis().value(), &suppressed)) {
      const RecordMetadata* m = this->context().record_metadata();
      Logger("runnel")->warn("join with global store '{}': skipping a record with a null join key or value{}",
                             store_name_,
                             m != nullptr ? absl::StrCat(" at ", m->topic, "-", m->partition.value(), "@",
                                                         m->offset.value())
                                          : std::string());
    }
    return absl::OkStatus();
  }

  std::string store_name_;
  SerdePtr<KG> key_serde_;
  SerdePtr<VG> value_serde_;
  KeySelector key_selector_;
  Joiner joiner_;
  bool left_;
  std::optional<TypedKeyValueStore<KG, VG>> store_;
  RateLimiter drop_log_{10'000};
};

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_GLOBAL_JOIN_H_
