#ifndef RUNNEL_TOOLS_REPLAY_PLOT_H_
#define RUNNEL_TOOLS_REPLAY_PLOT_H_

// A line chart of one numeric field over event time, one line per key,
// written as a PNG with cairo: time on x (HH:MM, or dates over longer
// spans, UTC), the value with its unit on y, a legend and a title.
// Stateless; any thread.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace runnel::replay {

struct PlotData {
  std::string title;
  std::string field;
  std::string unit;  // may be empty
  // key -> (timestamp ms, value) points; drawn in timestamp order.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> series;
};

// kInvalidArgument when there is no point to draw; kInternal when cairo
// cannot write the file (naming it).
absl::Status WritePlot(const PlotData& data, const std::string& png_path);

// Tick positions for an axis from lo to hi: "nice" steps (1, 2, 5 x 10^n),
// as close to `target` of them as they come.
std::vector<double> NiceTicks(double lo, double hi, int target);
// Time ticks (ms) for a span: steps of 1, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h,
// 1, 2, 7 days..., aligned to UTC; and the label format that fits the span.
std::vector<int64_t> TimeTicks(int64_t lo_ms, int64_t hi_ms, int target, std::string* label_format);

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_PLOT_H_
