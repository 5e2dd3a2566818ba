#ifndef RUNNEL_DSL_INTERNAL_WINDOWED_H_
#define RUNNEL_DSL_INTERNAL_WINDOWED_H_

// The processors behind windowed aggregations (TimeWindowedKStream,
// SessionWindowedKStream). They emit Change<VA> records keyed by
// Windowed<K>, so the result is a KTable<Windowed<K>, VA>.
//
// Stored values are Kafka Streams' timestamped format: the aggregate's
// timestamp (the highest record timestamp folded in, 8 bytes big-endian)
// then the aggregate's bytes. Results carry that timestamp.
//
// Stream time is the operator's (the window store's, persisted with it): a
// record for a window whose end + grace is <= stream time is late, dropped,
// counted in runnel_dropped_records_total{task, processor, reason="late"}
// and logged at most every 10 s (null keys: reason "null_key_or_value").
//
// Emit modes:
//   OnWindowUpdate: every update goes downstream; with a cached store, the
//     cache merges them and sends one per window per commit (or eviction).
//   OnWindowClose: nothing goes down until stream time passes a window's
//     end + grace; then the window's final aggregate, once. How far it has
//     emitted is persisted in the store (meta "emitted-through"), written in
//     the same commit (and, under exactly-once, the same transaction) as
//     the output, so a restarted task neither repeats nor skips a window.
//
// Threading: the task's thread, like every processor.

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/windows.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"
#include "runnel/state/record_cache.h"
#include "runnel/state/window_store.h"

namespace runnel::dsl_internal {

// A stored aggregate: value bytes with their timestamp.
struct TimestampedBytes {
  Timestamp timestamp;
  std::string_view value;
};
inline std::string EncodeTimestamped(Timestamp ts, std::string_view value) {
  std::string out;
  out.reserve(8 + value.size());
  serdes::AppendBigEndian64(static_cast<uint64_t>(ts.value()), out);
  out.append(value.data(), value.size());
  return out;
}
inline absl::StatusOr<TimestampedBytes> DecodeTimestamped(std::string_view stored, std::string_view store) {
  if (stored.size() < 8) {
    return absl::DataLossError(absl::StrCat("store '", ToAbsl(store), "': stored aggregate shorter than its timestamp"));
  }
  return TimestampedBytes{Timestamp(static_cast<int64_t>(serdes::ReadBigEndian64(stored.data()))), stored.substr(8)};
}

// Wall-clock idle advance for emit-final (EmitStrategy::idle_advance): when
// no record has arrived for the configured time, `advance(stream time)` is
// called with stream time moved on by the wall-clock time since the last
// record. Checked every min(idle, 1 s) of wall-clock time.
class IdleAdvance {
 public:
  template <typename Advance>
  void Start(TaskContext& context, absl::Duration idle, Advance advance) {
    context_ = &context;
    idle_ms_ = absl::ToInt64Milliseconds(idle);
    last_record_wall_ = context.clock().NowMillis().value();
    handle_ = context.Schedule(std::min(idle, absl::Seconds(1)), PunctuationType::kWallClockTime,
                               [this, advance](Timestamp now) -> absl::Status {
                                 const int64_t quiet = now.value() - last_record_wall_;
                                 if (quiet < idle_ms_ || last_record_time_ < 0) return absl::OkStatus();
                                 return advance(Timestamp(last_record_time_ + quiet));
                               });
  }
  void OnRecord(Timestamp stream_time) {
    if (context_ == nullptr) return;
    last_record_wall_ = context_->clock().NowMillis().value();
    last_record_time_ = stream_time.value();
  }

 private:
  TaskContext* context_ = nullptr;
  int64_t idle_ms_ = 0;
  int64_t last_record_wall_ = 0;
  int64_t last_record_time_ = -1;
  Cancellable handle_;
};

// What every windowed aggregation shares: its store, serdes, late-record
// accounting and the emit-final bookkeeping. `Store` is WindowStore or
// SessionStore.
template <typename K, typename VA, typename Store>
class WindowedOutput {
 public:
  WindowedOutput(std::string node, std::string store_name, SerdePtr<K> key_serde, SerdePtr<VA> agg_serde,
                 SegmentedStoreOptions options, EmitStrategy emit)
      : node_(std::move(node)),
        store_name_(std::move(store_name)),
        key_serde_(std::move(key_serde)),
        agg_serde_(std::move(agg_serde)),
        options_(options),
        emit_(emit) {}

  Store& store() { return *store_; }
  const SerdePtr<K>& key_serde() const { return key_serde_; }
  bool emit_final() const { return emit_.kind == EmitStrategy::Kind::kOnWindowClose; }
  // Cached and emitting every update: the cache's flush sends results.
  bool forwards_from_cache() const { return cached_ && !emit_final(); }

  // `decode_key` turns a store key (as the flush listener sees it) into the
  // windowed key; nullopt for meta keys.
  // `advance(t)` moves the processor's stream time (idle advance calls it).
  template <typename DecodeKey, typename Advance>
  absl::Status Init(ProcessorContext<Windowed<K>, Change<VA>>& context, DecodeKey decode_key, Advance advance) {
    context_ = &context;
    KeyValueStore* kv = context.GetKeyValueStore(store_name_);
    if (kv == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("store '", store_name_, "' is not available to task ", context.task_id().ToString()));
    }
    store_.emplace(kv, options_);
    RUNNEL_RETURN_IF_ERROR(store_->Init());
    auto emitted = store_->GetMeta("emitted-through");
    if (!emitted.ok()) return emitted.status();
    emitted_through_ = emitted->value_or(-1);
    persisted_emitted_through_ = emitted_through_;
    const MetricLabels labels{{"task", context.task_id().ToString()}, {"processor", node_}};
    MetricLabels late = labels, null_key = labels;
    late["reason"] = "late";
    null_key["reason"] = "null_key_or_value";
    late_ = context.metrics().GetCounter("runnel_dropped_records_total", late);
    null_key_ = context.metrics().GetCounter("runnel_dropped_records_total", null_key);
    if (auto* cached = dynamic_cast<CachingKeyValueStore*>(kv)) {
      cached_ = true;
      if (!emit_final()) {
        cached->SetFlushListener(
            [this, decode_key](std::string_view key, std::optional<std::string_view> value,
                               std::optional<std::string_view> old, Timestamp) -> absl::Status {
              if (SegmentedStore::IsMetaKey(key)) return absl::OkStatus();
              auto windowed = decode_key(key);
              if (!windowed.ok()) return windowed.status();
              return ForwardStored(*std::move(windowed), value, old);
            },
            /*send_old_values=*/true);
      }
    }
    if (emit_final() && emit_.idle_advance) idle_.Start(context, *emit_.idle_advance, advance);
    return absl::OkStatus();
  }

  // The start of every record: false when it is dropped (a null key);
  // otherwise stream time has moved to its timestamp (advance) and
  // `key_bytes` holds its key.
  template <typename Advance>
  absl::StatusOr<bool> Accept(const K& key, Timestamp ts, Advance advance, std::string& key_bytes) {
    if (key_serde_->IsNull(key)) {
      DropNullKey();
      return false;
    }
    RUNNEL_RETURN_IF_ERROR(advance(ts));
    idle_.OnRecord(store_->stream_time());
    RUNNEL_RETURN_IF_ERROR(key_serde_->Serialize(key, key_bytes));
    return true;
  }

  int64_t emitted_through() const { return emitted_through_; }
  absl::Status SetEmittedThrough(int64_t t) {
    emitted_through_ = t;
    persisted_emitted_through_ = t;
    return store_->PutMeta("emitted-through", t);
  }
  // For windows that close with nearly every record (sessions, sliding
  // windows): moves the mark in memory, and persists it when something was
  // emitted up to it or it moved a second past the persisted mark. Between
  // those, a restart resumes from the persisted mark and finds nothing to
  // emit below the in-memory one (anything there would have been persisted).
  absl::Status AdvanceEmittedThrough(int64_t t, bool emitted_any) {
    if (t <= emitted_through_) return absl::OkStatus();
    if (emitted_any || t - persisted_emitted_through_ >= SegmentedStore::kStreamTimePersistGranularityMs) {
      return SetEmittedThrough(t);
    }
    emitted_through_ = t;
    return absl::OkStatus();
  }

  // Sends a change of stored (timestamped) aggregates downstream, with the
  // new value's timestamp (the old one's for a removal).
  absl::Status ForwardStored(Windowed<K> key, std::optional<std::string_view> value,
                             std::optional<std::string_view> old) {
    if (!value && !old) return absl::OkStatus();
    Change<VA> change;
    Timestamp ts{0};
    if (old) {
      auto o = DecodeTimestamped(*old, store_name_);
      if (!o.ok()) return o.status();
      auto v = agg_serde_->Deserialize(o->value);
      if (!v.ok()) return v.status();
      change.old_value = *std::move(v);
      ts = o->timestamp;
    }
    if (value) {
      auto n = DecodeTimestamped(*value, store_name_);
      if (!n.ok()) return n.status();
      auto v = agg_serde_->Deserialize(n->value);
      if (!v.ok()) return v.status();
      change.new_value = *std::move(v);
      ts = n->timestamp;
    }
    return context_->Forward(Record<Windowed<K>, Change<VA>>{std::move(key), std::move(change), ts, {}});
  }

  absl::StatusOr<std::string> EncodeAggregate(const VA& agg, Timestamp ts) const {
    std::string bytes;
    RUNNEL_RETURN_IF_ERROR(agg_serde_->Serialize(agg, bytes));
    return EncodeTimestamped(ts, bytes);
  }
  absl::StatusOr<std::optional<std::pair<VA, Timestamp>>> DecodeAggregate(
      const std::optional<std::string>& stored) const {
    if (!stored) return std::optional<std::pair<VA, Timestamp>>();
    auto t = DecodeTimestamped(*stored, store_name_);
    if (!t.ok()) return t.status();
    auto v = agg_serde_->Deserialize(t->value);
    if (!v.ok()) return v.status();
    return std::optional<std::pair<VA, Timestamp>>(std::make_pair(*std::move(v), t->timestamp));
  }

  void DropLate(Timestamp record_ts, int64_t window_start, int64_t window_end) {
    late_->Increment();
    int64_t suppressed = 0;
    if (late_log_.Allow(context_->clock().NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn(
          "store '{}': dropping a late record (timestamp {}, window [{}, {}], stream time {}); {} more since the last "
          "such message",
          store_name_, record_ts.value(), window_start, window_end, store_->stream_time().value(), suppressed);
    }
  }
  void DropNullKey() {
    null_key_->Increment();
    int64_t suppressed = 0;
    if (null_key_log_.Allow(context_->clock().NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("store '{}': dropping a record with a null key", store_name_);
    }
  }

 private:
  std::string node_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> agg_serde_;
  SegmentedStoreOptions options_;
  EmitStrategy emit_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  std::optional<Store> store_;
  bool cached_ = false;
  int64_t emitted_through_ = -1;
  int64_t persisted_emitted_through_ = -1;
  Counter* late_ = nullptr;
  Counter* null_key_ = nullptr;
  IdleAdvance idle_;
  RateLimiter late_log_{10'000};
  RateLimiter null_key_log_{10'000};
};

// A window store key, <segment 8> <key> <start 8> <seq 4>, as the windowed
// key of a window of `size`.
template <typename K>
absl::StatusOr<Windowed<K>> DecodeWindowStoreKey(const Serde<K>& key_serde, std::string_view store_key,
                                                 int64_t size) {
  if (store_key.size() < 20) return absl::DataLossError("window store key too short");
  auto key = key_serde.Deserialize(store_key.substr(8, store_key.size() - 20));
  if (!key.ok()) return key.status();
  const auto start = static_cast<int64_t>(serdes::ReadBigEndian64(store_key.data() + store_key.size() - 12));
  return Windowed<K>{*std::move(key), Window{Timestamp(start), Timestamp(start + size)}};
}

// Emit-final: sends every window with start in [from, to] (windows of
// `size`), by start then key, as its final result; returns how many.
template <typename K, typename VA>
absl::StatusOr<size_t> EmitClosedWindows(WindowedOutput<K, VA, WindowStore>& out, int64_t from, int64_t to,
                                         int64_t size) {
  auto closed = out.store().FetchAll(Timestamp(std::max<int64_t>(0, from)), Timestamp(to));
  if (!closed.ok()) return closed.status();
  for (const WindowEntry& e : *closed) {
    auto key = out.key_serde()->Deserialize(e.key);
    if (!key.ok()) return key.status();
    RUNNEL_RETURN_IF_ERROR(out.ForwardStored(
        Windowed<K>{*std::move(key), Window{e.start, Timestamp(e.start.value() + size)}}, e.value, std::nullopt));
  }
  return closed->size();
}

// Tumbling and hopping windows. fold(key, value, aggregate or nullopt) -> VA.
template <typename K, typename V, typename VA, typename Fold>
class TimeWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  TimeWindowAggregateProcessor(std::string node, std::string store_name, SerdePtr<K> key_serde,
                               SerdePtr<VA> agg_serde, TimeWindows windows, int64_t retention_ms, EmitStrategy emit,
                               Fold fold)
      : out_(std::move(node), std::move(store_name), std::move(key_serde), std::move(agg_serde),
             SegmentedStoreOptions{.retention_ms = retention_ms}, emit),
        windows_(windows),
        fold_(std::move(fold)) {}

  absl::Status Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, V, Windowed<K>, Change<VA>>::Init(context)));
    return out_.Init(
        context, [this](std::string_view store_key) { return DecodeStoreKey(store_key); },
        [this](Timestamp t) { return Advance(t); });
  }

  absl::Status Process(Record<K, V> r) override {
    const Timestamp ts = r.timestamp;
    std::string key_bytes;
    auto accepted = out_.Accept(r.key, ts, [this](Timestamp t) { return Advance(t); }, key_bytes);
    if (!accepted.ok() || !*accepted) return accepted.status();
    const int64_t observed = out_.store().stream_time().value();
    for (int64_t start : windows_.WindowStartsFor(ts.value())) {
      const int64_t end = start + windows_.size_ms;
      if (end + windows_.grace_ms <= observed || start <= out_.emitted_through()) {
        out_.DropLate(ts, start, end);
        continue;
      }
      auto stored = out_.store().Fetch(key_bytes, Timestamp(start));
      if (!stored.ok()) return stored.status();
      auto current = out_.DecodeAggregate(*stored);
      if (!current.ok()) return current.status();
      std::optional<VA> agg;
      Timestamp agg_ts = ts;
      if (*current) {
        agg = std::move((*current)->first);
        agg_ts = std::max(agg_ts, (*current)->second);
      }
      VA next = fold_(r.key, r.value, std::move(agg));
      auto encoded = out_.EncodeAggregate(next, agg_ts);
      if (!encoded.ok()) return encoded.status();
      RUNNEL_RETURN_IF_ERROR(out_.store().Put(key_bytes, Timestamp(start), *encoded));
      if (!out_.emit_final() && !out_.forwards_from_cache()) {
        RUNNEL_RETURN_IF_ERROR(out_.ForwardStored(Windowed<K>{r.key, Window{Timestamp(start), Timestamp(end)}},
                                                  *encoded,
                                                  *stored ? std::optional<std::string_view>(**stored) : std::nullopt));
      }
    }
    return absl::OkStatus();
  }

 private:
  // Moves stream time to `t`: under emit-final, first sends the windows it
  // closes (before retention may drop them), then lets the store drop.
  absl::Status Advance(Timestamp t) {
    if (out_.emit_final()) {
      const int64_t observed = std::max(out_.store().stream_time().value(), t.value());
      // Windows with end + grace <= observed are closed.
      const int64_t closed_through = observed - windows_.grace_ms - windows_.size_ms;
      const int64_t emitted = out_.emitted_through();
      const int64_t next_start = emitted < 0 ? 0 : (emitted / windows_.advance_ms + 1) * windows_.advance_ms;
      if (closed_through >= next_start) {
        RUNNEL_RETURN_IF_ERROR(EmitClosedWindows(out_, emitted + 1, closed_through, windows_.size_ms).status());
        RUNNEL_RETURN_IF_ERROR(out_.SetEmittedThrough(closed_through));
      }
    }
    return out_.store().AdvanceStreamTime(t);
  }

  absl::StatusOr<Windowed<K>> DecodeStoreKey(std::string_view store_key) const {
    return DecodeWindowStoreKey(*out_.key_serde(), store_key, windows_.size_ms);
  }

  WindowedOutput<K, VA, WindowStore> out_;
  TimeWindows windows_;
  Fold fold_;
};

// Sliding windows (Kafka Streams' KStreamSlidingWindowAggregate): windows
// [start, start + d] (both ends inclusive) exist only where records are:
// every record at t has a left window [t - d, t] and, when a record follows
// within d + 1, a right window [t + 1, t + 1 + d]; so every distinct set of
// records no more than d apart is aggregated exactly once. Records earlier
// than d share one window [0, d] (no window starts before 0). Each window's
// stored timestamp is its newest record's, which the algorithm relies on to
// find a key's previous record. The store is searched from t - 2d, so it
// keeps windows 2d + grace.
//
// A record at t is late when even its right window is closed: t + 1 + d <=
// stream time - grace; otherwise it goes into each of its windows that is
// still open (end > stream time - grace).
template <typename K, typename V, typename VA, typename Fold>
class SlidingWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  SlidingWindowAggregateProcessor(std::string node, std::string store_name, SerdePtr<K> key_serde,
                                  SerdePtr<VA> agg_serde, SlidingWindows windows, int64_t retention_ms,
                                  EmitStrategy emit, Fold fold)
      // One more millisecond than 2d + grace: a previous record's left window
      // can start exactly retention before stream time and still be needed.
      : out_(std::move(node), std::move(store_name), std::move(key_serde), std::move(agg_serde),
             SegmentedStoreOptions{.retention_ms = retention_ms + 1}, emit),
        windows_(windows),
        fold_(std::move(fold)) {}

  absl::Status Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, V, Windowed<K>, Change<VA>>::Init(context)));
    return out_.Init(
        context, [this](std::string_view store_key) { return DecodeStoreKey(store_key); },
        [this](Timestamp t) { return Advance(t); });
  }

  absl::Status Process(Record<K, V> r) override {
    std::string key_bytes;
    auto accepted = out_.Accept(r.key, r.timestamp, [this](Timestamp t) { return Advance(t); }, key_bytes);
    if (!accepted.ok() || !*accepted) return accepted.status();
    const int64_t t = r.timestamp.value();
    const int64_t d = windows_.time_difference_ms;
    const int64_t close = out_.store().stream_time().value() - windows_.grace_ms;
    if (t + 1 + d <= close || t + 1 <= out_.emitted_through()) {
      out_.DropLate(r.timestamp, std::max<int64_t>(0, t - d), t + 1 + d);
      return absl::OkStatus();
    }
    const bool early = t < d;
    auto stored = out_.store().Fetch(key_bytes, Timestamp(early ? 0 : std::max<int64_t>(0, t - 2 * d)),
                                     Timestamp(t + 1));
    if (!stored.ok()) return stored.status();
    std::vector<Existing> windows;
    windows.reserve(stored->size());
    for (WindowEntry& e : *stored) {
      auto decoded = out_.DecodeAggregate(e.value);
      if (!decoded.ok()) return decoded.status();
      windows.push_back(Existing{e.start.value(), std::move(e.value), std::move((*decoded)->first), (*decoded)->second});
    }
    Step step{r, key_bytes, close};
    return early ? ProcessEarly(step, windows) : ProcessInOrder(step, windows);
  }

 private:
  // A window found in the store, as it was before this record.
  struct Existing {
    int64_t start;
    std::string stored;
    VA value;
    Timestamp max_ts;
  };
  struct Step {
    const Record<K, V>& record;
    const std::string& key_bytes;
    int64_t close;  // windows ending at or before this are closed
  };

  absl::Status ProcessInOrder(const Step& step, const std::vector<Existing>& windows) {
    const int64_t t = step.record.timestamp.value();
    const int64_t d = windows_.time_difference_ms;
    std::set<int64_t> starts;
    const Existing* left_agg = nullptr;   // the latest window ending before t
    const Existing* right_agg = nullptr;  // the latest window holding t
    bool left_exists = false, right_exists = false;
    std::optional<int64_t> previous;  // the key's latest record before t, within 2d
    for (const Existing& w : windows) {
      starts.insert(w.start);
      const int64_t end = w.start + d;
      if (end < t) {
        left_agg = &w;
        previous = w.max_ts.value();
      } else if (end == t) {
        left_exists = true;
        if (w.max_ts.value() < t) previous = w.max_ts.value();
        RUNNEL_RETURN_IF_ERROR(Update(step, w.start, &w));
      } else if (w.start <= t) {
        right_agg = &w;
        RUNNEL_RETURN_IF_ERROR(Update(step, w.start, &w));
      } else if (w.start == t + 1) {
        right_exists = true;
      } else {
        return absl::InternalError(absl::StrCat("sliding window store: unexpected window starting at ", w.start,
                                                " for a record at ", t));
      }
    }
    // The previous record's right window, if this record is its first
    // successor within d + 1.
    if (previous && !starts.contains(*previous + 1) && *previous + 1 + d >= t) {
      RUNNEL_RETURN_IF_ERROR(Update(step, *previous + 1, nullptr));
    }
    if (!left_exists) {
      // Its left window holds the previous record (and what the window
      // ending before t held) when that record is within d.
      if (previous && t - d <= *previous) {
        const Existing base{t - d, {}, left_agg->value, step.record.timestamp};
        RUNNEL_RETURN_IF_ERROR(Update(step, t - d, &base));
      } else {
        RUNNEL_RETURN_IF_ERROR(Update(step, t - d, nullptr));
      }
    }
    if (!right_exists && right_agg != nullptr && right_agg->max_ts.value() > t) {
      RUNNEL_RETURN_IF_ERROR(CreateRightWindow(step, *right_agg));
    }
    return absl::OkStatus();
  }

  // t < d: the record's left window is the shared [0, d].
  absl::Status ProcessEarly(const Step& step, const std::vector<Existing>& windows) {
    const int64_t t = step.record.timestamp.value();
    std::set<int64_t> starts;
    const Existing* combined = nullptr;
    const Existing* right_agg = nullptr;
    bool right_exists = false;
    std::optional<int64_t> previous;
    for (const Existing& w : windows) {
      starts.insert(w.start);
      if (w.start == 0) {
        combined = &w;
        // A newer record in [0, d] has already made this one's right window.
        if (w.max_ts.value() < t) previous = w.max_ts.value();
      } else if (w.start <= t) {
        right_agg = &w;
        RUNNEL_RETURN_IF_ERROR(Update(step, w.start, &w));
      } else if (w.start == t + 1) {
        right_exists = true;
      } else {
        return absl::InternalError(absl::StrCat("sliding window store: unexpected window starting at ", w.start,
                                                " for an early record at ", t));
      }
    }
    // Without a window holding t after 0, the combined window holds only
    // records after t when its newest is after t: those records are t's
    // right window.
    if (right_agg == nullptr && combined != nullptr && combined->max_ts.value() > t) right_agg = combined;
    if (!right_exists && right_agg != nullptr && right_agg->max_ts.value() > t) {
      RUNNEL_RETURN_IF_ERROR(CreateRightWindow(step, *right_agg));
    }
    if (previous && !starts.contains(*previous + 1)) {
      RUNNEL_RETURN_IF_ERROR(Update(step, *previous + 1, nullptr));
    }
    return Update(step, 0, combined);
  }

  // Folds the record into the window at `start`, which holds `base` (null:
  // a new, empty window), unless the window is closed.
  absl::Status Update(const Step& step, int64_t start, const Existing* base) {
    const int64_t d = windows_.time_difference_ms;
    if (start + d <= step.close || start <= out_.emitted_through()) return absl::OkStatus();
    std::optional<VA> agg;
    Timestamp agg_ts = step.record.timestamp;
    if (base != nullptr) {
      agg = base->value;
      agg_ts = std::max(agg_ts, base->max_ts);
    }
    VA next = fold_(step.record.key, step.record.value, std::move(agg));
    auto encoded = out_.EncodeAggregate(next, agg_ts);
    if (!encoded.ok()) return encoded.status();
    RUNNEL_RETURN_IF_ERROR(out_.store().Put(step.key_bytes, Timestamp(start), *encoded));
    if (out_.emit_final() || out_.forwards_from_cache()) return absl::OkStatus();
    const bool existed = base != nullptr && !base->stored.empty();
    return out_.ForwardStored(Windowed<K>{step.record.key, Window{Timestamp(start), Timestamp(start + d)}}, *encoded,
                              existed ? std::optional<std::string_view>(base->stored) : std::nullopt);
  }

  // The record's right window [t + 1, t + 1 + d]: the records after t of
  // `from`, the latest window holding t (read before this record).
  absl::Status CreateRightWindow(const Step& step, const Existing& from) {
    const int64_t start = step.record.timestamp.value() + 1;
    RUNNEL_RETURN_IF_ERROR(out_.store().Put(step.key_bytes, Timestamp(start), from.stored));
    if (out_.emit_final() || out_.forwards_from_cache()) return absl::OkStatus();
    return out_.ForwardStored(
        Windowed<K>{step.record.key, Window{Timestamp(start), Timestamp(start + windows_.time_difference_ms)}},
        from.stored, std::nullopt);
  }

  // Under emit-final, sends the windows stream time `t` closes (end <= t -
  // grace), then moves the store's stream time.
  absl::Status Advance(Timestamp t) {
    if (out_.emit_final()) {
      const int64_t observed = std::max(out_.store().stream_time().value(), t.value());
      const int64_t closed_through = observed - windows_.grace_ms - windows_.time_difference_ms;
      const int64_t emitted = out_.emitted_through();
      if (closed_through > emitted) {
        auto sent = EmitClosedWindows(out_, emitted + 1, closed_through, windows_.time_difference_ms);
        if (!sent.ok()) return sent.status();
        RUNNEL_RETURN_IF_ERROR(out_.AdvanceEmittedThrough(closed_through, *sent > 0));
      }
    }
    return out_.store().AdvanceStreamTime(t);
  }

  absl::StatusOr<Windowed<K>> DecodeStoreKey(std::string_view store_key) const {
    return DecodeWindowStoreKey(*out_.key_serde(), store_key, windows_.time_difference_ms);
  }

  WindowedOutput<K, VA, WindowStore> out_;
  SlidingWindows windows_;
  Fold fold_;
};

// Session windows (Kafka Streams' KStreamSessionWindowAggregate): a record
// at t merges every session of its key with end >= t - gap and start <= t +
// gap into one [min start, max end]; the merged sessions are removed (their
// removal goes downstream as a change with no new value under
// OnWindowUpdate). merge(key, aggregate so far or nullopt, session's
// aggregate) -> VA folds the merged sessions in, oldest first; then
// fold(key, value, aggregate or nullopt) -> VA adds the record.
template <typename K, typename V, typename VA, typename Fold, typename Merge>
class SessionWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  SessionWindowAggregateProcessor(std::string node, std::string store_name, SerdePtr<K> key_serde,
                                  SerdePtr<VA> agg_serde, SessionWindows windows, int64_t retention_ms,
                                  EmitStrategy emit, Fold fold, Merge merge)
      : out_(std::move(node), std::move(store_name), std::move(key_serde), std::move(agg_serde),
             SegmentedStoreOptions{.retention_ms = retention_ms}, emit),
        windows_(windows),
        fold_(std::move(fold)),
        merge_(std::move(merge)) {}

  absl::Status Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, V, Windowed<K>, Change<VA>>::Init(context)));
    return out_.Init(
        context, [this](std::string_view store_key) { return DecodeStoreKey(store_key); },
        [this](Timestamp t) { return Advance(t); });
  }

  absl::Status Process(Record<K, V> r) override {
    const Timestamp ts = r.timestamp;
    std::string key_bytes;
    auto accepted = out_.Accept(r.key, ts, [this](Timestamp t) { return Advance(t); }, key_bytes);
    if (!accepted.ok() || !*accepted) return accepted.status();
    auto overlapping = out_.store().FindSessions(key_bytes, Timestamp(ts.value() - windows_.gap_ms),
                                                 Timestamp(ts.value() + windows_.gap_ms));
    if (!overlapping.ok()) return overlapping.status();
    int64_t start = ts.value();
    int64_t end = ts.value();
    Timestamp agg_ts = ts;
    std::optional<VA> agg;
    for (const SessionEntry& s : *overlapping) {
      start = std::min(start, s.start.value());
      end = std::max(end, s.end.value());
    }
    // Kafka Streams: late when the merged session ends before stream time -
    // grace; emit-final also never reopens what it emitted.
    const int64_t observed = out_.store().stream_time().value();
    if (end + windows_.grace_ms < observed || ClosedByEmit(end)) {
      out_.DropLate(ts, start, end);
      return absl::OkStatus();
    }
    for (const SessionEntry& s : *overlapping) {
      auto stored = out_.DecodeAggregate(s.value);
      if (!stored.ok()) return stored.status();
      agg = static_cast<VA>(merge_(r.key, std::move(agg), std::move((*stored)->first)));
      agg_ts = std::max(agg_ts, (*stored)->second);
      if (s.start.value() == start && s.end.value() == end) continue;  // overwritten below
      RUNNEL_RETURN_IF_ERROR(out_.store().Put(key_bytes, s.start, s.end, std::nullopt));
      if (!out_.emit_final() && !out_.forwards_from_cache()) {
        RUNNEL_RETURN_IF_ERROR(out_.ForwardStored(Windowed<K>{r.key, Window{s.start, s.end}}, std::nullopt, s.value));
      }
    }
    VA next = static_cast<VA>(fold_(r.key, r.value, std::move(agg)));
    auto encoded = out_.EncodeAggregate(next, agg_ts);
    if (!encoded.ok()) return encoded.status();
    std::optional<std::string> previous;
    for (const SessionEntry& s : *overlapping) {
      if (s.start.value() == start && s.end.value() == end) previous = s.value;
    }
    RUNNEL_RETURN_IF_ERROR(out_.store().Put(key_bytes, Timestamp(start), Timestamp(end), *encoded));
    if (!out_.emit_final() && !out_.forwards_from_cache()) {
      RUNNEL_RETURN_IF_ERROR(out_.ForwardStored(Windowed<K>{r.key, Window{Timestamp(start), Timestamp(end)}}, *encoded,
                                                previous ? std::optional<std::string_view>(*previous) : std::nullopt));
    }
    return absl::OkStatus();
  }

 private:
  // A session ending at `end` can no longer grow once stream time - grace
  // passes end + gap: emit-final has sent every session ending at or
  // before emitted_through.
  bool ClosedByEmit(int64_t end) const { return out_.emit_final() && end <= out_.emitted_through(); }

  absl::Status Advance(Timestamp t) {
    if (out_.emit_final()) {
      const int64_t observed = std::max(out_.store().stream_time().value(), t.value());
      // No future non-late record can reach a session with end + gap <
      // observed - grace.
      const int64_t closed_through = observed - windows_.grace_ms - windows_.gap_ms - 1;
      const int64_t emitted = out_.emitted_through();
      if (closed_through > emitted) {
        auto closed = out_.store().FetchAllEndingIn(Timestamp(std::max<int64_t>(0, emitted + 1)),
                                                    Timestamp(closed_through));
        if (!closed.ok()) return closed.status();
        for (const SessionEntry& s : *closed) {
          auto key = out_.key_serde()->Deserialize(s.key);
          if (!key.ok()) return key.status();
          RUNNEL_RETURN_IF_ERROR(
              out_.ForwardStored(Windowed<K>{*std::move(key), Window{s.start, s.end}}, s.value, std::nullopt));
        }
        RUNNEL_RETURN_IF_ERROR(out_.AdvanceEmittedThrough(closed_through, !closed->empty()));
      }
    }
    return out_.store().AdvanceStreamTime(t);
  }

  // <segment 8> <key> <end 8> <start 8> -> Windowed<K>.
  absl::StatusOr<Windowed<K>> DecodeStoreKey(std::string_view store_key) const {
    if (store_key.size() < 24) return absl::DataLossError("session store key too short");
    auto key = out_.key_serde()->Deserialize(store_key.substr(8, store_key.size() - 24));
    if (!key.ok()) return key.status();
    const char* suffix = store_key.data() + store_key.size() - 16;
    const auto end = static_cast<int64_t>(serdes::ReadBigEndian64(suffix));
    const auto start = static_cast<int64_t>(serdes::ReadBigEndian64(suffix + 8));
    return Windowed<K>{*std::move(key), Window{Timestamp(start), Timestamp(end)}};
  }

  WindowedOutput<K, VA, SessionStore> out_;
  SessionWindows windows_;
  Fold fold_;
  Merge merge_;
};

}  // namespace runnel::dsl_internal

#endif  // RUNNEL_DSL_INTERNAL_WINDOWED_H_
