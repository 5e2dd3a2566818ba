#ifndef RUNNEL_DSL_GLOBAL_KTABLE_H_
#define RUNNEL_DSL_GLOBAL_KTABLE_H_

#include <string>
#include <utility>

#include "runnel/serde/serde.h"

namespace runnel {

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

}  // namespace runnel

#endif  // RUNNEL_DSL_GLOBAL_KTABLE_H_
