#ifndef RUNNEL_DSL_STREAMS_BUILDER_H_
#define RUNNEL_DSL_STREAMS_BUILDER_H_

// The fluent DSL:
//
//   StreamsBuilder builder;
//   builder.Stream<std::string, std::string>("sensor-readings",
//                                            Consumed(serdes::String(), serdes::String()))
//       .Filter([](const auto& k, const auto& v) { return !v.empty(); })
//       .MapValues([](const std::string& v) { return v + "!"; })
//       .To("sensor-clean", Produced(serdes::String(), serdes::String()));
//   auto topology = builder.Build();
//
// Every operation adds a node to the builder's topology; names are generated
// deterministically (KSTREAM-FILTER-0000000001, like Kafka Streams) unless a
// Named is given. Build() validates and compiles. Not thread-safe: build on
// one thread, then share the Topology.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runnel/dsl/internal/global_join.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/dsl/key_value.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/topology/topology.h"

namespace runnel {

template <typename K, typename V>
struct Consumed {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  Consumed(SerdePtr<K> k, SerdePtr<V> v) : key_serde(std::move(k)), value_serde(std::move(v)) {}
};

template <typename K, typename V>
struct Produced {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  // Optional: choose the partition; unset uses murmur2 of the key.
  internal::StreamPartitioner<K, V> partitioner;
  Produced(SerdePtr<K> k, SerdePtr<V> v, internal::StreamPartitioner<K, V> p = nullptr)
      : key_serde(std::move(k)), value_serde(std::move(v)), partitioner(std::move(p)) {}
};

// A user-chosen processor name.
struct Named {
  std::string name;
  explicit Named(std::string n) : name(std::move(n)) {}
};

// Serdes (and optionally a name) for the repartition topic a grouping needs
// when the key was changed upstream (map, flatMap, selectKey, groupBy).
template <typename K, typename V>
struct Grouped {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  std::string name;  // base of the repartition topic's name; default: the store's
  Grouped(SerdePtr<K> k, SerdePtr<V> v, std::string n = "")
      : key_serde(std::move(k)), value_serde(std::move(v)), name(std::move(n)) {}
};

// Where and how an aggregation keeps its state. The store name is what
// interactive queries and the changelog topic
// (<application.id>-<name>-changelog) are called by; without one a
// deterministic name is generated (KSTREAM-AGGREGATE-STATE-STORE-0000000003).
template <typename K, typename V>
struct Materialized {
  std::string store_name;
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  bool caching = true;
  bool logging = true;
  bool in_memory = false;

  Materialized(SerdePtr<K> k, SerdePtr<V> v) : key_serde(std::move(k)), value_serde(std::move(v)) {}
  static Materialized As(std::string name, SerdePtr<K> k, SerdePtr<V> v) {
    Materialized m(std::move(k), std::move(v));
    m.store_name = std::move(name);
    return m;
  }
  Materialized& WithCachingDisabled() { caching = false; return *this; }
  Materialized& WithLoggingDisabled() { logging = false; return *this; }
  Materialized& InMemory() { in_memory = true; return *this; }

  // The store this declares, named `name`.
  StoreSpec Spec(std::string name) const {
    return StoreSpec{.name = std::move(name),
                     .kind = in_memory ? StoreSpec::Kind::kInMemory : StoreSpec::Kind::kRocksDb,
                     .logging = logging,
                     .caching = caching};
  }
};

template <typename K, typename V>
class KStream;
template <typename K, typename V>
class KGroupedStream;
template <typename K, typename V>
class KTable;
template <typename K, typename V>
class KGroupedTable;

// A table held in full by every instance (Kafka Streams' GlobalKTable):
// the latest value per key of every partition of its topic, in the global
// store store_name(). It has no operations of its own; streams join it
// (KStream::Join / LeftJoin) with any key they compute, without
// co-partitioning. Its updates produce no output. A cheap handle: copy it.
template <typename K, typename V>
class GlobalKTable {
 public:
  GlobalKTable(std::string store, std::string topic, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_(std::move(store)), topic_(std::move(topic)), key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  // The global store (for interactive queries and processors: any task may
  // read it by this name, read-only).
  const std::string& store_name() const { return store_; }
  const std::string& topic() const { return topic_; }
  // The store's serdes (from its Materialized).
  const SerdePtr<K>& key_serde() const { return key_serde_; }
  const SerdePtr<V>& value_serde() const { return value_serde_; }

 private:
  std::string store_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

class StreamsBuilder {
 public:
  template <typename K, typename V>
  KStream<K, V> Stream(std::string topic, Consumed<K, V> consumed) {
    return Stream<K, V>(std::vector<std::string>{std::move(topic)}, std::move(consumed));
  }
  template <typename K, typename V>
  KStream<K, V> Stream(std::vector<std::string> topics, Consumed<K, V> consumed) {
    std::string name = NewName("KSTREAM-SOURCE-");
    builder_.AddSource<K, V>(name, std::move(topics), std::move(consumed.key_serde),
                             std::move(consumed.value_serde));
    return KStream<K, V>(this, std::move(name));
  }

  // The topic as a table: the latest value per key, kept in the store that
  // `materialized` names (changelogged, restored like any store); a null
  // value deletes the key. Its updates can be read with ToStream().
  template <typename K, typename V>
  KTable<K, V> Table(std::string topic, Consumed<K, V> consumed, Materialized<K, V> materialized);

  // The topic as a GlobalKTable: every instance keeps all of it, in the
  // global store `materialized` names (RocksDB, or in memory with
  // InMemory(); its caching and logging switches do not apply: the topic
  // itself is the changelog, and readers see each update at once). The
  // runtime reads the topic to its end before any stream thread starts,
  // then follows it on a global thread; a null value deletes the key.
  template <typename K, typename V>
  GlobalKTable<K, V> GlobalTable(std::string topic, Consumed<K, V> consumed, Materialized<K, V> materialized) {
    // Names in Kafka Streams' order: the store (if generated), the source,
    // the table processor.
    std::string store = materialized.store_name.empty() ? NewName(absl::StrCat(topic, "-STATE-STORE-"))
                                                        : materialized.store_name;
    std::string source = NewName("KSTREAM-SOURCE-");
    std::string name = NewName("KTABLE-SOURCE-");
    auto key_serde = materialized.key_serde;
    auto value_serde = materialized.value_serde;
    ProcessorSupplier<K, std::optional<V>, K, Change<V>> supplier =
        [store, key_serde, value_serde]() -> std::unique_ptr<Processor<K, std::optional<V>, K, Change<V>>> {
      return std::make_unique<dsl_internal::TableSourceProcessor<K, V>>(store, key_serde, value_serde,
                                                                        /*read_old_values=*/false);
    };
    builder_.AddGlobalStore<K, std::optional<V>, K, Change<V>>(materialized.Spec(store), std::move(source), topic,
                                                               consumed.key_serde,
                                                               serdes::Nullable(consumed.value_serde),
                                                               std::move(name), std::move(supplier));
    return GlobalKTable<K, V>(std::move(store), std::move(topic), std::move(key_serde), std::move(value_serde));
  }

  absl::StatusOr<std::shared_ptr<const Topology>> Build() {
    if (!error_.ok()) return error_;
    return builder_.Build();
  }

  // Records the first mistake made while chaining (reported by Build, since
  // a fluent call cannot return a Status).
  void Fail(absl::Status error) {
    if (error_.ok()) error_ = std::move(error);
  }

  // The underlying builder, for mixing in the Processor API.
  TopologyBuilder& topology_builder() { return builder_; }

  // "<prefix><10-digit index>": deterministic for a given sequence of calls.
  std::string NewName(std::string_view prefix) {
    return absl::StrFormat("%s%010d", std::string(prefix), index_++);
  }

 private:
  TopologyBuilder builder_;
  int index_ = 0;
  absl::Status error_;
};

template <typename K, typename V>
class KStream {
 public:
  // `repartition_required`: the key was changed upstream, so a grouping must
  // go through a repartition topic first.
  using Key = K;
  using Value = V;

  KStream(StreamsBuilder* builder, std::string node, bool repartition_required = false)
      : builder_(builder), node_(std::move(node)), repartition_required_(repartition_required) {}

  const std::string& node_name() const { return node_; }
  bool repartition_required() const { return repartition_required_; }

  // Keeps records for which pred(key, value) is true.
  template <typename Pred>
  KStream<K, V> Filter(Pred pred, std::optional<Named> named = std::nullopt) {
    return AddProcessor<K, V>("KSTREAM-FILTER-", named, [pred] {
      return std::make_unique<dsl_internal::FilterProcessor<K, V, Pred>>(pred, true);
    });
  }
  template <typename Pred>
  KStream<K, V> FilterNot(Pred pred, std::optional<Named> named = std::nullopt) {
    return AddProcessor<K, V>("KSTREAM-FILTER-", named, [pred] {
      return std::make_unique<dsl_internal::FilterProcessor<K, V, Pred>>(pred, false);
    });
  }

  // fn(key, value) -> KeyValue<K2, V2>.
  template <typename Fn, typename R = std::invoke_result_t<Fn&, const K&, const V&>>
  KStream<decltype(R::key), decltype(R::value)> Map(Fn fn, std::optional<Named> named = std::nullopt) {
    using K2 = decltype(R::key);
    using V2 = decltype(R::value);
    return AddProcessor<K2, V2>("KSTREAM-MAP-", named, [fn] {
      return std::make_unique<dsl_internal::MapProcessor<K, V, K2, V2, Fn>>(fn);
    }, /*changes_key=*/true);
  }

  // fn(value) or fn(key, value) -> V2.
  template <typename Fn>
  auto MapValues(Fn fn, std::optional<Named> named = std::nullopt) {
    using V2 = std::decay_t<ValueFnResult<Fn>>;
    return AddProcessor<K, V2>("KSTREAM-MAPVALUES-", named, [fn] {
      return std::make_unique<dsl_internal::MapValuesProcessor<K, V, V2, Fn>>(fn);
    });
  }

  // fn(key, value) -> a range of KeyValue<K2, V2> (e.g. std::vector).
  template <typename Fn, typename R = std::invoke_result_t<Fn&, const K&, const V&>>
  auto FlatMap(Fn fn, std::optional<Named> named = std::nullopt) {
    using KV = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;
    using K2 = decltype(KV::key);
    using V2 = decltype(KV::value);
    return AddProcessor<K2, V2>("KSTREAM-FLATMAP-", named, [fn] {
      return std::make_unique<dsl_internal::FlatMapProcessor<K, V, K2, V2, Fn>>(fn);
    }, /*changes_key=*/true);
  }

  // fn(value) or fn(key, value) -> a range of V2.
  template <typename Fn>
  auto FlatMapValues(Fn fn, std::optional<Named> named = std::nullopt) {
    using R = std::decay_t<ValueFnResult<Fn>>;
    using V2 = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;
    return AddProcessor<K, V2>("KSTREAM-FLATMAPVALUES-", named, [fn] {
      return std::make_unique<dsl_internal::FlatMapValuesProcessor<K, V, V2, Fn>>(fn);
    });
  }

  // Calls fn(key, value) and passes the record on unchanged.
  template <typename Fn>
  KStream<K, V> Peek(Fn fn, std::optional<Named> named = std::nullopt) {
    return AddProcessor<K, V>("KSTREAM-PEEK-", named, [fn] {
      return std::make_unique<dsl_internal::PeekProcessor<K, V, Fn>>(fn, true);
    });
  }

  // Calls fn(key, value); terminal.
  template <typename Fn>
  void Foreach(Fn fn, std::optional<Named> named = std::nullopt) {
    AddProcessor<K, V>("KSTREAM-FOREACH-", named, [fn] {
      return std::make_unique<dsl_internal::PeekProcessor<K, V, Fn>>(fn, false);
    });
  }

  // Runs a user Processor (Processor API) on this stream.
  template <typename K2, typename V2>
  KStream<K2, V2> Process(ProcessorSupplier<K, V, K2, V2> supplier,
                          std::optional<Named> named = std::nullopt) {
    return AddProcessor<K2, V2>("KSTREAM-PROCESSOR-", named, std::move(supplier));
  }

  // Groups by the current key for an aggregation. The key must already be
  // the grouping key and the stream partitioned by it (as read from a topic,
  // or after an explicit repartition through a topic).
  //
  // After a key change, Grouped gives the repartition topic's serdes.
  KGroupedStream<K, V> GroupByKey(std::optional<Grouped<K, V>> grouped = std::nullopt) {
    return KGroupedStream<K, V>(builder_, node_, repartition_required_, std::move(grouped));
  }

  // fn(key, value) -> the new key.
  template <typename Fn, typename K2 = std::decay_t<std::invoke_result_t<Fn&, const K&, const V&>>>
  KStream<K2, V> SelectKey(Fn fn, std::optional<Named> named = std::nullopt) {
    auto rekey = [fn](const K& k, const V& v) { return KeyValue<K2, V>{fn(k, v), v}; };
    using Rekey = decltype(rekey);
    return AddProcessor<K2, V>("KSTREAM-KEY-SELECT-", named, [rekey] {
      return std::make_unique<dsl_internal::MapProcessor<K, V, K2, V, Rekey>>(rekey);
    }, /*changes_key=*/true);
  }

  // Groups by a new key, selector(key, value): records go through a
  // repartition topic (<application.id>-<store>-repartition) so that each
  // new key is counted by one task.
  template <typename Fn, typename K2 = std::decay_t<std::invoke_result_t<Fn&, const K&, const V&>>>
  KGroupedStream<K2, V> GroupBy(Fn selector, Grouped<K2, V> grouped) {
    return SelectKey(std::move(selector)).GroupByKey(std::move(grouped));
  }

  // Splits the stream: a record goes to the first branch whose predicate
  // holds, else to the default branch (when `with_default`), else nowhere.
  // Returns the branches in order, the default last. Names follow Kafka
  // Streams' split(): <prefix>-<i> for branch i (1-based), <prefix>-0 for the
  // default, where the prefix is `named` or KSTREAM-BRANCH-<n>.
  std::vector<KStream<K, V>> Split(std::vector<std::function<bool(const K&, const V&)>> predicates,
                                   bool with_default = false, std::optional<Named> named = std::nullopt) {
    std::string name = named ? named->name : builder_->NewName("KSTREAM-BRANCH-");
    std::vector<std::string> children;
    for (size_t i = 0; i < predicates.size(); ++i) children.push_back(absl::StrCat(name, "-", i + 1));
    std::optional<std::string> default_child;
    if (with_default) default_child = name + "-0";
    ProcessorSupplier<K, V, K, V> supplier = [predicates, children,
                                              default_child]() -> std::unique_ptr<Processor<K, V, K, V>> {
      return std::make_unique<dsl_internal::BranchProcessor<K, V>>(predicates, children, default_child);
    };
    auto& tb = builder_->topology_builder();
    tb.AddProcessor<K, V, K, V>(name, std::move(supplier), {node_});
    if (default_child) children.push_back(*default_child);
    std::vector<KStream<K, V>> out;
    for (const auto& child : children) {
      tb.AddProcessor<K, V, K, V>(child, PassThrough(), {name});
      out.emplace_back(builder_, child, repartition_required_);
    }
    return out;
  }

  // Both streams' records, in one stream.
  KStream<K, V> Merge(const KStream<K, V>& other, std::optional<Named> named = std::nullopt) {
    std::string name = named ? named->name : builder_->NewName("KSTREAM-MERGE-");
    builder_->topology_builder().AddProcessor<K, V, K, V>(name, PassThrough(), {node_, other.node_name()});
    return KStream<K, V>(builder_, std::move(name), repartition_required_ || other.repartition_required());
  }

  // Sends the stream through <application.id>-<name>-repartition, partitioned
  // by its current key (or `partitioner`), and reads it back: afterwards the
  // stream is partitioned by key.
  KStream<K, V> Repartition(Produced<K, V> serdes, std::optional<Named> named = std::nullopt) {
    std::string base = named ? named->name : builder_->NewName("KSTREAM-REPARTITION-");
    const std::string topic = base + "-repartition";
    auto& tb = builder_->topology_builder();
    tb.AddSink<K, V>(topic + "-sink", topic, serdes.key_serde, serdes.value_serde, {node_},
                     std::move(serdes.partitioner));
    tb.AddInternalTopic(topic);
    tb.AddSource<K, V>(topic + "-source", {topic}, serdes.key_serde, serdes.value_serde);
    return KStream<K, V>(builder_, topic + "-source", false);
  }

  // Joins each record with the row of `table` under key_selector(key,
  // value) (a KG, or std::optional<KG> where std::nullopt is a null key):
  // joiner(value, table value) -> the output value, under the
  // record's key and timestamp. The lookup happens when the record is
  // processed; without a row (or with a null table key) there is no output.
  // No co-partitioning needed: every instance holds the whole table. Node
  // name KSTREAM-JOIN-<n> unless `named`. See dsl/internal/global_join.h
  // for null handling.
  template <typename KG, typename VG, typename KeySelector, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const VG&>>>
  KStream<K, VR> Join(const GlobalKTable<KG, VG>& table, KeySelector key_selector, Joiner joiner,
                      std::optional<Named> named = std::nullopt) {
    return JoinGlobal<KG, VG, VR>(table, std::move(key_selector), std::move(joiner), false, named);
  }

  // Like Join, but a record without a row (or with a null table key) is
  // still joined: joiner(value, std::optional<VG>) gets std::nullopt. Node
  // name KSTREAM-LEFTJOIN-<n> unless `named`.
  template <typename KG, typename VG, typename KeySelector, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<VG>&>>>
  KStream<K, VR> LeftJoin(const GlobalKTable<KG, VG>& table, KeySelector key_selector, Joiner joiner,
                          std::optional<Named> named = std::nullopt) {
    return JoinGlobal<KG, VG, VR>(table, std::move(key_selector), std::move(joiner), true, named);
  }

  // Writes to `topic`; terminal.
  void To(std::string topic, Produced<K, V> produced, std::optional<Named> named = std::nullopt) {
    std::string name = named ? named->name : builder_->NewName("KSTREAM-SINK-");
    builder_->topology_builder().AddSink<K, V>(name, std::move(topic), std::move(produced.key_serde),
                                               std::move(produced.value_serde), {node_},
                                               std::move(produced.partitioner));
  }

 private:
  // The result of fn(key, value) or, if it takes only the value, fn(value).
  template <typename Fn>
  using ValueFnResult = typename std::conditional_t<std::is_invocable_v<Fn&, const K&, const V&>,
                                                    std::invoke_result<Fn&, const K&, const V&>,
                                                    std::invoke_result<Fn&, const V&>>::type;

  template <typename KG, typename VG, typename VR, typename KeySelector, typename Joiner>
  KStream<K, VR> JoinGlobal(const GlobalKTable<KG, VG>& table, KeySelector key_selector, Joiner joiner, bool left,
                            const std::optional<Named>& named) {
    auto store = table.store_name();
    auto key_serde = table.key_serde();
    auto value_serde = table.value_serde();
    // The key is unchanged: the result keeps the stream's partitioning.
    return AddProcessor<K, VR>(left ? "KSTREAM-LEFTJOIN-" : "KSTREAM-JOIN-", named,
                               [store, key_serde, value_serde, key_selector, joiner, left] {
                                 return std::make_unique<dsl_internal::GlobalTableJoinProcessor<
                                     K, V, KG, VG, VR, KeySelector, Joiner>>(store, key_serde, value_serde,
                                                                             key_selector, joiner, left);
                               });
  }

  static ProcessorSupplier<K, V, K, V> PassThrough() {
    return []() -> std::unique_ptr<Processor<K, V, K, V>> {
      return std::make_unique<dsl_internal::PassThroughProcessor<K, V>>();
    };
  }

  template <typename K2, typename V2, typename Supplier>
  KStream<K2, V2> AddProcessor(std::string_view prefix, const std::optional<Named>& named,
                               Supplier supplier, bool changes_key = false) {
    std::string name = named ? named->name : builder_->NewName(prefix);
    ProcessorSupplier<K, V, K2, V2> erased = [supplier]() -> std::unique_ptr<Processor<K, V, K2, V2>> {
      return supplier();
    };
    builder_->topology_builder().AddProcessor<K, V, K2, V2>(name, std::move(erased), {node_});
    return KStream<K2, V2>(builder_, std::move(name), repartition_required_ || changes_key);
  }

  StreamsBuilder* builder_;
  std::string node_;
  bool repartition_required_ = false;
};

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
      return std::make_unique<dsl_internal::AggregateProcessor<K, V, VA, Fold>>(store, key_serde, value_serde,
                                                                                fold);
    };
    auto& tb = builder_->topology_builder();
    std::string parent = node_;
    if (repartition_required_) {
      if (!grouped_) {
        builder_->Fail(absl::InvalidArgumentError(absl::StrCat(
            "aggregation '", name, "' follows a key change and needs a repartition topic: give GroupByKey or "
            "GroupBy a Grouped with the key and value serdes")));
        return KTable<K, VA>(builder_, std::move(name), std::move(store));
      }
      // Kafka Streams' naming: <base>-repartition, where base is the
      // Grouped name or the store name.
      const std::string base = grouped_->name.empty() ? store : grouped_->name;
      const std::string topic = base + "-repartition";
      // Records without a key have no group: dropped before the topic, by a
      // <topic>-filter node as in Kafka Streams.
      auto key_serde_for_nulls = grouped_->key_serde;
      auto has_key = [key_serde_for_nulls](const K& k, const V&) { return !key_serde_for_nulls->IsNull(k); };
      using HasKey = decltype(has_key);
      ProcessorSupplier<K, V, K, V> filter = [has_key]() -> std::unique_ptr<Processor<K, V, K, V>> {
        return std::make_unique<dsl_internal::FilterProcessor<K, V, HasKey>>(has_key, true);
      };
      tb.AddProcessor<K, V, K, V>(topic + "-filter", std::move(filter), {node_});
      tb.AddSink<K, V>(topic + "-sink", topic, grouped_->key_serde, grouped_->value_serde, {topic + "-filter"});
      tb.AddInternalTopic(topic);
      tb.AddSource<K, V>(topic + "-source", {topic}, grouped_->key_serde, grouped_->value_serde);
      parent = topic + "-source";
    }
    tb.AddProcessor<K, V, K, Change<VA>>(name, std::move(supplier), {parent});
    tb.AddStateStore(materialized.Spec(store), {name});
    return KTable<K, VA>(builder_, std::move(name), std::move(store));
  }

  StreamsBuilder* builder_;
  std::string node_;
  bool repartition_required_;
  std::optional<Grouped<K, V>> grouped_;
};

// A table: the latest value per key, held in a store (store_name()).
// Internally its node emits Change<V> records (new and old value), so that
// filters retract rows and downstream aggregations subtract old values.
template <typename K, typename V>
class KTable {
 public:
  KTable(StreamsBuilder* builder, std::string node, std::string store)
      : builder_(builder), node_(std::move(node)), store_(std::move(store)) {}

  const std::string& node_name() const { return node_; }
  // The store that holds the table (for interactive queries); for a table
  // derived by Filter/MapValues, the store of the table it derives from.
  const std::string& store_name() const { return store_; }

  // The table's updates as a stream of new values (KTABLE-TOSTREAM-…). A
  // deleted or filtered-out row is not forwarded: a KStream value cannot be
  // null.
  KStream<K, V> ToStream(std::optional<Named> named = std::nullopt) const {
    std::string name = named ? named->name : builder_->NewName("KTABLE-TOSTREAM-");
    ProcessorSupplier<K, Change<V>, K, V> supplier = []() -> std::unique_ptr<Processor<K, Change<V>, K, V>> {
      return std::make_unique<dsl_internal::TableToStreamProcessor<K, V>>();
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
      return std::make_unique<dsl_internal::TableFilterProcessor<K, V, Pred>>(pred);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K, Change<V>>(name, std::move(supplier), {node_});
    return KTable<K, V>(builder_, std::move(name), store_);
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
      return std::make_unique<dsl_internal::TableMapValuesProcessor<K, V, V2, Fn>>(fn);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K, Change<V2>>(name, std::move(supplier),
                                                                                    {node_});
    return KTable<K, V2>(builder_, std::move(name), store_);
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
      return std::make_unique<dsl_internal::TableGroupByProcessor<K, V, K2, V2, Fn>>(selector);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K2, Change<V2>>(name, std::move(supplier),
                                                                                     {node_});
    return KGroupedTable<K2, V2>(builder_, std::move(name), std::move(grouped));
  }

 private:
  StreamsBuilder* builder_;
  std::string node_;
  std::string store_;
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
    auto change_serde = std::make_shared<dsl_internal::ChangeSerde<V>>(grouped_.value_serde);
    auto& tb = builder_->topology_builder();
    tb.AddSink<K, Change<V>>(topic + "-sink", topic, grouped_.key_serde, change_serde, {node_});
    tb.AddInternalTopic(topic);
    tb.AddSource<K, Change<V>>(topic + "-source", {topic}, grouped_.key_serde, change_serde);
    auto key_serde = materialized.key_serde;
    auto value_serde = materialized.value_serde;
    ProcessorSupplier<K, Change<V>, K, Change<VA>> supplier =
        [store, key_serde, value_serde, fold]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<VA>>> {
      return std::make_unique<dsl_internal::AggregateProcessor<K, Change<V>, VA, Fold>>(store, key_serde,
                                                                                        value_serde, fold);
    };
    tb.AddProcessor<K, Change<V>, K, Change<VA>>(name, std::move(supplier), {topic + "-source"});
    tb.AddStateStore(materialized.Spec(store), {name});
    return KTable<K, VA>(builder_, std::move(name), std::move(store));
  }

  StreamsBuilder* builder_;
  std::string node_;
  Grouped<K, V> grouped_;
};

template <typename K, typename V>
KTable<K, V> StreamsBuilder::Table(std::string topic, Consumed<K, V> consumed, Materialized<K, V> materialized) {
  // Names in Kafka Streams' order: the store (if generated), the source,
  // the table processor.
  std::string store = materialized.store_name.empty() ? NewName(absl::StrCat(topic, "-STATE-STORE-"))
                                                      : materialized.store_name;
  std::string source = NewName("KSTREAM-SOURCE-");
  std::string name = NewName("KTABLE-SOURCE-");
  builder_.AddSource<K, std::optional<V>>(source, {std::move(topic)}, consumed.key_serde,
                                          serdes::Nullable(consumed.value_serde));
  auto key_serde = materialized.key_serde;
  auto value_serde = materialized.value_serde;
  ProcessorSupplier<K, std::optional<V>, K, Change<V>> supplier =
      [store, key_serde, value_serde]() -> std::unique_ptr<Processor<K, std::optional<V>, K, Change<V>>> {
    return std::make_unique<dsl_internal::TableSourceProcessor<K, V>>(store, key_serde, value_serde);
  };
  builder_.AddProcessor<K, std::optional<V>, K, Change<V>>(name, std::move(supplier), {source});
  builder_.AddStateStore(materialized.Spec(store), {name});
  return KTable<K, V>(this, std::move(name), std::move(store));
}

}  // namespace runnel

#endif  // RUNNEL_DSL_STREAMS_BUILDER_H_
