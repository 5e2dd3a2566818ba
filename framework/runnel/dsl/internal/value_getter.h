#ifndef RUNNEL_DSL_INTERNAL_VALUE_GETTER_H_
#define RUNNEL_DSL_INTERNAL_VALUE_GETTER_H_

// Value getters (Kafka Streams' KTableValueGetter): how a join reads a
// table's current value for a key inside a task.
//
// A KTable derived by Filter/MapValues shares its parent's store, which holds
// the parent's (unfiltered, unmapped) values; its getter reads that store
// and applies the derivation chain, so a join sees exactly the rows the
// derived table has. A join result that is not materialized reads both
// joined tables and applies the joiner.
//
// A TableValueGetterSupplier is a value type kept by the KTable handle at
// build time and copied into every task's processor; `make` runs at the
// processor's Init, on the task's thread, and the ValueGetter it returns
// borrows the task's stores: it is valid from Init to Close, on that thread.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/typed_store.h"
#include "runnel/serde/serde.h"

namespace runnel::dsl::internal {

template <typename K, typename V>
using ValueGetter = std::function<absl::StatusOr<std::optional<V>>(const K&)>;

template <typename K, typename V>
struct TableValueGetterSupplier {
  // The stores the getter reads: a processor using it must be connected to
  // them (TopologyBuilder::ConnectProcessorAndStateStores).
  std::vector<std::string> stores;
  // The table's key serde (joins keep per-key state of their own with it).
  SerdePtr<K> key_serde;
  // The table's value serde, when known (not after MapValues): the
  // foreign-key join hashes and sends values with it.
  SerdePtr<V> value_serde;
  // Empty for a table that cannot be looked up.
  std::function<absl::StatusOr<ValueGetter<K, V>>(TaskContext&)> make;

  bool valid() const { return static_cast<bool>(make); }
};

// A table node as the wiring of a join adds it: the node, the store holding
// its rows (empty when not materialized) and how to read them.
template <typename K, typename V>
struct TableNode {
  std::string node;
  std::string store;
  TableValueGetterSupplier<K, V> getter;
};

// Reads `store` as it is.
template <typename K, typename V>
TableValueGetterSupplier<K, V> StoreValueGetter(std::string store, SerdePtr<K> key_serde, SerdePtr<V> value_serde) {
  TableValueGetterSupplier<K, V> out{.stores = {store}, .key_serde = key_serde, .value_serde = value_serde};
  out.make = [store, key_serde, value_serde](TaskContext& context) -> absl::StatusOr<ValueGetter<K, V>> {
    KeyValueStore* bytes = context.GetKeyValueStore(store);
    if (bytes == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("store '", store, "' is not available to task ", context.task_id().ToString()));
    }
    TypedKeyValueStore<K, V> typed(bytes, key_serde, value_serde);
    return ValueGetter<K, V>([typed](const K& key) { return typed.Get(key); });
  };
  return out;
}

// `parent` with its value replaced by transform(key, std::optional<V>) ->
// std::optional<V2> (a filter drops, mapValues maps); `value_serde` is the
// result's, if known.
template <typename K, typename V, typename V2, typename Transform>
TableValueGetterSupplier<K, V2> TransformValueGetter(const TableValueGetterSupplier<K, V>& parent,
                                                     Transform transform, SerdePtr<V2> value_serde) {
  TableValueGetterSupplier<K, V2> out{.stores = parent.stores, .key_serde = parent.key_serde,
                                      .value_serde = std::move(value_serde)};
  if (!parent.valid()) return out;
  out.make = [make = parent.make, transform](TaskContext& context) -> absl::StatusOr<ValueGetter<K, V2>> {
    auto inner = make(context);
    if (!inner.ok()) return inner.status();
    return ValueGetter<K, V2>(
        [get = *std::move(inner), transform](const K& key) mutable -> absl::StatusOr<std::optional<V2>> {
          auto v = get(key);
          if (!v.ok()) return v.status();
          return std::optional<V2>(transform(key, *std::move(v)));
        });
  };
  return out;
}

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_VALUE_GETTER_H_
