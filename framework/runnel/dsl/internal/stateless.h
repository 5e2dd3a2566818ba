#ifndef RUNNEL_DSL_INTERNAL_STATELESS_H_
#define RUNNEL_DSL_INTERNAL_STATELESS_H_

// The processors behind KStream's stateless operations. Each wraps a user
// function; the function is copied into every task's processor instance, so
// it must be safe to call from several stream threads at once (it usually
// holds no state).

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runnel/dsl/key_value.h"
#include "runnel/processor/processor.h"

namespace runnel::dsl::internal {

// Calls fn(key, value) or, if it takes only the value, fn(value).
template <typename Fn, typename K, typename V>
decltype(auto) CallValueFn(Fn& fn, const K& key, const V& value) {
  if constexpr (std::is_invocable_v<Fn&, const K&, const V&>) {
    return fn(key, value);
  } else {
    return fn(value);
  }
}

template <typename K, typename V, typename Pred>
class FilterProcessor final : public Processor<K, V, K, V> {
 public:
  FilterProcessor(Pred pred, bool keep_if) : pred_(std::move(pred)), keep_if_(keep_if) {}
  absl::Status Process(Record<K, V> r) override {
    if (static_cast<bool>(pred_(r.key, r.value)) != keep_if_) return absl::OkStatus();
    return this->context().Forward(std::move(r));
  }

 private:
  Pred pred_;
  bool keep_if_;
};

template <typename K, typename V, typename K2, typename V2, typename Fn>
class MapProcessor final : public Processor<K, V, K2, V2> {
 public:
  explicit MapProcessor(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Process(Record<K, V> r) override {
    KeyValue<K2, V2> kv = fn_(r.key, r.value);
    return this->context().Forward(
        Record<K2, V2>{std::move(kv.key), std::move(kv.value), r.timestamp, std::move(r.headers)});
  }

 private:
  Fn fn_;
};

template <typename K, typename V, typename V2, typename Fn>
class MapValuesProcessor final : public Processor<K, V, K, V2> {
 public:
  explicit MapValuesProcessor(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Process(Record<K, V> r) override {
    V2 value = CallValueFn(fn_, r.key, r.value);
    return this->context().Forward(
        Record<K, V2>{std::move(r.key), std::move(value), r.timestamp, std::move(r.headers)});
  }

 private:
  Fn fn_;
};

template <typename K, typename V, typename K2, typename V2, typename Fn>
class FlatMapProcessor final : public Processor<K, V, K2, V2> {
 public:
  explicit FlatMapProcessor(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Process(Record<K, V> r) override {
    for (auto& kv : fn_(r.key, r.value)) {
      absl::Status s = this->context().Forward(
          Record<K2, V2>{std::move(kv.key), std::move(kv.value), r.timestamp, r.headers});
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  Fn fn_;
};

template <typename K, typename V, typename V2, typename Fn>
class FlatMapValuesProcessor final : public Processor<K, V, K, V2> {
 public:
  explicit FlatMapValuesProcessor(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Process(Record<K, V> r) override {
    auto values = CallValueFn(fn_, r.key, r.value);
    for (auto& v : values) {
      absl::Status s =
          this->context().Forward(Record<K, V2>{r.key, std::move(v), r.timestamp, r.headers});
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  Fn fn_;
};

// peek (forwards) and foreach (terminal).
template <typename K, typename V, typename Fn>
class PeekProcessor final : public Processor<K, V, K, V> {
 public:
  PeekProcessor(Fn fn, bool forward) : fn_(std::move(fn)), forward_(forward) {}
  absl::Status Process(Record<K, V> r) override {
    fn_(r.key, r.value);
    return forward_ ? this->context().Forward(std::move(r)) : absl::OkStatus();
  }

 private:
  Fn fn_;
  bool forward_;
};

// split(): each record goes to the first branch whose predicate holds (or
// to the default branch, if any); branches are named children.
template <typename K, typename V>
class BranchProcessor final : public Processor<K, V, K, V> {
 public:
  using Predicate = std::function<bool(const K&, const V&)>;
  BranchProcessor(std::vector<Predicate> predicates, std::vector<std::string> children,
                  std::optional<std::string> default_child)
      : predicates_(std::move(predicates)), children_(std::move(children)), default_(std::move(default_child)) {}
  absl::Status Process(Record<K, V> r) override {
    for (size_t i = 0; i < predicates_.size(); ++i) {
      if (predicates_[i](r.key, r.value)) return this->context().Forward(std::move(r), children_[i]);
    }
    return default_ ? this->context().Forward(std::move(r), *default_) : absl::OkStatus();
  }

 private:
  std::vector<Predicate> predicates_;
  std::vector<std::string> children_;
  std::optional<std::string> default_;
};

// A node that passes records on unchanged (branch children, merge).
template <typename K, typename V>
class PassThroughProcessor final : public Processor<K, V, K, V> {
 public:
  absl::Status Process(Record<K, V> r) override { return this->context().Forward(std::move(r)); }
};

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_STATELESS_H_
