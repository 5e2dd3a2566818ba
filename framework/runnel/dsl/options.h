#ifndef RUNNEL_DSL_OPTIONS_H_
#define RUNNEL_DSL_OPTIONS_H_

// The value types that configure DSL operations (Kafka Streams' Consumed,
// Produced, Named, Grouped, Materialized, StreamJoined, Joined): serdes,
// names, and store switches. Plain values: copy them freely; they hold
// shared serdes and no builder state.

#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "runnel/processor/node.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/text_codec.h"
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
  processor::internal::StreamPartitioner<K, V> partitioner;
  Produced(SerdePtr<K> k, SerdePtr<V> v, processor::internal::StreamPartitioner<K, V> p = nullptr)
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

}  // namespace runnel

#endif  // RUNNEL_DSL_OPTIONS_H_
