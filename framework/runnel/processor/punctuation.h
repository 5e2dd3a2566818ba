#ifndef RUNNEL_PROCESSOR_PUNCTUATION_H_
#define RUNNEL_PROCESSOR_PUNCTUATION_H_

// Punctuators: callbacks a processor schedules to run periodically, by
// stream time (advanced by record timestamps) or by wall-clock time (the
// injected Clock), as in Kafka Streams:
//   - stream time: the first punctuation comes with the first record
//     processed (or at once, if the task has seen records), then whenever
//     stream time reaches the previous punctuation time + interval;
//   - wall-clock time: first at schedule time + interval.
// When time jumps past several intervals the punctuator runs once, and the
// next one is due an interval after the time it ran (no catch-up bursts).
//
// PunctuationSchedule is the per-task bookkeeping; the task (or the test
// driver) calls Fire() after each record (stream time) and from its loop
// (wall-clock time). Threading: the task's thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "runnel/common/types.h"

namespace runnel {

enum class PunctuationType { kStreamTime, kWallClockTime };

// Runs with the time (ms) that triggered it. An error fails the task, except
// a processing error (processing_error.h; a throw becomes one) that
// processing.exception.handler skips.
using Punctuator = std::function<absl::Status(Timestamp time)>;

// Cancels its punctuator when Cancel() is called; copying shares the handle.
class Cancellable {
 public:
  Cancellable() = default;
  explicit Cancellable(std::shared_ptr<bool> cancelled) : cancelled_(std::move(cancelled)) {}
  void Cancel() {
    if (cancelled_) *cancelled_ = true;
  }

 private:
  std::shared_ptr<bool> cancelled_;
};

class PunctuationSchedule {
 public:
  // `now` is the current time of `type` (stream time: negative if the task
  // has seen no record yet). Interval must be positive.
  Cancellable Add(PunctuationType type, absl::Duration interval, Punctuator punctuator, Timestamp now);
  // Runs every punctuator of `type` that is due at `now`. A punctuator's
  // error (or exception, as a processing error) goes to `on_error` when
  // given: its OK goes on with the next punctuator, its error stops and is
  // returned. Without `on_error` the first error is returned.
  absl::Status Fire(PunctuationType type, Timestamp now,
                    const std::function<absl::Status(absl::Status)>& on_error = {});
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    PunctuationType type;
    int64_t interval_ms;
    Punctuator punctuator;
    int64_t next_ms;  // < 0: at the first time seen (stream time)
    std::shared_ptr<bool> cancelled;
  };
  std::vector<Entry> entries_;
};

}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_PUNCTUATION_H_
