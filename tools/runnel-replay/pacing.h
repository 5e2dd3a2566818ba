#ifndef RUNNEL_TOOLS_REPLAY_PACING_H_
#define RUNNEL_TOOLS_REPLAY_PACING_H_

// Pacing a replay: as fast as possible, at the data's original pace, or N
// times faster. Time comes from an injected Clock and waiting goes through
// an injected Sleeper, so tests drive both without sleeping.
//
// Ownership: the Pacer borrows its clock and sleeper (they must outlive it).
// One thread (the replay's).

#include <cstdint>
#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"

namespace runnel::replay {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(absl::Duration d) = 0;
};

// absl::SleepFor: the real thing, for the tool.
class RealSleeper final : public Sleeper {
 public:
  void SleepFor(absl::Duration d) override;
};

// "asap" (0), "original" (1) or a positive factor N (N times faster);
// kInvalidArgument naming --speed otherwise.
absl::StatusOr<double> ParseSpeed(absl::string_view text);

class Pacer {
 public:
  // speed 0: never waits.
  Pacer(const Clock& clock, Sleeper& sleeper, double speed)
      : clock_(clock), sleeper_(sleeper), speed_(speed) {}

  // Waits until the row stamped `timestamp_ms` is due: the first row is due
  // at once; row i at start + (ts_i - ts_first) / speed. Anchoring every row
  // to the first keeps send delays from adding up; a row older than the
  // previous one is due at once.
  void WaitFor(int64_t timestamp_ms);

 private:
  const Clock& clock_;
  Sleeper& sleeper_;
  const double speed_;
  std::optional<absl::Time> start_;
  int64_t first_ms_ = 0;
};

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_PACING_H_
