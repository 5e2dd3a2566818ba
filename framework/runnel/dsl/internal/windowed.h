#ifndef RUNNEL_DSL_INTERNAL_WINDOWED_H_
#define RUNNEL_DSL_INTERNAL_WINDOWED_H_

// The processors behind time-windowed (tumbling, hopping) and session
// aggregations (TimeWindowedKStream, SessionWindowedKStream), built on
// WindowedOutput: see internal/windowed_output.h for the stored format,
// stream time, late records and emit modes.
//
// Threading: the task's thread, like every processor.


#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/status.h"
#include "runnel/dsl/internal/windowed_output.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/windows.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"
#include "runnel/state/window_store.h"

namespace runnel::dsl::internal {

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
             SegmentedStoreOptions{.retention_ms = SessionRetentionMs(retention_ms)}, emit),
        windows_(windows),
        fold_(std::move(fold)),
        merge_(std::move(merge)) {}

  // The store keeps a session one millisecond longer than gap + grace: the
  // store expires a time once it is <= stream time - retention, but a
  // session ending at stream time - gap - grace can still be extended by
  // an on-time record (at stream time - grace) and is not closed yet, so
  // it must stay visible (and removable) until then. Found by
  // tests/property.
  static int64_t SessionRetentionMs(int64_t retention_ms) { return retention_ms + 1; }

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

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_WINDOWED_H_
