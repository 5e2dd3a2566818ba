#ifndef RUNNEL_PROCESSOR_TYPED_STORE_H_
#define RUNNEL_PROCESSOR_TYPED_STORE_H_

// A typed view of a bytes KeyValueStore: keys and values go through serdes.
// Cheap to copy; does not own the store. Same thread rules as the store.
//
// Keys order in the store by their serialized bytes (for String that is
// byte order; for Int64, Kafka's big-endian encoding orders non-negative
// numbers naturally).

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "runnel/serde/serde.h"
#include "runnel/state/kv_store.h"

namespace runnel {

template <typename K, typename V>
class TypedKeyValueStore {
 public:
  TypedKeyValueStore(KeyValueStore* store, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_(store), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)) {}

  KeyValueStore& bytes() const { return *store_; }

  absl::StatusOr<std::optional<V>> Get(const K& key) const {
    std::string k;
    if (absl::Status s = key_serde_->Serialize(key, k); !s.ok()) return Error("key", s);
    auto raw = store_->Get(k);
    if (!raw.ok()) return raw.status();
    if (!raw->has_value()) return std::optional<V>();
    auto v = value_serde_->Deserialize(std::string_view(**raw));
    if (!v.ok()) return Error("stored value", v.status());
    return std::optional<V>(*std::move(v));
  }

  absl::Status Put(const K& key, const V& value) {
    std::string k, v;
    if (absl::Status s = key_serde_->Serialize(key, k); !s.ok()) return Error("key", s);
    if (absl::Status s = value_serde_->Serialize(value, v); !s.ok()) return Error("value", s);
    return store_->Put(k, v);
  }

  absl::Status Delete(const K& key) {
    std::string k;
    if (absl::Status s = key_serde_->Serialize(key, k); !s.ok()) return Error("key", s);
    return store_->Delete(k);
  }

 private:
  absl::Status Error(std::string_view what, const absl::Status& s) const {
    return absl::Status(s.code(), absl::StrCat("store '", absl::string_view(store_->name().data(), store_->name().size()),
                                               "': ", absl::string_view(what.data(), what.size()), ": ", s.message()));
  }

  KeyValueStore* store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_TYPED_STORE_H_
