#ifndef RUNNEL_TOOLS_REPLAY_PROGRESS_H_
#define RUNNEL_TOOLS_REPLAY_PROGRESS_H_

// Progress of a replay on stderr: on a terminal a one-line bar (rows
// done/total, rows/s, ETA) redrawn in place at most 10 times a second;
// otherwise a plain line every 5 seconds (logs and CI stay readable).
//
// Ownership: borrows the clock and the output stream. One thread.

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "runnel/common/clock.h"

namespace runnel::replay {

class Progress {
 public:
  Progress(const Clock& clock, std::FILE* out, bool terminal, int64_t total)
      : clock_(clock), out_(out), terminal_(terminal), total_(total), start_(clock.Now()) {}

  // `done` rows handled so far; draws when it is time to.
  void Update(int64_t done);
  // Ends the bar's line (terminal only).
  void Finish();

  // The text of the progress line for `done` rows after `elapsed`.
  std::string Line(int64_t done, absl::Duration elapsed) const;

 private:
  const Clock& clock_;
  std::FILE* out_;
  const bool terminal_;
  const int64_t total_;
  const absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

// "1h02m", "3m05s", "12s".
std::string ShortDuration(absl::Duration d);

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_PROGRESS_H_
