#ifndef RUNNEL_DSL_BUILDER_H_
#define RUNNEL_DSL_BUILDER_H_

// StreamsBuilder, where a DSL topology starts: sources (Stream, Table,
// GlobalTable), the node naming and the repartition topics every DSL type
// shares, and Build(). Users include runnel/dsl/streams_builder.h, which
// also brings the stream and table types this returns.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runnel/dsl/global_ktable.h"
#include "runnel/dsl/internal/fwd.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/stateless.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/options.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/topology/topology.h"

namespace runnel {

// Every operation adds a node to the builder's topology; names are generated
// deterministically (KSTREAM-FILTER-0000000001, like Kafka Streams) unless a
// Named is given. Build() validates and compiles. The KStream, KTable, ...
// handles it returns point back at it, so it must outlive them. Not
// thread-safe: build on one thread, then share the Topology.
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
      return std::make_unique<dsl::internal::TableSourceProcessor<K, V>>(store, key_serde, value_serde,
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
    return std::make_unique<dsl::internal::FilterProcessor<K, V, HasKey>>(has_key, true);
  };
  builder_.AddProcessor<K, V, K, V>(topic + "-filter", std::move(filter), {node});
  builder_.AddSink<K, V>(topic + "-sink", topic, key_serde, value_serde, {topic + "-filter"});
  builder_.AddInternalTopic(topic);
  builder_.AddSource<K, V>(source, {topic}, std::move(key_serde), std::move(value_serde));
  return source;
}

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
    return std::make_unique<dsl::internal::TableSourceProcessor<K, V>>(store, key_serde, value_serde);
  };
  builder_.AddProcessor<K, std::optional<V>, K, Change<V>>(name, std::move(supplier), {source});
  builder_.AddStateStore(materialized.Spec(store), {name});
  auto getter = dsl::internal::StoreValueGetter<K, V>(store, key_serde, value_serde);
  return KTable<K, V>(this, std::move(name), std::move(store), std::move(getter));
}

}  // namespace runnel

#endif  // RUNNEL_DSL_BUILDER_H_
