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
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runnel/dsl/internal/fk_join.h"
#include "runnel/dsl/internal/joins.h"
#include "runnel/dsl/internal/global_join.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/dsl/internal/count_windowed.h"
#include "runnel/dsl/internal/windowed.h"
#include "runnel/dsl/internal/stream_join.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/windows.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"
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
  // Window and session stores: how long windows are kept (at least size +
  // grace, the default), e.g. to query them after they close.
  std::optional<absl::Duration> retention;

  Materialized(SerdePtr<K> k, SerdePtr<V> v) : key_serde(std::move(k)), value_serde(std::move(v)) {}
  static Materialized As(std::string name, SerdePtr<K> k, SerdePtr<V> v) {
    Materialized m(std::move(k), std::move(v));
    m.store_name = std::move(name);
    return m;
  }
  Materialized& WithCachingDisabled() { caching = false; return *this; }
  Materialized& WithLoggingDisabled() { logging = false; return *this; }
  Materialized& InMemory() { in_memory = true; return *this; }
  Materialized& WithRetention(absl::Duration r) { retention = r; return *this; }

  // The store this declares, named `name`.
  StoreSpec Spec(std::string name) const {
    return StoreSpec{.name = std::move(name),
                     .kind = in_memory ? StoreSpec::Kind::kInMemory : StoreSpec::Kind::kRocksDb,
                     .logging = logging,
                     .caching = caching,
                     .text = MakeTextCodec(key_serde, value_serde)};
  }
};

// The serdes of a stream-stream join's stores (the key, this stream's
// values, the other stream's values), and optionally its names (Kafka
// Streams' StreamJoined). `name` is the base of the join's node names
// (<name>-this-join, <name>-other-join, <name>-merge); `store_name` the base
// of its stores' (<store_name>-this-join-store, ...). Without them the
// names are generated: KSTREAM-JOINTHIS-<n>-store, KSTREAM-JOINOTHER-<n+1>-store,
// and for left and outer joins KSTREAM-OUTERSHARED-<n>-store, as in Kafka
// Streams. The stores are not cached; they are changelogged unless
// WithLoggingDisabled.
template <typename K, typename V, typename VO>
struct StreamJoined {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  SerdePtr<VO> other_value_serde;
  std::string name;
  std::string store_name;
  bool logging = true;
  bool in_memory = false;

  static StreamJoined With(SerdePtr<K> k, SerdePtr<V> v, SerdePtr<VO> vo) {
    return StreamJoined{std::move(k), std::move(v), std::move(vo)};
  }
  StreamJoined& WithName(std::string n) { name = std::move(n); return *this; }
  StreamJoined& WithStoreName(std::string n) { store_name = std::move(n); return *this; }
  StreamJoined& WithLoggingDisabled() { logging = false; return *this; }
  StreamJoined& InMemory() { in_memory = true; return *this; }
};

// A stream-table join's serdes and name (Kafka Streams' Joined): the key,
// the stream's values and the table's values. The key and value serdes
// write the repartition topic a stream goes through when its key changed
// upstream (<name>-repartition, or <stream node>-repartition without a
// name); `name` also names the join's node.
template <typename K, typename V, typename VT>
struct Joined {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  SerdePtr<VT> other_value_serde;
  std::string name;

  static Joined With(SerdePtr<K> k, SerdePtr<V> v, SerdePtr<VT> vt) {
    return Joined{std::move(k), std::move(v), std::move(vt)};
  }
  Joined& WithName(std::string n) { name = std::move(n); return *this; }
};

template <typename K, typename V>
class KStream;
template <typename K, typename V>
class KGroupedStream;
template <typename K, typename V>
class KTable;
template <typename K, typename V>
class KGroupedTable;
template <typename K, typename V>
class TimeWindowedKStream;
template <typename K, typename V>
class SessionWindowedKStream;
template <typename K, typename V>
class CountWindowedKStream;

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

  // Sends `node`'s records that have a key through the internal topic
  // <base>-repartition, partitioned by key, and returns the node reading
  // them back (Kafka Streams' nodes: <topic>-filter, -sink and -source).
  // What follows a key change and must see each key in one task (an
  // aggregation, a join) reads from there. A second call with the same
  // base and node reuses the topic, so a re-keyed stream grouped or joined
  // twice is written once; the same base from another node is a naming
  // conflict, reported by Build.
  template <typename K, typename V>
  std::string RepartitionThrough(const std::string& node, const std::string& base, SerdePtr<K> key_serde,
                                 SerdePtr<V> value_serde);

 private:
  TopologyBuilder builder_;
  int index_ = 0;
  absl::Status error_;
  // Repartition topics added by RepartitionThrough -> the node they carry.
  std::map<std::string, std::string> repartitions_;
};

template <typename K, typename V>
std::string StreamsBuilder::RepartitionThrough(const std::string& node, const std::string& base,
                                               SerdePtr<K> key_serde, SerdePtr<V> value_serde) {
  const std::string topic = base + "-repartition";
  const std::string source = topic + "-source";
  auto [it, added] = repartitions_.emplace(topic, node);
  if (!added) {
    if (it->second != node) {
      Fail(absl::InvalidArgumentError(absl::StrCat("repartition topic '", topic, "' is needed after both '",
                                                   it->second, "' and '", node,
                                                   "'; give the joins or groupings distinct names")));
    }
    return source;
  }
  auto has_key = [key_serde](const K& k, const V&) { return !key_serde->IsNull(k); };
  using HasKey = decltype(has_key);
  ProcessorSupplier<K, V, K, V> filter = [has_key]() -> std::unique_ptr<Processor<K, V, K, V>> {
    return std::make_unique<dsl_internal::FilterProcessor<K, V, HasKey>>(has_key, true);
  };
  builder_.AddProcessor<K, V, K, V>(topic + "-filter", std::move(filter), {node});
  builder_.AddSink<K, V>(topic + "-sink", topic, key_serde, value_serde, {topic + "-filter"});
  builder_.AddInternalTopic(topic);
  builder_.AddSource<K, V>(source, {topic}, std::move(key_serde), std::move(value_serde));
  return source;
}

// Shared by the windowed streams: the store name, the processor name and
// the validated retention of one windowed aggregation.
namespace dsl_internal {
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
}  // namespace dsl_internal

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

  // Joins this stream's records with `other`'s records of the same key
  // that are close in time: a record here at t meets the other stream's
  // records in [t - before, t + after] (theirs at t' meet ours in
  // [t' - after, t' + before]); joiner(value, other value) gives one result
  // per pair, at the later of the two timestamps. Records later than their
  // window's end + grace (stream time is the join's, across both streams),
  // or with a null key or value, are dropped and counted in
  // runnel_dropped_records_total. Both streams must be partitioned by the
  // key alike (co-partitioned): they become one sub-topology. See
  // dsl/internal/stream_join.h for the exact rules.
  template <typename VO, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const VO&>>>
  KStream<K, VR> Join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                      StreamJoined<K, V, VO> joined) {
    auto both = [joiner](const V* v, const VO* vo) -> VR { return joiner(*v, *vo); };
    return StreamStreamJoin<VO, VR>(other, std::move(both), windows, std::move(joined), false, false);
  }

  // Like Join, and a record here that meets no record of `other` is also
  // joined, with std::nullopt: joiner(value, std::optional<VO>). That result
  // comes only once no on-time record of `other` can meet it any more
  // (stream time past t + after + max(before, 0) + grace), so it is never
  // followed by a real pair.
  template <typename VO, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<VO>&>>>
  KStream<K, VR> LeftJoin(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                          StreamJoined<K, V, VO> joined) {
    auto left = [joiner](const V* v, const VO* vo) -> VR {
      return joiner(*v, vo != nullptr ? std::optional<VO>(*vo) : std::nullopt);
    };
    return StreamStreamJoin<VO, VR>(other, std::move(left), windows, std::move(joined), true, false);
  }

  // Like LeftJoin, for both sides: joiner(std::optional<V>, std::optional<VO>).
  template <typename VO, typename Joiner,
            typename VR = std::decay_t<
                std::invoke_result_t<Joiner&, const std::optional<V>&, const std::optional<VO>&>>>
  KStream<K, VR> OuterJoin(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                           StreamJoined<K, V, VO> joined) {
    auto outer = [joiner](const V* v, const VO* vo) -> VR {
      return joiner(v != nullptr ? std::optional<V>(*v) : std::nullopt,
                    vo != nullptr ? std::optional<VO>(*vo) : std::nullopt);
    };
    return StreamStreamJoin<VO, VR>(other, std::move(outer), windows, std::move(joined), true, true);
  }

  // Joins each record with `table`'s row for its key, looked up when the
  // record is processed: joiner(value, table_value) -> VR, with the record's
  // timestamp; a record whose key the table lacks produces nothing. Table
  // updates alone produce nothing. Records with a null key are dropped.
  // The stream must be partitioned like the table: its topic co-partitioned
  // with the table's, and after a key change (Map, SelectKey, FlatMap) it
  // goes through a repartition topic, which the overload taking Joined
  // inserts by itself; both run in one task per partition.
  template <typename VT, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const VT&>>>
  KStream<K, VR> Join(const KTable<K, VT>& table, Joiner joiner, std::optional<Named> named = std::nullopt) {
    return JoinTable<VT, VR, Joiner, /*kLeft=*/false>(table, std::move(joiner), AsJoined<VT>(named),
                                                      "KSTREAM-JOIN-");
  }
  // The same, with serdes for the repartition topic a re-keyed stream goes
  // through (no Repartition() call needed), and optionally a name.
  template <typename VT, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const VT&>>>
  KStream<K, VR> Join(const KTable<K, VT>& table, Joiner joiner, Joined<K, V, VT> joined) {
    return JoinTable<VT, VR, Joiner, /*kLeft=*/false>(table, std::move(joiner), std::move(joined),
                                                      "KSTREAM-JOIN-");
  }
  // Like Join, but every record produces a result: joiner(value,
  // std::optional<VT>) gets nullopt when the table has no row for the key.
  template <typename VT, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<VT>&>>>
  KStream<K, VR> LeftJoin(const KTable<K, VT>& table, Joiner joiner, std::optional<Named> named = std::nullopt) {
    return JoinTable<VT, VR, Joiner, /*kLeft=*/true>(table, std::move(joiner), AsJoined<VT>(named),
                                                     "KSTREAM-LEFTJOIN-");
  }
  template <typename VT, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<VT>&>>>
  KStream<K, VR> LeftJoin(const KTable<K, VT>& table, Joiner joiner, Joined<K, V, VT> joined) {
    return JoinTable<VT, VR, Joiner, /*kLeft=*/true>(table, std::move(joiner), std::move(joined),
                                                     "KSTREAM-LEFTJOIN-");
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

  // Node and store names follow Kafka Streams' KStreamImplJoin: the this/
  // other names take an index even when `joined` names the join, and the
  // shared store takes the this-side's index.
  template <typename VO, typename VR, typename Joiner>
  KStream<K, VR> StreamStreamJoin(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                                  StreamJoined<K, V, VO> joined, bool left_outer, bool right_outer) {
    const std::string this_prefix = right_outer ? "KSTREAM-OUTERTHIS-" : "KSTREAM-JOINTHIS-";
    const std::string this_generated = builder_->NewName(this_prefix);
    const std::string other_generated = builder_->NewName(left_outer ? "KSTREAM-OUTEROTHER-" : "KSTREAM-JOINOTHER-");
    const bool named = !joined.name.empty();
    const std::string this_node = named ? joined.name + "-this-join" : this_generated;
    const std::string other_node = named ? joined.name + "-other-join" : other_generated;
    const std::string merge = named ? joined.name + "-merge" : builder_->NewName("KSTREAM-MERGE-");
    const std::string& base = joined.store_name;
    dsl_internal::StreamJoinSpec spec{
        .node = merge,
        .left_store = (base.empty() ? this_generated : base + (right_outer ? "-outer-this-join" : "-this-join")) +
                      "-store",
        .right_store =
            (base.empty() ? other_generated : base + (left_outer ? "-outer-other-join" : "-other-join")) + "-store",
        .before_ms = windows.before_ms,
        .after_ms = windows.after_ms,
        .grace_ms = windows.grace_ms,
        .left_outer = left_outer,
        .right_outer = right_outer};
    if (left_outer) {
      spec.unmatched_store = (base.empty() ? "KSTREAM-OUTERSHARED-" + this_generated.substr(this_prefix.size())
                                           : base + (right_outer ? "-shared-outer-join" : "-shared-left-join")) +
                             "-store";
    }
    KStream<K, VR> result(builder_, merge);
    if (absl::Status s = windows.Validate(); !s.ok()) {
      builder_->Fail(absl::InvalidArgumentError(absl::StrCat("join '", merge, "': ", s.message())));
      return result;
    }
    if (!joined.key_serde || !joined.value_serde || !joined.other_value_serde) {
      builder_->Fail(absl::InvalidArgumentError(
          absl::StrCat("join '", merge, "': StreamJoined needs the key serde and both value serdes")));
      return result;
    }
    // A side whose key changed upstream goes through a repartition topic
    // first (Kafka Streams' names: <name>-left/-right-repartition, or
    // <upstream node>-repartition), so that both sides are partitioned by
    // the key; Runnel gives both topics the partition count of the sides'
    // source topics.
    std::string this_input = node_;
    std::string other_input = other.node_name();
    if (repartition_required_) {
      this_input = builder_->RepartitionThrough<K, V>(node_, named ? joined.name + "-left" : node_,
                                                      joined.key_serde, joined.value_serde);
    }
    if (other.repartition_required()) {
      other_input = builder_->RepartitionThrough<K, VO>(
          other.node_name(), named ? joined.name + "-right" : other.node_name(), joined.key_serde,
          joined.other_value_serde);
    }
    using Input = dsl_internal::JoinInput<V, VO>;
    auto& tb = builder_->topology_builder();
    tb.AddProcessor<K, V, K, Input>(
        this_node, [] { return std::make_unique<dsl_internal::JoinSideProcessor<K, V, VO, 0>>(); }, {this_input});
    tb.AddProcessor<K, VO, K, Input>(
        other_node, [] { return std::make_unique<dsl_internal::JoinSideProcessor<K, V, VO, 1>>(); },
        {other_input});
    ProcessorSupplier<K, Input, K, VR> supplier = [spec, joined,
                                                  joiner]() -> std::unique_ptr<Processor<K, Input, K, VR>> {
      return std::make_unique<dsl_internal::StreamStreamJoinProcessor<K, V, VO, VR, Joiner>>(
          spec, joined.key_serde, joined.value_serde, joined.other_value_serde, joiner);
    };
    tb.AddProcessor<K, Input, K, VR>(merge, std::move(supplier), {this_node, other_node});
    const auto kind = joined.in_memory ? StoreSpec::Kind::kInMemory : StoreSpec::Kind::kRocksDb;
    for (const std::string* store : {&spec.left_store, &spec.right_store}) {
      tb.AddStateStore(StoreSpec{.name = *store, .kind = kind, .logging = joined.logging, .caching = false,
                                 .retention_ms = spec.RetentionMs(), .layout = StoreSpec::Layout::kInternal},
                       {merge});
    }
    if (left_outer) {
      tb.AddStateStore(
          StoreSpec{.name = spec.unmatched_store, .kind = kind, .logging = joined.logging, .caching = false,
                    .layout = StoreSpec::Layout::kInternal},
          {merge});
    }
    return result;
  }

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

  template <typename VT>
  static std::optional<Joined<K, V, VT>> AsJoined(const std::optional<Named>& named) {
    if (!named) return std::nullopt;
    Joined<K, V, VT> joined;
    joined.name = named->name;
    return joined;
  }

  static ProcessorSupplier<K, V, K, V> PassThrough() {
    return []() -> std::unique_ptr<Processor<K, V, K, V>> {
      return std::make_unique<dsl_internal::PassThroughProcessor<K, V>>();
    };
  }

  // `joined` gives the serdes of the repartition topic the stream goes
  // through when its key changed upstream (Kafka Streams' name:
  // <joined name>-repartition, else <this node>-repartition).
  template <typename VT, typename VR, typename Joiner, bool kLeft>
  KStream<K, VR> JoinTable(const KTable<K, VT>& table, Joiner joiner, const std::optional<Joined<K, V, VT>>& joined,
                           std::string_view prefix) {
    const bool named = joined && !joined->name.empty();
    std::string name = named ? joined->name : builder_->NewName(prefix);
    std::string input = node_;
    if (repartition_required_) {
      if (!joined || !joined->key_serde || !joined->value_serde) {
        builder_->Fail(absl::InvalidArgumentError(absl::StrCat(
            "join '", name, "' with table '", table.node_name(),
            "': the stream's key was changed upstream (Map, SelectKey, FlatMap), so it must go through a ",
            "repartition topic to be partitioned like the table; pass Joined::With(key serde, value serde, table ",
            "value serde) so that Runnel can write it, or call Repartition() on the stream before joining")));
      } else {
        input = builder_->RepartitionThrough<K, V>(node_, named ? joined->name : node_, joined->key_serde,
                                                   joined->value_serde);
      }
    }
    const auto& getter = table.value_getter();
    if (!getter.valid()) {
      builder_->Fail(absl::InvalidArgumentError(
          absl::StrCat("join '", name, "': table '", table.node_name(), "' has no value getter to look rows up")));
    }
    ProcessorSupplier<K, V, K, VR> supplier = [name, getter, joiner]() -> std::unique_ptr<Processor<K, V, K, VR>> {
      return std::make_unique<dsl_internal::StreamTableJoinProcessor<K, V, VT, VR, Joiner, kLeft>>(name, getter,
                                                                                                   joiner);
    };
    auto& tb = builder_->topology_builder();
    tb.AddProcessor<K, V, K, VR>(name, std::move(supplier), {input});
    tb.ConnectProcessorAndStateStores(name, getter.stores);
    return KStream<K, VR>(builder_, std::move(name));
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
      return std::make_unique<dsl_internal::AggregateProcessor<K, V, VA, Fold>>(store, key_serde, value_serde,
                                                                                fold);
    };
    auto& tb = builder_->topology_builder();
    tb.AddProcessor<K, V, K, Change<VA>>(name, std::move(supplier), {InputFor(name, store)});
    tb.AddStateStore(materialized.Spec(store), {name});
    auto getter = dsl_internal::StoreValueGetter<K, VA>(store, key_serde, value_serde);
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
    auto names = dsl_internal::NameWindowed(builder_, materialized, named, kind, min_retention_ms, spec_valid);
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

// A table: the latest value per key, held in a store (store_name()).
// Internally its node emits Change<V> records (new and old value), so that
// filters retract rows and downstream aggregations subtract old values.
template <typename K, typename V>
class KTable {
 public:
  // `getter` reads the table's rows for joins; without one the table cannot
  // be joined.
  KTable(StreamsBuilder* builder, std::string node, std::string store,
         dsl_internal::TableValueGetterSupplier<K, V> getter = {})
      : builder_(builder), node_(std::move(node)), store_(std::move(store)), getter_(std::move(getter)) {}

  const std::string& node_name() const { return node_; }
  // The store that holds the table (for interactive queries); for a table
  // derived by Filter/MapValues, the store of the table it derives from
  // (holding the underived values); empty for a join result that is not
  // materialized.
  const std::string& store_name() const { return store_; }
  // How joins read this table's rows (applying Filter/MapValues to the
  // store they derive from).
  const dsl_internal::TableValueGetterSupplier<K, V>& value_getter() const { return getter_; }

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
    auto getter = dsl_internal::TransformValueGetter<K, V, V>(
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
      return std::make_unique<dsl_internal::TableMapValuesProcessor<K, V, V2, Fn>>(fn);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K, Change<V2>>(name, std::move(supplier),
                                                                                    {node_});
    auto getter = dsl_internal::TransformValueGetter<K, V, V2>(
        getter_, [fn](const K& k, const std::optional<V>& v) mutable -> std::optional<V2> {
          if (!v) return std::nullopt;
          return dsl_internal::CallValueFn(fn, k, *v);
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
    return JoinTable<dsl_internal::JoinKind::kInner, V2, VR>(other, std::move(joiner), std::nullopt, named);
  }
  template <typename V2, typename Joiner, typename VR>
  KTable<K, VR> Join(const KTable<K, V2>& other, Joiner joiner, Materialized<K, VR> materialized,
                     std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl_internal::JoinKind::kInner, V2, VR>(other, std::move(joiner), std::move(materialized),
                                                             named);
  }
  // Every row of this table, joined with `other`'s if it has one:
  // joiner(value, std::optional<V2>).
  template <typename V2, typename Joiner,
            typename VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<V2>&>>>
  KTable<K, VR> LeftJoin(const KTable<K, V2>& other, Joiner joiner, std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl_internal::JoinKind::kLeft, V2, VR>(other, std::move(joiner), std::nullopt, named);
  }
  template <typename V2, typename Joiner, typename VR>
  KTable<K, VR> LeftJoin(const KTable<K, V2>& other, Joiner joiner, Materialized<K, VR> materialized,
                         std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl_internal::JoinKind::kLeft, V2, VR>(other, std::move(joiner), std::move(materialized),
                                                            named);
  }
  // Every key either table has: joiner(std::optional<V>, std::optional<V2>).
  template <typename V2, typename Joiner,
            typename VR = std::decay_t<
                std::invoke_result_t<Joiner&, const std::optional<V>&, const std::optional<V2>&>>>
  KTable<K, VR> OuterJoin(const KTable<K, V2>& other, Joiner joiner, std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl_internal::JoinKind::kOuter, V2, VR>(other, std::move(joiner), std::nullopt, named);
  }
  template <typename V2, typename Joiner, typename VR>
  KTable<K, VR> OuterJoin(const KTable<K, V2>& other, Joiner joiner, Materialized<K, VR> materialized,
                          std::optional<Named> named = std::nullopt) const {
    return JoinTable<dsl_internal::JoinKind::kOuter, V2, VR>(other, std::move(joiner), std::move(materialized),
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
      return std::make_unique<dsl_internal::TableGroupByProcessor<K, V, K2, V2, Fn>>(selector);
    };
    builder_->topology_builder().template AddProcessor<K, Change<V>, K2, Change<V2>>(name, std::move(supplier),
                                                                                     {node_});
    return KGroupedTable<K2, V2>(builder_, std::move(name), std::move(grouped));
  }

 private:
  // Kafka Streams' layout and names: a processor per side
  // (KTABLE-JOINTHIS/-JOINOTHER, -LEFTTHIS/-LEFTOTHER, -OUTERTHIS/-OUTEROTHER,
  // or <named>-join-this/-join-other), each connected to the other side's
  // stores, feeding a merge node (KTABLE-MERGE or <named>) that holds the
  // result store when materialized (generated name
  // KTABLE-MERGE-STATE-STORE-…), plus <merge>-timestamps for the rows'
  // timestamps.
  template <dsl_internal::JoinKind kKind, typename V2, typename VR, typename Joiner>
  KTable<K, VR> JoinTable(const KTable<K, V2>& other, Joiner joiner, std::optional<Materialized<K, VR>> materialized,
                          const std::optional<Named>& named) const {
    using dsl_internal::JoinKind;
    std::string store;
    if (materialized) {
      store = materialized->store_name.empty() ? builder_->NewName("KTABLE-MERGE-STATE-STORE-")
                                               : materialized->store_name;
    }
    const std::string kind = kKind == JoinKind::kInner ? "JOIN" : kKind == JoinKind::kLeft ? "LEFT" : "OUTER";
    std::string merge = named ? named->name : builder_->NewName("KTABLE-MERGE-");
    std::string this_side = named ? named->name + "-join-this" : builder_->NewName("KTABLE-" + kind + "THIS-");
    std::string other_side = named ? named->name + "-join-other" : builder_->NewName("KTABLE-" + kind + "OTHER-");
    const std::string timestamps = merge + "-timestamps";
    auto require_getter = [&](const std::string& table, bool valid) {
      if (valid) return;
      builder_->Fail(absl::InvalidArgumentError(
          absl::StrCat("join '", merge, "': table '", table, "' has no value getter to look rows up")));
    };
    require_getter(node_, getter_.valid());
    require_getter(other.node_name(), other.value_getter().valid());

    using Row = dsl_internal::JoinedRow<kKind, V, V2, VR, Joiner>;
    Row row(joiner);
    auto& tb = builder_->topology_builder();
    const auto this_getter = getter_;
    const auto other_getter = other.value_getter();
    const SerdePtr<K> row_key_serde = this_getter.key_serde;
    ProcessorSupplier<K, Change<V>, K, Change<VR>> this_supplier =
        [other_getter, timestamps, row_key_serde, row]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<VR>>> {
      return std::make_unique<dsl_internal::TableJoinSideProcessor<K, V, V2, VR, Row, /*kThisIsLeft=*/true>>(
          other_getter, timestamps, row_key_serde, row);
    };
    ProcessorSupplier<K, Change<V2>, K, Change<VR>> other_supplier =
        [this_getter, timestamps, row_key_serde, row]() -> std::unique_ptr<Processor<K, Change<V2>, K, Change<VR>>> {
      return std::make_unique<dsl_internal::TableJoinSideProcessor<K, V2, V, VR, Row, /*kThisIsLeft=*/false>>(
          this_getter, timestamps, row_key_serde, row);
    };
    tb.template AddProcessor<K, Change<V>, K, Change<VR>>(this_side, std::move(this_supplier), {node_});
    tb.template AddProcessor<K, Change<V2>, K, Change<VR>>(other_side, std::move(other_supplier),
                                                          {other.node_name()});
    tb.ConnectProcessorAndStateStores(this_side, other_getter.stores);
    tb.ConnectProcessorAndStateStores(other_side, this_getter.stores);
    tb.AddStateStore(StoreSpec{.name = timestamps, .caching = false, .layout = StoreSpec::Layout::kInternal},
                     {this_side, other_side});

    SerdePtr<K> key_serde = materialized ? materialized->key_serde : this_getter.key_serde;
    SerdePtr<VR> value_serde = materialized ? materialized->value_serde : nullptr;
    ProcessorSupplier<K, Change<VR>, K, Change<VR>> merge_supplier =
        [store, key_serde, value_serde]() -> std::unique_ptr<Processor<K, Change<VR>, K, Change<VR>>> {
      return std::make_unique<dsl_internal::TableJoinMergeProcessor<K, VR>>(store, key_serde, value_serde);
    };
    tb.template AddProcessor<K, Change<VR>, K, Change<VR>>(merge, std::move(merge_supplier),
                                                          {this_side, other_side});
    dsl_internal::TableValueGetterSupplier<K, VR> getter;
    if (materialized) {
      tb.AddStateStore(materialized->Spec(store), {merge});
      getter = dsl_internal::StoreValueGetter<K, VR>(store, key_serde, value_serde);
    } else if (this_getter.valid() && other_getter.valid()) {
      getter.stores = this_getter.stores;
      getter.stores.insert(getter.stores.end(), other_getter.stores.begin(), other_getter.stores.end());
      getter.key_serde = key_serde;
      getter.make = [this_make = this_getter.make, other_make = other_getter.make,
                     row](TaskContext& context) -> absl::StatusOr<dsl_internal::ValueGetter<K, VR>> {
        auto get_this = this_make(context);
        if (!get_this.ok()) return get_this.status();
        auto get_other = other_make(context);
        if (!get_other.ok()) return get_other.status();
        return dsl_internal::ValueGetter<K, VR>(
            [get_this = *std::move(get_this), get_other = *std::move(get_other),
             row](const K& key) mutable -> absl::StatusOr<std::optional<VR>> {
              auto l = get_this(key);
              if (!l.ok()) return l.status();
              auto r = get_other(key);
              if (!r.ok()) return r.status();
              return row(*l, *r);
            });
      };
    }
    return KTable<K, VR>(builder_, std::move(merge), std::move(store), std::move(getter));
  }

  template <bool kLeft, typename KO, typename VO, typename Extractor, typename Joiner, typename VR>
  KTable<K, VR> ForeignKeyJoin(const KTable<KO, VO>& other, Extractor extractor, Joiner joiner,
                               Materialized<K, VR> materialized, const std::optional<Named>& named) const {
    using dsl_internal::Subscription;
    using dsl_internal::SubscriptionResponse;
    const std::string base = named ? named->name : builder_->NewName("KTABLE-FK-JOIN-");
    const std::string store = materialized.store_name.empty()
                                  ? builder_->NewName("KTABLE-FK-JOIN-OUTPUT-STATE-STORE-")
                                  : materialized.store_name;
    const auto left = getter_;
    const auto foreign = other.value_getter();
    auto require_serdes = [&](const std::string& table, bool valid, bool has_value_serde) {
      if (!valid || !has_value_serde) {
        builder_->Fail(absl::InvalidArgumentError(absl::StrCat(
            "foreign-key join '", base, "': the value serde of table '", table,
            "' is unknown (a MapValues table or an unmaterialized join); join the table it derives from, or ",
            "materialize it")));
      }
    };
    require_serdes(node_, left.valid(), left.value_serde != nullptr);
    require_serdes(other.node_name(), foreign.valid(), foreign.value_serde != nullptr);

    const std::string registration = base + "-subscription-registration-topic";
    const std::string response = base + "-subscription-response-topic";
    const std::string subscriptions = base + "-subscription-store";
    auto subscription_serde = std::make_shared<dsl_internal::SubscriptionSerde>();
    auto response_serde = std::make_shared<dsl_internal::SubscriptionResponseSerde>();
    auto& tb = builder_->topology_builder();

    // This table's side: subscribe.
    ProcessorSupplier<K, Change<V>, KO, Subscription> send = [base, left, foreign, extractor]()
        -> std::unique_ptr<Processor<K, Change<V>, KO, Subscription>> {
      return std::make_unique<dsl_internal::SubscriptionSendProcessor<K, V, KO, Extractor, kLeft>>(
          base, left.key_serde, left.value_serde, foreign.key_serde, extractor);
    };
    tb.template AddProcessor<K, Change<V>, KO, Subscription>(base + "-subscription-send", std::move(send), {node_});
    tb.template AddSink<KO, Subscription>(registration + "-sink", registration, foreign.key_serde, subscription_serde,
                                          {base + "-subscription-send"});
    tb.AddInternalTopic(registration);
    tb.template AddSource<KO, Subscription>(registration + "-source", {registration}, foreign.key_serde,
                                            subscription_serde);

    // The foreign side: keep subscriptions, answer them and every update.
    dsl_internal::ForeignSide<K, KO, VO> side(subscriptions, left.key_serde, foreign.key_serde, foreign.value_serde);
    ProcessorSupplier<KO, Subscription, K, SubscriptionResponse> receive =
        [side, foreign]() -> std::unique_ptr<Processor<KO, Subscription, K, SubscriptionResponse>> {
      return std::make_unique<dsl_internal::SubscriptionReceiveProcessor<K, KO, VO>>(side, foreign);
    };
    ProcessorSupplier<KO, Change<VO>, K, SubscriptionResponse> update =
        [side]() -> std::unique_ptr<Processor<KO, Change<VO>, K, SubscriptionResponse>> {
      return std::make_unique<dsl_internal::ForeignUpdateProcessor<K, KO, VO>>(side);
    };
    tb.template AddProcessor<KO, Subscription, K, SubscriptionResponse>(base + "-subscription-receive",
                                                                        std::move(receive), {registration + "-source"});
    tb.template AddProcessor<KO, Change<VO>, K, SubscriptionResponse>(base + "-foreign-update", std::move(update),
                                                                      {other.node_name()});
    tb.ConnectProcessorAndStateStores(base + "-subscription-receive", foreign.stores);
    tb.AddStateStore(StoreSpec{.name = subscriptions, .caching = false, .layout = StoreSpec::Layout::kInternal},
                     {base + "-subscription-receive", base + "-foreign-update"});
    tb.template AddSink<K, SubscriptionResponse>(response + "-sink", response, left.key_serde, response_serde,
                                                 {base + "-subscription-receive", base + "-foreign-update"});
    tb.AddInternalTopic(response);
    tb.template AddSource<K, SubscriptionResponse>(response + "-source", {response}, left.key_serde, response_serde);

    // Back on this table's side: join current answers into the result table.
    ProcessorSupplier<K, SubscriptionResponse, K, std::optional<VR>> join =
        [left, foreign, joiner]() -> std::unique_ptr<Processor<K, SubscriptionResponse, K, std::optional<VR>>> {
      return std::make_unique<dsl_internal::ResponseJoinProcessor<K, V, VO, VR, Joiner, kLeft>>(
          left, foreign.value_serde, joiner);
    };
    tb.template AddProcessor<K, SubscriptionResponse, K, std::optional<VR>>(base + "-subscription-response-join",
                                                                           std::move(join), {response + "-source"});
    tb.ConnectProcessorAndStateStores(base + "-subscription-response-join", left.stores);
    auto key_serde = materialized.key_serde;
    auto value_serde = materialized.value_serde;
    ProcessorSupplier<K, std::optional<VR>, K, Change<VR>> result =
        [store, key_serde, value_serde]() -> std::unique_ptr<Processor<K, std::optional<VR>, K, Change<VR>>> {
      return std::make_unique<dsl_internal::TableSourceProcessor<K, VR>>(store, key_serde, value_serde);
    };
    tb.template AddProcessor<K, std::optional<VR>, K, Change<VR>>(base, std::move(result),
                                                                  {base + "-subscription-response-join"});
    tb.AddStateStore(materialized.Spec(store), {base});
    return KTable<K, VR>(builder_, base, store, dsl_internal::StoreValueGetter<K, VR>(store, key_serde, value_serde));
  }

  StreamsBuilder* builder_;
  std::string node_;
  std::string store_;
  dsl_internal::TableValueGetterSupplier<K, V> getter_;
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
    auto getter = dsl_internal::StoreValueGetter<K, VA>(store, key_serde, value_serde);
    return KTable<K, VA>(builder_, std::move(name), std::move(store), std::move(getter));
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
  auto getter = dsl_internal::StoreValueGetter<K, V>(store, key_serde, value_serde);
  return KTable<K, V>(this, std::move(name), std::move(store), std::move(getter));
}


namespace dsl_internal {
// Count, Reduce and Aggregate of a windowed stream whose windows hold one
// aggregate each (time, sliding and count windows), written once over the
// stream's Add<VA>(fold, materialized, named); fold(key, value, aggregate
// or nullopt for a window's first record) -> VA.
template <typename Derived, typename K, typename V>
class WindowFolds {
 public:
  KTable<Windowed<K>, int64_t> Count(Materialized<K, int64_t> materialized,
                                     std::optional<Named> named = std::nullopt) {
    return self().template Add<int64_t>(
        [](const K&, const V&, std::optional<int64_t> n) { return n.value_or(0) + 1; }, std::move(materialized),
        std::move(named));
  }
  // reducer(aggregate, value) -> aggregate; a window's first value is its
  // first aggregate.
  template <typename Reducer>
  KTable<Windowed<K>, V> Reduce(Reducer reducer, Materialized<K, V> materialized,
                                std::optional<Named> named = std::nullopt) {
    return self().template Add<V>(
        [reducer](const K&, const V& v, std::optional<V> agg) -> V {
          return agg ? static_cast<V>(reducer(*agg, v)) : v;
        },
        std::move(materialized), std::move(named));
  }
  // aggregator(key, value, aggregate) -> aggregate, from initializer().
  template <typename VA, typename Init, typename Agg>
  KTable<Windowed<K>, VA> Aggregate(Init initializer, Agg aggregator, Materialized<K, VA> materialized,
                                    std::optional<Named> named = std::nullopt) {
    return self().template Add<VA>(
        [initializer, aggregator](const K& k, const V& v, std::optional<VA> agg) -> VA {
          return static_cast<VA>(aggregator(k, v, agg ? std::move(*agg) : static_cast<VA>(initializer())));
        },
        std::move(materialized), std::move(named));
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};
}  // namespace dsl_internal

// A grouped stream windowed by TimeWindows or SlidingWindows: count, reduce and aggregate per
// key and window, into a KTable<Windowed<K>, VA> kept in a window store
// (changelogged, compact+delete with retention + 1 day).
template <typename K, typename V>
class TimeWindowedKStream : public dsl_internal::WindowFolds<TimeWindowedKStream<K, V>, K, V> {
 public:
  TimeWindowedKStream(KGroupedStream<K, V> grouped, std::variant<TimeWindows, SlidingWindows> windows)
      : grouped_(std::move(grouped)), windows_(windows) {}

  // OnWindowUpdate (default) or OnWindowClose (one final result per window).
  TimeWindowedKStream& Emit(EmitStrategy emit) {
    emit_ = emit;
    return *this;
  }

 private:
  friend class dsl_internal::WindowFolds<TimeWindowedKStream<K, V>, K, V>;
  template <typename VA, typename Fold>
  KTable<Windowed<K>, VA> Add(Fold fold, Materialized<K, VA> materialized, std::optional<Named> named) {
    auto key_serde = materialized.key_serde;
    auto agg_serde = materialized.value_serde;
    const EmitStrategy emit = emit_;
    if (const auto* sliding = std::get_if<SlidingWindows>(&windows_)) {
      const SlidingWindows spec = *sliding;
      return grouped_.AddWindowed(
          materialized, named, "2 x time difference + grace", spec.RetentionMs(), spec.Validate(),
          [&](const std::string& node, const std::string& store,
              int64_t retention) -> ProcessorSupplier<K, V, Windowed<K>, Change<VA>> {
            return [node, store, key_serde, agg_serde, spec, retention, emit, fold]() {
              return std::unique_ptr<Processor<K, V, Windowed<K>, Change<VA>>>(
                  std::make_unique<dsl_internal::SlidingWindowAggregateProcessor<K, V, VA, Fold>>(
                      node, store, key_serde, agg_serde, spec, retention, emit, fold));
            };
          }, StoreSpec::Layout::kWindow, spec.time_difference_ms);
    }
    const TimeWindows spec = std::get<TimeWindows>(windows_);
    return grouped_.AddWindowed(
        materialized, named, "window size + grace", spec.RetentionMs(), spec.Validate(),
        [&](const std::string& node, const std::string& store,
            int64_t retention) -> ProcessorSupplier<K, V, Windowed<K>, Change<VA>> {
          return [node, store, key_serde, agg_serde, spec, retention, emit, fold]() {
            return std::unique_ptr<Processor<K, V, Windowed<K>, Change<VA>>>(
                std::make_unique<dsl_internal::TimeWindowAggregateProcessor<K, V, VA, Fold>>(
                    node, store, key_serde, agg_serde, spec, retention, emit, fold));
          };
        }, StoreSpec::Layout::kWindow, spec.size_ms);
  }

  KGroupedStream<K, V> grouped_;
  std::variant<TimeWindows, SlidingWindows> windows_;
  EmitStrategy emit_;
};

// A grouped stream windowed by SessionWindows: per-key sessions, merged when
// a record bridges them, into a KTable<Windowed<K>, VA> kept in a session
// store. Aggregate needs a merger(key, agg1, agg2) for merging sessions.
template <typename K, typename V>
class SessionWindowedKStream {
 public:
  SessionWindowedKStream(KGroupedStream<K, V> grouped, SessionWindows windows)
      : grouped_(std::move(grouped)), windows_(windows) {}

  SessionWindowedKStream& Emit(EmitStrategy emit) {
    emit_ = emit;
    return *this;
  }

  KTable<Windowed<K>, int64_t> Count(Materialized<K, int64_t> materialized,
                                     std::optional<Named> named = std::nullopt) {
    return Add<int64_t>([](const K&, const V&, std::optional<int64_t> n) { return n.value_or(0) + 1; },
                        [](const K&, std::optional<int64_t> a, int64_t b) { return a.value_or(0) + b; },
                        std::move(materialized), std::move(named));
  }
  // A session's first value is its first aggregate; merging two sessions
  // reduces their aggregates.
  template <typename Reducer>
  KTable<Windowed<K>, V> Reduce(Reducer reducer, Materialized<K, V> materialized,
                                std::optional<Named> named = std::nullopt) {
    return Add<V>(
        [reducer](const K&, const V& v, std::optional<V> agg) -> V {
          return agg ? static_cast<V>(reducer(*agg, v)) : v;
        },
        [reducer](const K&, std::optional<V> agg, V session) -> V {
          return agg ? static_cast<V>(reducer(*agg, session)) : session;
        },
        std::move(materialized), std::move(named));
  }
  // Kafka Streams' order: initializer(), merged with each merged session's
  // aggregate (merger(key, agg, session agg), oldest session first), then
  // aggregator(key, value, agg).
  template <typename VA, typename Init, typename Agg, typename Merger>
  KTable<Windowed<K>, VA> Aggregate(Init initializer, Agg aggregator, Merger merger, Materialized<K, VA> materialized,
                                    std::optional<Named> named = std::nullopt) {
    return Add<VA>(
        [initializer, aggregator](const K& k, const V& v, std::optional<VA> agg) -> VA {
          return static_cast<VA>(aggregator(k, v, agg ? std::move(*agg) : static_cast<VA>(initializer())));
        },
        [initializer, merger](const K& k, std::optional<VA> agg, VA session) -> VA {
          return static_cast<VA>(
              merger(k, agg ? std::move(*agg) : static_cast<VA>(initializer()), std::move(session)));
        },
        std::move(materialized), std::move(named));
  }

 private:
  template <typename VA, typename Fold, typename Merge>
  KTable<Windowed<K>, VA> Add(Fold fold, Merge merge, Materialized<K, VA> materialized, std::optional<Named> named) {
    auto key_serde = materialized.key_serde;
    auto agg_serde = materialized.value_serde;
    const SessionWindows spec = windows_;
    const EmitStrategy emit = emit_;
    return grouped_.AddWindowed(
        materialized, named, "inactivity gap + grace", windows_.RetentionMs(), windows_.Validate(),
        [&](const std::string& node, const std::string& store,
            int64_t retention) -> ProcessorSupplier<K, V, Windowed<K>, Change<VA>> {
          return [node, store, key_serde, agg_serde, spec, retention, emit, fold, merge]() {
            return std::unique_ptr<Processor<K, V, Windowed<K>, Change<VA>>>(
                std::make_unique<dsl_internal::SessionWindowAggregateProcessor<K, V, VA, Fold, Merge>>(
                    node, store, key_serde, agg_serde, spec, retention, emit, fold, merge));
          };
        }, StoreSpec::Layout::kSession, 0);
  }

  KGroupedStream<K, V> grouped_;
  SessionWindows windows_;
  EmitStrategy emit_;
};

// A grouped stream windowed by CountWindows: per key, windows of n records
// (tumbling: each record in one window; sliding: the last n records after
// every record), into a KTable<Windowed<K>, VA> whose windows span their
// records' lowest to highest timestamp (serdes::SessionWindowed(inner)
// writes both bounds). The store is a key-value store holding each key's
// open windows; it has no time retention.
template <typename K, typename V>
class CountWindowedKStream : public dsl_internal::WindowFolds<CountWindowedKStream<K, V>, K, V> {
 public:
  CountWindowedKStream(KGroupedStream<K, V> grouped, CountWindows windows)
      : grouped_(std::move(grouped)), windows_(windows) {}

  // OnWindowUpdate (default): every window a record changes; OnWindowClose:
  // each window once, at its n-th record.
  CountWindowedKStream& Emit(EmitStrategy emit) {
    emit_ = emit;
    return *this;
  }

 private:
  friend class dsl_internal::WindowFolds<CountWindowedKStream<K, V>, K, V>;
  template <typename VA, typename Fold>
  KTable<Windowed<K>, VA> Add(Fold fold, Materialized<K, VA> materialized, std::optional<Named> named) {
    auto key_serde = materialized.key_serde;
    auto agg_serde = materialized.value_serde;
    const CountWindows spec = windows_;
    const EmitStrategy emit = emit_;
    absl::Status valid = spec.Validate();
    if (valid.ok() && emit.idle_advance) {
      valid = absl::InvalidArgumentError("CountWindows: AdvanceWhenIdle does not apply (count windows close by count)");
    }
    return grouped_.AddWindowed(
        materialized, named, "count window", 0, valid,
        [&](const std::string& node, const std::string& store,
            int64_t) -> ProcessorSupplier<K, V, Windowed<K>, Change<VA>> {
          return [node, store, key_serde, agg_serde, spec, emit, fold]() {
            return std::unique_ptr<Processor<K, V, Windowed<K>, Change<VA>>>(
                std::make_unique<dsl_internal::CountWindowAggregateProcessor<K, V, VA, Fold>>(
                    node, store, key_serde, agg_serde, spec, emit, fold));
          };
        },
        StoreSpec::Layout::kInternal, 0, /*time_retained=*/false);
  }

  KGroupedStream<K, V> grouped_;
  CountWindows windows_;
  EmitStrategy emit_;
};

}  // namespace runnel


#endif  // RUNNEL_DSL_STREAMS_BUILDER_H_
