#ifndef RUNNEL_DSL_INTERNAL_WINDOWED_OUTPUT_H_
#define RUNNEL_DSL_INTERNAL_WINDOWED_OUTPUT_H_

// What every windowed aggregation processor shares (time and session
// windows in internal/windowed.h, sliding windows in
// internal/sliding_windowed.h): its store, serdes, late and null-key
// accounting, the emit modes and idle advance. The processors emit
// Change<VA> records keyed by Windowed<K>, so the result is a
// KTable<Windowed<K>, VA>.
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
//     emitted is persisted in the store (meta "emitted-through"): under
//     exactly-once in the same transaction as the output, so a restarted
//     task neither repeats nor skips a window; under at-least-once only
//     once that output is acknowledged (and the persisted stream time with
//     it), so a restart after a crash may repeat windows but never skips
//     one whose result was still in flight.
//
// Threading: the task's thread, like every processor.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "runnel/common/logging.h"
#include "runnel/common/metrics.h"
#include "runnel/common/status.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/windows.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"
#include "runnel/state/record_cache.h"
#include "runnel/state/window_store.h"

namespace runnel::dsl::internal {

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
    // Under at-least-once the stream time and "emitted-through" wait for
    // the output they stand for to be acknowledged (see
    // TaskContext::OnSentRecordsAcknowledged).
    if (context.OnSentRecordsAcknowledged([this] { return store_->WriteHeldMeta(); })) store_->HoldMetaWrites();
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
  // The end saturates like TimeWindowedSerde's: a stored start near the end
  // of time (a damaged changelog) must not overflow.
  const int64_t end =
      start > std::numeric_limits<int64_t>::max() - size ? std::numeric_limits<int64_t>::max() : start + size;
  return Windowed<K>{*std::move(key), Window{Timestamp(start), Timestamp(end)}};
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

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_WINDOWED_OUTPUT_H_
