#ifndef RUNNEL_DSL_KSTREAM_H_
#define RUNNEL_DSL_KSTREAM_H_

#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runnel/dsl/builder.h"
#include "runnel/dsl/global_ktable.h"
#include "runnel/dsl/internal/fwd.h"
#include "runnel/dsl/internal/global_join.h"
#include "runnel/dsl/internal/joins.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/dsl/internal/stream_join.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/options.h"
#include "runnel/dsl/windows.h"
#include "runnel/topology/topology.h"

namespace runnel {

// A stream of records: each call adds a node after this one and returns a
// handle to it. A cheap handle (the builder, a node name and whether the key
// changed upstream): copy it. Lives on the building thread and must not
// outlive its StreamsBuilder.
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
      return std::make_unique<dsl::internal::FilterProcessor<K, V, Pred>>(pred, true);
    });
  }
  template <typename Pred>
  KStream<K, V> FilterNot(Pred pred, std::optional<Named> named = std::nullopt) {
    return AddProcessor<K, V>("KSTREAM-FILTER-", named, [pred] {
      return std::make_unique<dsl::internal::FilterProcessor<K, V, Pred>>(pred, false);
    });
  }

  // fn(key, value) -> KeyValue<K2, V2>.
  template <typename Fn, typename R = std::invoke_result_t<Fn&, const K&, const V&>>
  KStream<decltype(R::key), decltype(R::value)> Map(Fn fn, std::optional<Named> named = std::nullopt) {
    using K2 = decltype(R::key);
    using V2 = decltype(R::value);
    return AddProcessor<K2, V2>("KSTREAM-MAP-", named, [fn] {
      return std::make_unique<dsl::internal::MapProcessor<K, V, K2, V2, Fn>>(fn);
    }, /*changes_key=*/true);
  }

  // fn(value) or fn(key, value) -> V2.
  template <typename Fn>
  auto MapValues(Fn fn, std::optional<Named> named = std::nullopt) {
    using V2 = std::decay_t<ValueFnResult<Fn>>;
    return AddProcessor<K, V2>("KSTREAM-MAPVALUES-", named, [fn] {
      return std::make_unique<dsl::internal::MapValuesProcessor<K, V, V2, Fn>>(fn);
    });
  }

  // fn(key, value) -> a range of KeyValue<K2, V2> (e.g. std::vector).
  template <typename Fn, typename R = std::invoke_result_t<Fn&, const K&, const V&>>
  auto FlatMap(Fn fn, std::optional<Named> named = std::nullopt) {
    using KV = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;
    using K2 = decltype(KV::key);
    using V2 = decltype(KV::value);
    return AddProcessor<K2, V2>("KSTREAM-FLATMAP-", named, [fn] {
      return std::make_unique<dsl::internal::FlatMapProcessor<K, V, K2, V2, Fn>>(fn);
    }, /*changes_key=*/true);
  }

  // fn(value) or fn(key, value) -> a range of V2.
  template <typename Fn>
  auto FlatMapValues(Fn fn, std::optional<Named> named = std::nullopt) {
    using R = std::decay_t<ValueFnResult<Fn>>;
    using V2 = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;
    return AddProcessor<K, V2>("KSTREAM-FLATMAPVALUES-", named, [fn] {
      return std::make_unique<dsl::internal::FlatMapValuesProcessor<K, V, V2, Fn>>(fn);
    });
  }

  // Calls fn(key, value) and passes the record on unchanged.
  template <typename Fn>
  KStream<K, V> Peek(Fn fn, std::optional<Named> named = std::nullopt) {
    return AddProcessor<K, V>("KSTREAM-PEEK-", named, [fn] {
      return std::make_unique<dsl::internal::PeekProcessor<K, V, Fn>>(fn, true);
    });
  }

  // Calls fn(key, value); terminal.
  template <typename Fn>
  void Foreach(Fn fn, std::optional<Named> named = std::nullopt) {
    AddProcessor<K, V>("KSTREAM-FOREACH-", named, [fn] {
      return std::make_unique<dsl::internal::PeekProcessor<K, V, Fn>>(fn, false);
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
      return std::make_unique<dsl::internal::MapProcessor<K, V, K2, V, Rekey>>(rekey);
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
      return std::make_unique<dsl::internal::BranchProcessor<K, V>>(predicates, children, default_child);
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

  template <typename VO, typename VR, typename Joiner>
  KStream<K, VR> StreamStreamJoin(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                                  StreamJoined<K, V, VO> joined, bool left_outer, bool right_outer) {
    return KStream<K, VR>(builder_, dsl::internal::AddStreamStreamJoin<K, V, VO, VR>(
                                        *builder_, node_, repartition_required_, other.node_name(),
                                        other.repartition_required(), std::move(joiner), windows, joined,
                                        left_outer, right_outer));
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
                                 return std::make_unique<dsl::internal::GlobalTableJoinProcessor<
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
      return std::make_unique<dsl::internal::PassThroughProcessor<K, V>>();
    };
  }

  template <typename VT, typename VR, typename Joiner, bool kLeft>
  KStream<K, VR> JoinTable(const KTable<K, VT>& table, Joiner joiner, const std::optional<Joined<K, V, VT>>& joined,
                           std::string_view prefix) {
    return KStream<K, VR>(builder_, dsl::internal::AddStreamTableJoin<K, V, VT, VR, Joiner, kLeft>(
                                        *builder_, node_, repartition_required_, table.node_name(),
                                        table.value_getter(), std::move(joiner), joined, prefix));
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

}  // namespace runnel

#endif  // RUNNEL_DSL_KSTREAM_H_
