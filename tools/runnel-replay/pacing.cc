#include "pacing.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace runnel::replay {

void RealSleeper::SleepFor(absl::Duration d) { absl::SleepFor(d); }

absl::StatusOr<double> ParseSpeed(absl::string_view text) {
  if (text == "asap") return 0.0;
  if (text == "original") return 1.0;
  double factor = 0;
  if (absl::SimpleAtod(text, &factor) && std::isfinite(factor) && factor > 0) return factor;
  return absl::InvalidArgumentError(
      absl::StrCat("--speed: '", text, "' is not asap, original or a positive factor like 10"));
}

void Pacer::WaitFor(int64_t timestamp_ms) {
  if (speed_ <= 0) return;
  if (!start_) {
    start_ = clock_.Now();
    first_ms_ = timestamp_ms;
    return;
  }
  const double offset_ms = static_cast<double>(timestamp_ms - first_ms_) / speed_;
  const absl::Time due = *start_ + absl::Milliseconds(offset_ms);
  const absl::Duration wait = due - clock_.Now();
  if (wait > absl::ZeroDuration()) sleeper_.SleepFor(wait);
}

}  // namespace runnel::replay
