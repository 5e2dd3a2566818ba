#ifndef RUNNEL_DSL_KEY_VALUE_H_
#define RUNNEL_DSL_KEY_VALUE_H_

#include <optional>

namespace runnel {

// What map and flatMap functions return.
template <typename K, typename V>
struct KeyValue {
  K key;
  V value;
  bool operator==(const KeyValue&) const = default;
};

template <typename K, typename V>
KeyValue(K, V) -> KeyValue<K, V>;

// An update of a table row, as KTable nodes pass it on: the row's new value
// (none: deleted, or filtered out) and its previous value (none: new row).
// Downstream aggregations subtract the old and add the new.
template <typename V>
struct Change {
  std::optional<V> new_value;
  std::optional<V> old_value;
  bool operator==(const Change&) const = default;
};

}  // namespace runnel

#endif  // RUNNEL_DSL_KEY_VALUE_H_
