#ifndef RUNNEL_COMMON_CLOCK_H_
#define RUNNEL_COMMON_CLOCK_H_

// The one source of wall-clock time. Nothing outside this file calls
// system_clock::now(); code takes a Clock& so tests can drive time.

#include <atomic>

#include "absl/time/time.h"
#include "runnel/common/types.h"

namespace runnel {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  Timestamp NowMillis() const { return Timestamp(absl::ToUnixMillis(Now())); }

  // The process-wide real clock. Thread-safe, never destroyed.
  static Clock& System();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch()) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }
  void Set(absl::Time t) { nanos_ = absl::ToUnixNanos(t); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace runnel

#endif  // RUNNEL_COMMON_CLOCK_H_
