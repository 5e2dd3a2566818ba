#ifndef RUNNEL_DSL_WINDOWED_KSTREAM_H_
#define RUNNEL_DSL_WINDOWED_KSTREAM_H_

// Windowed grouped streams (KGroupedStream::WindowedBy): time (tumbling,
// hopping), sliding, session and count windows, aggregated into a
// KTable<Windowed<K>, VA>. The processors are in internal/windowed.h,
// internal/sliding_windowed.h and internal/count_windowed.h. Cheap handles
// on the building thread that must not outlive their StreamsBuilder.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "runnel/dsl/internal/count_windowed.h"
#include "runnel/dsl/internal/fwd.h"
#include "runnel/dsl/internal/sliding_windowed.h"
#include "runnel/dsl/internal/windowed.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/kgrouped.h"
#include "runnel/dsl/options.h"
#include "runnel/dsl/windows.h"
#include "runnel/serde/windowed.h"
#include "runnel/topology/topology.h"

namespace runnel {

namespace dsl::internal {
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
}  // namespace dsl::internal

// A grouped stream windowed by TimeWindows or SlidingWindows: count, reduce and aggregate per
// key and window, into a KTable<Windowed<K>, VA> kept in a window store
// (changelogged, compact+delete with retention + 1 day).
template <typename K, typename V>
class TimeWindowedKStream : public dsl::internal::WindowFolds<TimeWindowedKStream<K, V>, K, V> {
 public:
  TimeWindowedKStream(KGroupedStream<K, V> grouped, std::variant<TimeWindows, SlidingWindows> windows)
      : grouped_(std::move(grouped)), windows_(windows) {}

  // OnWindowUpdate (default) or OnWindowClose (one final result per window).
  TimeWindowedKStream& Emit(EmitStrategy emit) {
    emit_ = emit;
    return *this;
  }

 private:
  friend class dsl::internal::WindowFolds<TimeWindowedKStream<K, V>, K, V>;
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
                  std::make_unique<dsl::internal::SlidingWindowAggregateProcessor<K, V, VA, Fold>>(
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
                std::make_unique<dsl::internal::TimeWindowAggregateProcessor<K, V, VA, Fold>>(
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
                std::make_unique<dsl::internal::SessionWindowAggregateProcessor<K, V, VA, Fold, Merge>>(
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
class CountWindowedKStream : public dsl::internal::WindowFolds<CountWindowedKStream<K, V>, K, V> {
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
  friend class dsl::internal::WindowFolds<CountWindowedKStream<K, V>, K, V>;
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
                std::make_unique<dsl::internal::CountWindowAggregateProcessor<K, V, VA, Fold>>(
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

#endif  // RUNNEL_DSL_WINDOWED_KSTREAM_H_
