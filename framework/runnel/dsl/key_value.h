#ifndef RUNNEL_DSL_KEY_VALUE_H_
#define RUNNEL_DSL_KEY_VALUE_H_

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

}  // namespace runnel

#endif  // RUNNEL_DSL_KEY_VALUE_H_
