#ifndef RUNNEL_DSL_WINDOWS_H_
#define RUNNEL_DSL_WINDOWS_H_

// Window specifications for windowedBy and windowed joins, with Kafka
// Streams' names and semantics. All times are event time (record
// timestamps) in milliseconds; a window accepts records until stream time
// passes its end + grace, after which a record for it is late: dropped and
// counted.
//
//   TimeWindows::OfSizeAndGrace(1min, 5s)              tumbling [start, start+size)
//   TimeWindows::OfSizeAndGrace(10s, 1s).AdvanceBy(2s) hopping: every 2 s
//   SlidingWindows::OfTimeDifferenceAndGrace(d, g)     windows [t-d, t] around records
//   SessionWindows::OfInactivityGapAndGrace(gap, g)    merging per-key sessions
//   JoinWindows::OfTimeDifferenceAndGrace(d, g)        stream-stream joins
//   CountWindows::Tumbling(n) / Sliding(n)             every n records per key
//
// Validate() says what is wrong with a spec; windowedBy reports it through
// Build().

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace runnel {

struct TimeWindows {
  int64_t size_ms = 0;
  int64_t advance_ms = 0;
  int64_t grace_ms = 0;

  static TimeWindows OfSizeAndGrace(absl::Duration size, absl::Duration grace) {
    const int64_t s = absl::ToInt64Milliseconds(size);
    return TimeWindows{s, s, absl::ToInt64Milliseconds(grace)};
  }
  static TimeWindows OfSizeWithGrace(absl::Duration size, absl::Duration grace) { return OfSizeAndGrace(size, grace); }
  static TimeWindows OfSizeWithNoGrace(absl::Duration size) { return OfSizeAndGrace(size, absl::ZeroDuration()); }
  // Hopping windows: a new window every `advance` (<= size).
  TimeWindows AdvanceBy(absl::Duration advance) const {
    TimeWindows w = *this;
    w.advance_ms = absl::ToInt64Milliseconds(advance);
    return w;
  }

  absl::Status Validate() const {
    if (size_ms <= 0) return absl::InvalidArgumentError(absl::StrCat("TimeWindows: size must be > 0 ms, got ", size_ms));
    if (advance_ms <= 0 || advance_ms > size_ms) {
      return absl::InvalidArgumentError(
          absl::StrCat("TimeWindows: advance must be in (0, size=", size_ms, "] ms, got ", advance_ms));
    }
    if (grace_ms < 0) return absl::InvalidArgumentError(absl::StrCat("TimeWindows: grace must be >= 0, got ", grace_ms));
    return absl::OkStatus();
  }
  // Starts of the windows [start, start + size) that contain `ts`, ascending;
  // windows start at multiples of advance, never before 0 (as Kafka Streams).
  std::vector<int64_t> WindowStartsFor(int64_t ts) const {
    std::vector<int64_t> starts;
    int64_t first = std::max<int64_t>(0, ts - size_ms + advance_ms) / advance_ms * advance_ms;
    for (int64_t start = first; start <= ts; start += advance_ms) starts.push_back(start);
    return starts;
  }
  // How long a window store must keep windows: size + grace.
  int64_t RetentionMs() const { return size_ms + grace_ms; }
};

// Kafka Streams' SlidingWindows: a window [t - difference, t] ends at every
// record (and one starts just after it), so every distinct set of records
// within `difference` of each other is aggregated once.
struct SlidingWindows {
  int64_t time_difference_ms = 0;
  int64_t grace_ms = 0;

  static SlidingWindows OfTimeDifferenceAndGrace(absl::Duration difference, absl::Duration grace) {
    return SlidingWindows{absl::ToInt64Milliseconds(difference), absl::ToInt64Milliseconds(grace)};
  }
  static SlidingWindows OfTimeDifferenceWithNoGrace(absl::Duration difference) {
    return OfTimeDifferenceAndGrace(difference, absl::ZeroDuration());
  }
  absl::Status Validate() const {
    if (time_difference_ms <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("SlidingWindows: time difference must be > 0 ms, got ", time_difference_ms));
    }
    if (grace_ms < 0) return absl::InvalidArgumentError(absl::StrCat("SlidingWindows: grace must be >= 0, got ", grace_ms));
    return absl::OkStatus();
  }
  // A record looks back 2 x difference for its previous record's windows.
  int64_t RetentionMs() const { return 2 * time_difference_ms + grace_ms; }
};

// Per-key sessions: records closer than `gap` to each other belong to one
// session [first, last]; a record bridging two sessions merges them.
struct SessionWindows {
  int64_t gap_ms = 0;
  int64_t grace_ms = 0;

  static SessionWindows OfInactivityGapAndGrace(absl::Duration gap, absl::Duration grace) {
    return SessionWindows{absl::ToInt64Milliseconds(gap), absl::ToInt64Milliseconds(grace)};
  }
  static SessionWindows OfInactivityGapWithNoGrace(absl::Duration gap) {
    return OfInactivityGapAndGrace(gap, absl::ZeroDuration());
  }
  absl::Status Validate() const {
    if (gap_ms <= 0) return absl::InvalidArgumentError(absl::StrCat("SessionWindows: gap must be > 0 ms, got ", gap_ms));
    if (grace_ms < 0) return absl::InvalidArgumentError(absl::StrCat("SessionWindows: grace must be >= 0, got ", grace_ms));
    return absl::OkStatus();
  }
  int64_t RetentionMs() const { return gap_ms + grace_ms; }
};

// Stream-stream join windows: a left record at t joins right records in
// [t - before, t + after]; records are kept until stream time passes their
// time + after/before + grace.
struct JoinWindows {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = 0;

  static JoinWindows OfTimeDifferenceAndGrace(absl::Duration difference, absl::Duration grace) {
    const int64_t d = absl::ToInt64Milliseconds(difference);
    return JoinWindows{d, d, absl::ToInt64Milliseconds(grace)};
  }
  static JoinWindows OfTimeDifferenceWithNoGrace(absl::Duration difference) {
    return OfTimeDifferenceAndGrace(difference, absl::ZeroDuration());
  }
  JoinWindows Before(absl::Duration before) const {
    JoinWindows w = *this;
    w.before_ms = absl::ToInt64Milliseconds(before);
    return w;
  }
  JoinWindows After(absl::Duration after) const {
    JoinWindows w = *this;
    w.after_ms = absl::ToInt64Milliseconds(after);
    return w;
  }
  absl::Status Validate() const {
    if (before_ms + after_ms < 0) {
      return absl::InvalidArgumentError(absl::StrCat("JoinWindows: window size (before ", before_ms, " + after ",
                                                     after_ms, ") must be >= 0"));
    }
    if (grace_ms < 0) return absl::InvalidArgumentError(absl::StrCat("JoinWindows: grace must be >= 0, got ", grace_ms));
    return absl::OkStatus();
  }
};

// Count-based windows (Quix Streams' count windows): per key, every `size`
// records form a window (tumbling); or the last `size` records, a result
// after each record once `size` are there (sliding). The window's bounds
// are the first and last record's timestamps.
struct CountWindows {
  int64_t size = 0;
  bool sliding = false;

  static CountWindows Tumbling(int64_t n) { return CountWindows{n, false}; }
  static CountWindows Sliding(int64_t n) { return CountWindows{n, true}; }
  absl::Status Validate() const {
    if (size <= 0) return absl::InvalidArgumentError(absl::StrCat("CountWindows: size must be > 0, got ", size));
    return absl::OkStatus();
  }
};

// When a windowed aggregation sends its results downstream.
struct EmitStrategy {
  enum class Kind {
    // Every update (merged by the record cache between commits when the
    // store is cached).
    kOnWindowUpdate,
    // One final result per window, when stream time passes its end + grace
    // (Kafka Streams' emitStrategy(onWindowClose) / suppress(untilWindowCloses)).
    kOnWindowClose,
  };
  Kind kind = Kind::kOnWindowUpdate;
  // Beyond Kafka Streams: with OnWindowClose, when the task has seen no
  // record for this long of wall-clock time, stream time advances with the
  // wall clock, so the last windows of an idle input still close. The
  // trade-off: a record that was only delayed (not absent) longer than this
  // may then arrive after its window closed and be dropped as late.
  std::optional<absl::Duration> idle_advance;

  static EmitStrategy OnWindowUpdate() { return EmitStrategy{}; }
  static EmitStrategy OnWindowClose() { return EmitStrategy{Kind::kOnWindowClose, std::nullopt}; }
  EmitStrategy AdvanceWhenIdle(absl::Duration after) const {
    EmitStrategy e = *this;
    e.idle_advance = after;
    return e;
  }
};

}  // namespace runnel

#endif  // RUNNEL_DSL_WINDOWS_H_
