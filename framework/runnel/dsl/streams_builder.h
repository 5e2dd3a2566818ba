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

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/dsl/key_value.h"
#include "runnel/serde/serde.h"
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

template <typename K, typename V>
class KStream;

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

  absl::StatusOr<std::shared_ptr<const Topology>> Build() { return builder_.Build(); }

  // The underlying builder, for mixing in the Processor API.
  TopologyBuilder& topology_builder() { return builder_; }

  // "<prefix><10-digit index>": deterministic for a given sequence of calls.
  std::string NewName(std::string_view prefix) {
    return absl::StrFormat("%s%010d", std::string(prefix), index_++);
  }

 private:
  TopologyBuilder builder_;
  int index_ = 0;
};

template <typename K, typename V>
class KStream {
 public:
  KStream(StreamsBuilder* builder, std::string node) : builder_(builder), node_(std::move(node)) {}

  const std::string& node_name() const { return node_; }

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
    });
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
    });
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

  template <typename K2, typename V2, typename Supplier>
  KStream<K2, V2> AddProcessor(std::string_view prefix, const std::optional<Named>& named,
                               Supplier supplier) {
    std::string name = named ? named->name : builder_->NewName(prefix);
    ProcessorSupplier<K, V, K2, V2> erased = [supplier]() -> std::unique_ptr<Processor<K, V, K2, V2>> {
      return supplier();
    };
    builder_->topology_builder().AddProcessor<K, V, K2, V2>(name, std::move(erased), {node_});
    return KStream<K2, V2>(builder_, std::move(name));
  }

  StreamsBuilder* builder_;
  std::string node_;
};

}  // namespace runnel

#endif  // RUNNEL_DSL_STREAMS_BUILDER_H_
