#ifndef RUNNEL_DSL_KTABLE_H_
#define RUNNEL_DSL_KTABLE_H_

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "runnel/dsl/builder.h"
#include "runnel/dsl/internal/fk_join.h"
#include "runnel/dsl/internal/fwd.h"
#include "runnel/dsl/internal/joins.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/options.h"
#include "runnel/topology/topology.h"

namespace runnel {

// A table: the latest value per key, held in a store (store_name()).
// Internally its node emits Change<V> records (new and old value), so that
// filters retract rows and downstream aggregations subtract old values.
template <typename K, typename V>
class KTable {
 public:
  // `getter` reads the table's rows for joins; without one the table cannot
  // be joined.
  KTable(StreamsBuilder* builder, std::string node, std::string store,
         dsl::internal::TableValueGetterSupplier<K, V> getter = {})
      : builder_(builder), node_(std::move(node)), store_(std::move(store)), getter_(std::move(getter)) {}

  const std::string& node_name() const { return node_; }
  // The store that holds the table (for interactive queries); for a table
  // derived by Filter/MapValues, the store of the table it derives from
  // (holding the underived values); empty for a join result that is not
  // materialized.
  const std::string& store_name() const { return store_; }
  // How joins read this table's rows (applying Filter/MapValues to the
  // store they derive from).
  const dsl::internal::TableValueGetterSupplier<K, V>& value_getter() const { return getter_; }

  // The table's updates as a stream of new values (KTABLE-TOSTREAM-…). A
  // deleted or filtered-out row is not forwarded: a KStream value cannot be
  // null.
  KStream<K, V> ToStream(std::optional<Named> named = std::nullopt) const {
    std::string name = named ? named->name : builder_->NewName("KTABLE-TOSTREAM-");
    ProcessorSupplier<K, Change<V>, K, V> supplier = []() -> std::unique_ptr<Processor<K, Change<V>, K, V>> {
      return std::make_unique<dsl::internal::TableToStreamProcessor<K, V>>();
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K, V>(name, std::move(supplier), {node_});
    return KStream<K, V>(builder_, std::move(name));
  }

  // Rows satisfying pred(key, value); a row that stops satisfying it is
  // retracted downstream. Not materialized.
  template <typename Pred>
  KTable<K, V> Filter(Pred pred, std::optional<Named> named = std::nullopt) const {
    std::string name = named ? named->name : builder_->NewName("KTABLE-FILTER-");
    ProcessorSupplier<K, Change<V>, K, Change<V>> supplier =
        [pred]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<V>>> {
      return std::make_unique<dsl::internal::TableFilterProcessor<K, V, Pred>>(pred);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K, Change<V>>(name, std::move(supplier), {node_});
    auto getter = dsl::internal::TransformValueGetter<K, V, V>(
        getter_, [pred](const K& k, std::optional<V> v) mutable {
          return v && pred(k, *v) ? std::move(v) : std::nullopt;
        },
        getter_.value_serde);
    return KTable<K, V>(builder_, std::move(name), store_, std::move(getter));
  }

  // Rows with their value mapped (fn(value) or fn(key, value)). Not
  // materialized.
  template <typename Fn>
  auto MapValues(Fn fn, std::optional<Named> named = std::nullopt) const {
    using V2 = std::decay_t<typename std::conditional_t<std::is_invocable_v<Fn&, const K&, const V&>,
                                                        std::invoke_result<Fn&, const K&, const V&>,
                                                        std::invoke_result<Fn&, const V&>>::type>;
    std::string name = named ? named->name : builder_->NewName("KTABLE-MAPVALUES-");
    ProcessorSupplier<K, Change<V>, K, Change<V2>> supplier =
        [fn]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<V2>>> {
      return std::make_unique<dsl::internal::TableMapValuesProcessor<K, V, V2, Fn>>(fn);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K, Change<V2>>(name, std::move(supplier),
                                                                                    {node_});
    auto getter = dsl::internal::TransformValueGetter<K, V, V2>(
        getter_, [fn](const K& k, const std::optional<V>& v) mutable -> std::optional<V2> {
          if (!v) return std::nullopt;
          return dsl::internal::CallValueFn(fn, k, *v);
        },
        SerdePtr<V2>());
    return KTable<K, V2>(builder_, std::move(name), store_, std::move(getter));
  }

  // Joins with `other` on the key, as a table: joiner(value, other_value)
  // -> VR for every key both tables have. An update on either side looks up
  // the other side's row and emits the joined row's change (new and old
  // value; a delete on either side retracts the joined row), with the later
  // of the two rows' timestamps. Both tables must be co-partitioned (one
  // task per partition runs both). With `materialized`, the result is kept
  // in that store (queryable, joinable again).
  template <typename V2, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const V2&>>>
  KTable<K, VR> Join(const KTable<K, V2>& other, Joiner joiner, std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl::internal::JoinKind::kInner, V2, VR>(other, std::move(joiner), std::nullopt, named);
  }
  template <typename V2, typename Joiner, typename VR>
  KTable<K, VR> Join(const KTable<K, V2>& other, Joiner joiner, Materialized<K, VR> materialized,
                     std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl::internal::JoinKind::kInner, V2, VR>(other, std::move(joiner), std::move(materialized),
                                                             named);
  }
  // Every row of this table, joined with `other`'s if it has one:
  // joiner(value, std::optional<V2>).
  template <typename V2, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<V2>&>>>
  KTable<K, VR> LeftJoin(const KTable<K, V2>& other, Joiner joiner, std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl::internal::JoinKind::kLeft, V2, VR>(other, std::move(joiner), std::nullopt, named);
  }
  template <typename V2, typename Joiner, typename VR>
  KTable<K, VR> LeftJoin(const KTable<K, V2>& other, Joiner joiner, Materialized<K, VR> materialized,
                         std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl::internal::JoinKind::kLeft, V2, VR>(other, std::move(joiner), std::move(materialized),
                                                            named);
  }
  // Every key either table has: joiner(std::optional<V>, std::optional<V2>).
  template <typename V2, typename Joiner,
            typename VR = std::decay_t<
                std::invoke_result_t<Joiner&, const std::optional<V>&, const std::optional<V2>&>>>
  KTable<K, VR> OuterJoin(const KTable<K, V2>& other, Joiner joiner, std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl::internal::JoinKind::kOuter, V2, VR>(other, std::move(joiner), std::nullopt, named);
  }
  template <typename V2, typename Joiner, typename VR>
  KTable<K, VR> OuterJoin(const KTable<K, V2>& other, Joiner joiner, Materialized<K, VR> materialized,
                          std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl::internal::JoinKind::kOuter, V2, VR>(other, std::move(joiner), std::move(materialized),
                                                             named);
  }

  // Foreign-key join: each row joins the row of `other` whose key is
  // extractor(value), joiner(value, other_value) -> VR, keyed like this
  // table; the tables need not be co-partitioned. Rows go through
  // <application.id>-<base>-subscription-registration-topic (keyed by the
  // foreign key) to a subscription store beside `other`, and answers come
  // back through <application.id>-<base>-subscription-response-topic (keyed
  // by this table's key); an answer computed for an older value of the row
  // is dropped. base: `named` or KTABLE-FK-JOIN-<n>. The result is always
  // materialized (`materialized` gives its serdes). Both tables' value
  // serdes must be known (not MapValues tables).
  template <typename KO, typename VO, typename Extractor, typename Joiner, typename VR>
    requires std::is_invocable_v<Extractor&, const V&>
  KTable<K, VR> Join(const KTable<KO, VO>& other, Extractor extractor, Joiner joiner, Materialized<K, VR> materialized,
                     std::optional<Named> named = std::nullopt) const {
    return ForeignKeyJoin<false>(other, std::move(extractor), std::move(joiner), std::move(materialized), named);
  }
  // Every row, joined with its foreign row if there is one: joiner(value,
  // std::optional<VO>).
  template <typename KO, typename VO, typename Extractor, typename Joiner, typename VR>
    requires std::is_invocable_v<Extractor&, const V&>
  KTable<K, VR> LeftJoin(const KTable<KO, VO>& other, Extractor extractor, Joiner joiner,
                         Materialized<K, VR> materialized, std::optional<Named> named = std::nullopt) const {
    return ForeignKeyJoin<true>(other, std::move(extractor), std::move(joiner), std::move(materialized), named);
  }

  // Regroups the rows by selector(key, value) -> KeyValue<K2, V2>, through
  // <application.id>-<base>-repartition (base: the Grouped name or the
  // aggregation's store name). A row that changes group leaves the old one
  // (subtracted) and joins the new one (added).
  template <typename Fn, typename KV = std::decay_t<std::invoke_result_t<Fn&, const K&, const V&>>>
  KGroupedTable<decltype(KV::key), decltype(KV::value)> GroupBy(Fn selector,
                                                               Grouped<decltype(KV::key), decltype(KV::value)> grouped) {
    using K2 = decltype(KV::key);
    using V2 = decltype(KV::value);
    std::string name = builder_->NewName("KTABLE-SELECT-");
    ProcessorSupplier<K, Change<V>, K2, Change<V2>> supplier =
        [selector]() -> std::unique_ptr<Processor<K, Change<V>, K2, Change<V2>>> {
      return std::make_unique<dsl::internal::TableGroupByProcessor<K, V, K2, V2, Fn>>(selector);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K2, Change<V2>>(name, std::move(supplier),
                                                                                     {node_});
    return KGroupedTable<K2, V2>(builder_, std::move(name), std::move(grouped));
  }

 private:
  template <dsl::internal::JoinKind kKind, typename V2, typename VR, typename Joiner>
  KTable<K, VR> JoinTable(const KTable<K, V2>& other, Joiner joiner, std::optional<Materialized<K, VR>> materialized,
                          const std::optional<Named>& named) const {
    return FromNode(dsl::internal::AddTableTableJoin<kKind, K, V, V2, VR>(
        *builder_, node_, getter_, other.node_name(), other.value_getter(), std::move(joiner),
        std::move(materialized), named));
  }

  template <bool kLeft, typename KO, typename VO, typename Extractor, typename Joiner, typename VR>
  KTable<K, VR> ForeignKeyJoin(const KTable<KO, VO>& other, Extractor extractor, Joiner joiner,
                               Materialized<K, VR> materialized, const std::optional<Named>& named) const {
    return FromNode(dsl::internal::AddForeignKeyJoin<kLeft>(*builder_, node_, getter_, other.node_name(),
                                                           other.value_getter(), std::move(extractor),
                                                           std::move(joiner), std::move(materialized), named));
  }

  template <typename VR>
  KTable<K, VR> FromNode(dsl::internal::TableNode<K, VR> table) const {
    return KTable<K, VR>(builder_, std::move(table.node), std::move(table.store), std::move(table.getter));
  }

  StreamsBuilder* builder_;
  std::string node_;
  std::string store_;
  dsl::internal::TableValueGetterSupplier<K, V> getter_;
};

}  // namespace runnel

#endif  // RUNNEL_DSL_KTABLE_H_
