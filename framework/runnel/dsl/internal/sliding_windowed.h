#ifndef RUNNEL_DSL_INTERNAL_SLIDING_WINDOWED_H_
#define RUNNEL_DSL_INTERNAL_SLIDING_WINDOWED_H_

// The processor behind sliding-window aggregations
// (TimeWindowedKStream over SlidingWindows), built on WindowedOutput: see
// internal/windowed_output.h for the stored format, stream time, late
// records and emit modes.
//
// Threading: the task's thread, like every processor.


#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/dsl/internal/windowed_output.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/windows.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/windowed.h"
#include "runnel/state/window_store.h"

namespace runnel::dsl::internal {

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

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_SLIDING_WINDOWED_H_
