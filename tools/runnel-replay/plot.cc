#include "plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace runnel::replay {
namespace {

constexpr int kWidth = 1200, kHeight = 650;
constexpr double kLeft = 90, kRight = 200, kTop = 60, kBottom = 70;

// A colour-blind-safe palette (Okabe-Ito), cycled.
constexpr double kPalette[][3] = {{0.00, 0.45, 0.70}, {0.90, 0.62, 0.00}, {0.00, 0.62, 0.45},
                                  {0.80, 0.40, 0.00}, {0.34, 0.71, 0.91}, {0.80, 0.47, 0.65},
                                  {0.94, 0.89, 0.26}, {0.00, 0.00, 0.00}};

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

void Text(cairo_t* cr, double x, double y, const std::string& text, double align_x, double align_y) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  cairo_move_to(cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
  cairo_show_text(cr, text.c_str());
}

std::string FormatValue(double v, double step) {
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step)));
  return absl::StrFormat("%.*f", decimals, v);
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  // The step whose tick count comes closest to the target.
  double step = magnitude;
  for (double m : {2.0, 5.0, 10.0}) {
    const double candidate = m * magnitude;
    if (std::fabs((hi - lo) / candidate - target) < std::fabs((hi - lo) / step - target)) step = candidate;
  }
  std::vector<double> ticks;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::vector<int64_t> TimeTicks(int64_t lo_ms, int64_t hi_ms, int target, std::string* label_format) {
  constexpr int64_t kMin = 60'000, kHour = 60 * kMin, kDay = 24 * kHour;
  static constexpr int64_t kSteps[] = {kMin,      5 * kMin,  10 * kMin,  15 * kMin, 30 * kMin,
                                       kHour,     2 * kHour, 3 * kHour,  6 * kHour, 12 * kHour,
                                       kDay,      2 * kDay,  7 * kDay,   14 * kDay, 30 * kDay,
                                       91 * kDay, 182 * kDay, 365 * kDay};
  const int64_t span = std::max<int64_t>(hi_ms - lo_ms, 1);
  int64_t step = kSteps[std::size(kSteps) - 1];
  for (int64_t s : kSteps) {
    if (span / s <= target) {
      step = s;
      break;
    }
  }
  if (span <= kDay) {
    *label_format = "%H:%M";
  } else if (step < kDay) {
    *label_format = "%m-%d %H:%M";
  } else {
    *label_format = "%Y-%m-%d";
  }
  std::vector<int64_t> ticks;
  const int64_t first = (lo_ms + step - 1) / step * step;  // epoch-aligned = UTC-aligned
  for (int64_t t = first; t <= hi_ms; t += step) ticks.push_back(t);
  return ticks;
}

absl::Status WritePlot(const PlotData& data, const std::string& png_path) {
  int64_t t_lo = std::numeric_limits<int64_t>::max(), t_hi = std::numeric_limits<int64_t>::min();
  double v_lo = std::numeric_limits<double>::infinity(), v_hi = -v_lo;
  size_t points = 0;
  for (const auto& [key, series] : data.series) {
    for (const auto& [t, v] : series) {
      t_lo = std::min(t_lo, t);
      t_hi = std::max(t_hi, t);
      v_lo = std::min(v_lo, v);
      v_hi = std::max(v_hi, v);
      ++points;
    }
  }
  if (points == 0) {
    return absl::InvalidArgumentError(absl::StrCat("plot: no numeric values of field '", data.field, "' to draw"));
  }
  if (t_hi == t_lo) t_hi = t_lo + 60'000;
  const double pad = v_hi > v_lo ? (v_hi - v_lo) * 0.05 : 1.0;
  const std::vector<double> y_ticks = NiceTicks(v_lo - pad, v_hi + pad, 8);
  v_lo = std::min(v_lo - pad, y_ticks.front());
  v_hi = std::max(v_hi + pad, y_ticks.back());
  std::string time_format;
  const std::vector<int64_t> x_ticks = TimeTicks(t_lo, t_hi, 10, &time_format);

  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, kWidth, kHeight));
  std::unique_ptr<cairo_t, ContextDeleter> context(cairo_create(surface.get()));
  cairo_t* cr = context.get();
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto x_of = [&](int64_t t) {
    return kLeft + plot_w * static_cast<double>(t - t_lo) / static_cast<double>(t_hi - t_lo);
  };
  auto y_of = [&](double v) { return kTop + plot_h * (1.0 - (v - v_lo) / (v_hi - v_lo)); };

  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  // Grid and tick labels.
  cairo_set_font_size(cr, 13);
  cairo_set_line_width(cr, 1);
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  for (double v : y_ticks) {
    const double y = std::round(y_of(v)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, kLeft, y);
    cairo_line_to(cr, kLeft + plot_w, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    Text(cr, kLeft - 8, y, FormatValue(v, y_step), 1.0, 0.5);
  }
  for (int64_t t : x_ticks) {
    const double x = std::round(x_of(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, x, kTop);
    cairo_line_to(cr, x, kTop + plot_h);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    Text(cr, x, kTop + plot_h + 10,
         absl::FormatTime(time_format, absl::FromUnixMillis(t), absl::UTCTimeZone()), 0.5, 0.0);
  }
  // The frame.
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  cairo_rectangle(cr, kLeft + 0.5, kTop + 0.5, plot_w, plot_h);
  cairo_stroke(cr);

  // Axis titles: time (with the data's first day) and the value with unit.
  cairo_set_font_size(cr, 14);
  const std::string x_title = absl::StrCat(
      "event time (UTC), from ",
      absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixMillis(t_lo), absl::UTCTimeZone()));
  Text(cr, kLeft + plot_w / 2, kHeight - 18, x_title, 0.5, 1.0);
  const std::string y_title = data.unit.empty() ? data.field : absl::StrCat(data.field, " (", data.unit, ")");
  cairo_save(cr);
  cairo_translate(cr, 24, kTop + plot_h / 2);
  cairo_rotate(cr, -M_PI / 2);
  Text(cr, 0, 0, y_title, 0.5, 0.5);
  cairo_restore(cr);
  cairo_set_font_size(cr, 18);
  Text(cr, kLeft + plot_w / 2, kTop / 2, data.title.empty() ? y_title : data.title, 0.5, 0.5);

  // The lines, clipped to the plot area, and the legend.
  cairo_set_font_size(cr, 13);
  size_t index = 0;
  for (const auto& [key, unsorted] : data.series) {
    std::vector<std::pair<int64_t, double>> series = unsorted;
    std::stable_sort(series.begin(), series.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const double* rgb = kPalette[index % std::size(kPalette)];
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_save(cr);
    cairo_rectangle(cr, kLeft, kTop, plot_w, plot_h);
    cairo_clip(cr);
    cairo_set_line_width(cr, 2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t i = 0; i < series.size(); ++i) {
      const double x = x_of(series[i].first), y = y_of(series[i].second);
      if (i == 0) {
        cairo_move_to(cr, x, y);
      } else {
        cairo_line_to(cr, x, y);
      }
    }
    if (series.size() == 1) cairo_arc(cr, x_of(series[0].first), y_of(series[0].second), 3, 0, 2 * M_PI);
    cairo_stroke(cr);
    cairo_restore(cr);
    const double ly = kTop + 12 + 22 * static_cast<double>(index);
    cairo_set_line_width(cr, 3);
    cairo_move_to(cr, kLeft + plot_w + 16, ly);
    cairo_line_to(cr, kLeft + plot_w + 40, ly);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    Text(cr, kLeft + plot_w + 48, ly, key, 0.0, 0.5);
    ++index;
  }

  cairo_surface_flush(surface.get());
  const cairo_status_t status = cairo_surface_write_to_png(surface.get(), png_path.c_str());
  if (status != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("plot: cannot write ", png_path, ": ", cairo_status_to_string(status)));
  }
  return absl::OkStatus();
}

}  // namespace runnel::replay

// LeakSanitizer (ASan builds only; otherwise never called): fontconfig,
// which cairo's text uses, keeps its font caches until the process ends by
// design, and LSan reports them. Only allocations made inside fontconfig
// are exempt; ours are still checked.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
