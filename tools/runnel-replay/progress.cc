#include "progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace runnel::replay {

std::string ShortDuration(absl::Duration d) {
  int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

std::string Progress::Line(int64_t done, absl::Duration elapsed) const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string eta = "?";
  if (rate > 0 && total_ >= done) eta = ShortDuration(absl::Seconds(static_cast<double>(total_ - done) / rate));
  const double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  std::string line;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = std::clamp(static_cast<int>(fraction * kWidth), 0, kWidth);
    line = absl::StrCat("[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ");
  }
  absl::StrAppend(&line, absl::StrFormat("%d/%d rows (%.0f%%)  %.0f rows/s  ETA %s", done, total_,
                                         fraction * 100, rate, eta));
  return line;
}

void Progress::Update(int64_t done) {
  const absl::Time now = clock_.Now();
  const absl::Duration every = terminal_ ? absl::Milliseconds(100) : absl::Seconds(5);
  if (now - last_draw_ < every) return;
  // A plain line waits for the first interval to pass: short runs print
  // only their summary.
  if (!terminal_ && now - start_ < every) return;
  last_draw_ = now;
  const std::string line = Line(done, now - start_);
  if (terminal_) {
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());
    drawn_ = true;
  } else {
    std::fprintf(out_, "progress: %s\n", line.c_str());
  }
  std::fflush(out_);
}

void Progress::Finish() {
  if (terminal_ && drawn_) {
    std::fprintf(out_, "\r%s\x1b[K\n", Line(total_, clock_.Now() - start_).c_str());
    std::fflush(out_);
  }
}

}  // namespace runnel::replay
