#ifndef RUNNEL_DSL_KGROUPED_H_
#define RUNNEL_DSL_KGROUPED_H_

// Grouped streams and tables: KGroupedStream (from KStream::GroupByKey /
// GroupBy) and KGroupedTable (from KTable::GroupBy), ready to aggregate
// into a KTable. Both are cheap handles on the building thread that must
// not outlive their StreamsBuilder.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "runnel/dsl/builder.h"
#include "runnel/dsl/internal/fwd.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/options.h"
#include "runnel/dsl/windows.h"
#include "runnel/serde/windowed.h"
#include "runnel/topology/topology.h"

namespace runnel {

// Shared by the windowed streams: the store name, the processor name and
// the validated retention of one windowed aggregation.
namespace dsl::internal {
struct WindowedNames {
  std::string store;
  std::string name;
  int64_t retention_ms;
};
template <typename K, typename VA>
WindowedNames NameWindowed(StreamsBuilder* builder, const Materialized<K, VA>& materialized,
                           const std::optional<Named>& named, std::string_view kind, int64_t min_retention_ms,
                           const absl::Status& spec_valid) {
  WindowedNames out;
  out.store = materialized.store_name.empty() ? builder->NewName("KSTREAM-AGGREGATE-STATE-STORE-")
                                              : materialized.store_name;
  out.name = named ? named->name : builder->NewName("KSTREAM-AGGREGATE-");
  out.retention_ms = materialized.retention ? absl::ToInt64Milliseconds(*materialized.retention) : min_retention_ms;
  if (!spec_valid.ok()) {
    builder->Fail(absl::InvalidArgumentError(
        absl::StrCat("windowed aggregation '", out.name, "': ", spec_valid.message())));
  } else if (out.retention_ms < min_retention_ms) {
    builder->Fail(absl::InvalidArgumentError(absl::StrCat(
        "windowed aggregation '", out.name, "': store '", out.store, "' retention ", out.retention_ms,
        " ms is shorter than the ", ToAbsl(kind), " (", min_retention_ms, " ms); results would be dropped before "
        "their window closes")));
  }
  return out;
}
}  // namespace dsl::internal

// A stream grouped by key: Count, Reduce and Aggregate per key, or
// WindowedBy a window spec for per-window aggregations.
template <typename K, typename V>
class KGroupedStream {
 public:
  KGroupedStream(StreamsBuilder* builder, std::string node, bool repartition_required = false,
                 std::optional<Grouped<K, V>> grouped = std::nullopt)
      : builder_(builder),
        node_(std::move(node)),
        repartition_required_(repartition_required),
        grouped_(std::move(grouped)) {}

  // Records per key.
  KTable<K, int64_t> Count(Materialized<K, int64_t> materialized, std::optional<Named> named = std::nullopt) {
    return AddAggregation<int64_t>(
        [](const K&, const V&, std::optional<int64_t> n) { return n.value_or(0) + 1; }, std::move(materialized),
        std::move(named));
  }

  // reducer(aggregate, value) -> aggregate; a key's first value is its first
  // aggregate.
  template <typename Reducer>
  KTable<K, V> Reduce(Reducer reducer, Materialized<K, V> materialized, std::optional<Named> named = std::nullopt) {
    return AddAggregation<V>(
        [reducer](const K&, const V& v, std::optional<V> agg) -> V {
          return agg ? static_cast<V>(reducer(*agg, v)) : v;
        },
        std::move(materialized), std::move(named));
  }

  // aggregator(key, value, aggregate) -> aggregate, starting from
  // initializer() for a key's first record.
  template <typename VA, typename Init, typename Agg>
  KTable<K, VA> Aggregate(Init initializer, Agg aggregator, Materialized<K, VA> materialized,
                          std::optional<Named> named = std::nullopt) {
    return AddAggregation<VA>(
        [initializer, aggregator](const K& k, const V& v, std::optional<VA> agg) -> VA {
          return static_cast<VA>(aggregator(k, v, agg ? std::move(*agg) : static_cast<VA>(initializer())));
        },
        std::move(materialized), std::move(named));
  }

  // Aggregates per key and time window (tumbling or hopping).
  TimeWindowedKStream<K, V> WindowedBy(TimeWindows windows) { return TimeWindowedKStream<K, V>(*this, windows); }
  // Aggregates per key and sliding window: windows [t - d, t] that end at
  // (or start just after) a record. Results are keyed by Windowed<K> with
  // end = start + d (serdes::TimeWindowed(inner, d) reads them back).
  TimeWindowedKStream<K, V> WindowedBy(SlidingWindows windows) { return TimeWindowedKStream<K, V>(*this, windows); }
  // Aggregates per key and session.
  SessionWindowedKStream<K, V> WindowedBy(SessionWindows windows) {
    return SessionWindowedKStream<K, V>(*this, windows);
  }
  // Aggregates per key over windows of n records (Quix Streams' count
  // windows): see CountWindowedKStream.
  CountWindowedKStream<K, V> WindowedBy(CountWindows windows) { return CountWindowedKStream<K, V>(*this, windows); }

 private:
  template <typename VA, typename Fold>
  KTable<K, VA> AddAggregation(Fold fold, Materialized<K, VA> materialized, std::optional<Named> named) {
    // The store's name is generated before the processor's, as Kafka Streams
    // does (so Describe() matches: KSTREAM-AGGREGATE-0000000002 with stores
    // [KSTREAM-AGGREGATE-STATE-STORE-0000000001]).
    std::string store = materialized.store_name.empty() ? builder_->NewName("KSTREAM-AGGREGATE-STATE-STORE-")
                                                        : materialized.store_name;
    std::string name = named ? named->name : builder_->NewName("KSTREAM-AGGREGATE-");
    auto key_serde = materialized.key_serde;
    auto value_serde = materialized.value_serde;
    ProcessorSupplier<K, V, K, Change<VA>> supplier =
        [store, key_serde, value_serde, fold]() -> std::unique_ptr<Processor<K, V, K, Change<VA>>> {
      return std::make_unique<dsl::internal::AggregateProcessor<K, V, VA, Fold>>(store, key_serde, value_serde,
                                                                                fold);
    };
    auto& tb = builder_->topology_builder();
    tb.AddProcessor<K, V, K, Change<VA>>(name, std::move(supplier), {InputFor(name, store)});
    tb.AddStateStore(materialized.Spec(store), {name});
    auto getter = dsl::internal::StoreValueGetter<K, VA>(store, key_serde, value_serde);
    return KTable<K, VA>(builder_, std::move(name), std::move(store), std::move(getter));
  }

  // The node an aggregation `name` (with store `store`) reads from: this
  // stream, or after a key change a repartition topic in between.
  std::string InputFor(const std::string& name, const std::string& store) {
    if (!repartition_required_) return node_;
    if (!grouped_) {
      builder_->Fail(absl::InvalidArgumentError(absl::StrCat(
          "aggregation '", name, "' follows a key change and needs a repartition topic: give GroupByKey or "
          "GroupBy a Grouped with the key and value serdes")));
      return node_;
    }
    // Kafka Streams' naming: <base>-repartition, where base is the Grouped
    // name or the store name. Records without a key have no group.
    const std::string base = grouped_->name.empty() ? store : grouped_->name;
    return builder_->RepartitionThrough<K, V>(node_, base, grouped_->key_serde, grouped_->value_serde);
  }

  // A windowed aggregation: make(node, store, retention_ms) gives its
  // processor supplier; its store keeps windows for retention_ms (when
  // `time_retained`; count windows keep theirs until they close).
  template <typename VA, typename MakeSupplier>
  KTable<Windowed<K>, VA> AddWindowed(const Materialized<K, VA>& materialized, const std::optional<Named>& named,
                                      std::string_view kind, int64_t min_retention_ms,
                                      const absl::Status& spec_valid, MakeSupplier make, StoreSpec::Layout layout,
                                      int64_t window_size_ms, bool time_retained = true) {
    auto names = dsl::internal::NameWindowed(builder_, materialized, named, kind, min_retention_ms, spec_valid);
    auto& tb = builder_->topology_builder();
    tb.AddProcessor<K, V, Windowed<K>, Change<VA>>(names.name, make(names.name, names.store, names.retention_ms),
                                                   {InputFor(names.name, names.store)});
    StoreSpec spec = materialized.Spec(names.store);
    spec.layout = layout;
    spec.window_size_ms = window_size_ms;
    if (time_retained) spec.retention_ms = names.retention_ms;
    tb.AddStateStore(std::move(spec), {names.name});
    return KTable<Windowed<K>, VA>(builder_, std::move(names.name), std::move(names.store));
  }

  template <typename K2, typename V2>
  friend class TimeWindowedKStream;
  template <typename K2, typename V2>
  friend class SessionWindowedKStream;
  template <typename K2, typename V2>
  friend class CountWindowedKStream;

  StreamsBuilder* builder_;
  std::string node_;
  bool repartition_required_;
  std::optional<Grouped<K, V>> grouped_;
};

// A table regrouped by a new key, ready to aggregate with an adder and a
// subtractor.
template <typename K, typename V>
class KGroupedTable {
 public:
  KGroupedTable(StreamsBuilder* builder, std::string node, Grouped<K, V> grouped)
      : builder_(builder), node_(std::move(node)), grouped_(std::move(grouped)) {}

  // Rows per group.
  KTable<K, int64_t> Count(Materialized<K, int64_t> materialized, std::optional<Named> named = std::nullopt) {
    return Aggregate([] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
                     [](const K&, const V&, int64_t n) { return n - 1; }, std::move(materialized), std::move(named));
  }

  // adder(aggregate, value) when a row joins the group,
  // subtractor(aggregate, value) when it leaves; a group's first value is
  // its first aggregate.
  template <typename Adder, typename Subtractor>
  KTable<K, V> Reduce(Adder adder, Subtractor subtractor, Materialized<K, V> materialized,
                      std::optional<Named> named = std::nullopt) {
    return AddAggregation<V>(
        [adder, subtractor](const K&, const Change<V>& c, std::optional<V> agg) -> V {
          if (c.old_value && agg) agg = static_cast<V>(subtractor(*agg, *c.old_value));
          if (c.new_value) agg = agg ? static_cast<V>(adder(*agg, *c.new_value)) : *c.new_value;
          return agg ? *agg : V{};
        },
        std::move(materialized), std::move(named));
  }

  // From initializer(), adder(key, value, aggregate) for a joining row and
  // subtractor(key, value, aggregate) for a leaving one.
  template <typename VA, typename Init, typename Adder, typename Subtractor>
  KTable<K, VA> Aggregate(Init initializer, Adder adder, Subtractor subtractor, Materialized<K, VA> materialized,
                          std::optional<Named> named = std::nullopt) {
    return AddAggregation<VA>(
        [initializer, adder, subtractor](const K& k, const Change<V>& c, std::optional<VA> agg) -> VA {
          VA current = agg ? std::move(*agg) : static_cast<VA>(initializer());
          if (c.old_value) current = static_cast<VA>(subtractor(k, *c.old_value, std::move(current)));
          if (c.new_value) current = static_cast<VA>(adder(k, *c.new_value, std::move(current)));
          return current;
        },
        std::move(materialized), std::move(named));
  }

 private:
  template <typename VA, typename Fold>
  KTable<K, VA> AddAggregation(Fold fold, Materialized<K, VA> materialized, std::optional<Named> named) {
    std::string store = materialized.store_name.empty() ? builder_->NewName("KTABLE-AGGREGATE-STATE-STORE-")
                                                        : materialized.store_name;
    std::string name = named ? named->name : builder_->NewName("KTABLE-AGGREGATE-");
    const std::string topic = (grouped_.name.empty() ? store : grouped_.name) + "-repartition";
    auto change_serde = std::make_shared<dsl::internal::ChangeSerde<V>>(grouped_.value_serde);
    auto& tb = builder_->topology_builder();
    tb.AddSink<K, Change<V>>(topic + "-sink", topic, grouped_.key_serde, change_serde, {node_});
    tb.AddInternalTopic(topic);
    tb.AddSource<K, Change<V>>(topic + "-source", {topic}, grouped_.key_serde, change_serde);
    auto key_serde = materialized.key_serde;
    auto value_serde = materialized.value_serde;
    ProcessorSupplier<K, Change<V>, K, Change<VA>> supplier =
        [store, key_serde, value_serde, fold]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<VA>>> {
      return std::make_unique<dsl::internal::AggregateProcessor<K, Change<V>, VA, Fold>>(store, key_serde,
                                                                                        value_serde, fold);
    };
    tb.AddProcessor<K, Change<V>, K, Change<VA>>(name, std::move(supplier), {topic + "-source"});
    tb.AddStateStore(materialized.Spec(store), {name});
    auto getter = dsl::internal::StoreValueGetter<K, VA>(store, key_serde, value_serde);
    return KTable<K, VA>(builder_, std::move(name), std::move(store), std::move(getter));
  }

  StreamsBuilder* builder_;
  std::string node_;
  Grouped<K, V> grouped_;
};

}  // namespace runnel

#endif  // RUNNEL_DSL_KGROUPED_H_
