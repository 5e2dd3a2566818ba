#include "runnel/common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

constexpr double kProcessLatencyBuckets[] = {1e-6,   2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                             1e-3,   2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1,  0.25,   0.5,
                                             1,      2.5,    5,    10};
constexpr double kEndToEndLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5, 1,
                                              2.5,   5,      10,    30,   60,    120,  300,  600,  1800, 3600};
constexpr double kCommitLatencyBuckets[] = {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05,
                                            0.1,  0.25,   0.5,  1,    2.5,    5,    10,   30};

void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  RUNNEL_CHECK(ec == std::errc()) << "formatting a double";
  out->append(buf, end);
}

// {k="v",...}; `extra` (le) goes last.
void AppendLabels(const MetricLabels& labels, std::string_view extra_name, std::string_view extra_value,
                  std::string* out) {
  if (labels.empty() && extra_name.empty()) return;
  *out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(out, first ? "" : ",", k, "=\"", EscapeLabelValue(v), "\"");
    first = false;
  }
  if (!extra_name.empty()) absl::StrAppend(out, first ? "" : ",", ToAbsl(extra_name), "=\"", ToAbsl(extra_value), "\"");
  *out += '}';
}

// Backslash and newline always; the double quote inside label values.
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || (quote && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), counts_(new std::atomic<int64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    RUNNEL_CHECK(std::isfinite(bounds_[i]) && (i == 0 || bounds_[i - 1] < bounds_[i]))
        << "histogram bounds must be finite and strictly increasing";
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // The first bucket whose upper bound is >= value (Prometheus' le).
  const size_t index = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size() + 1);
  int64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::span<const double> ProcessLatencyBuckets() { return kProcessLatencyBuckets; }
std::span<const double> EndToEndLatencyBuckets() { return kEndToEndLatencyBuckets; }
std::span<const double> CommitLatencyBuckets() { return kCommitLatencyBuckets; }

std::string EscapeLabelValue(std::string_view value) { return Escape(value, /*quote=*/true); }
std::string EscapeHelp(std::string_view help) { return Escape(help, /*quote=*/false); }

Counter* MetricsRegistry::GetCounter(const std::string& name, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = counters_[{name, labels}];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = gauges_[{name, labels}];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const MetricLabels& labels,
                                         std::span<const double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = histograms_[{name, labels}];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return slot.get();
}

void MetricsRegistry::SetHelp(const std::string& name, std::string help) {
  std::lock_guard<std::mutex> lock(mu_);
  help_[name] = std::move(help);
}

std::string MetricsRegistry::Help(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = help_.find(name);
  return it != help_.end() ? it->second : absl::StrCat(name, " (undocumented)");
}

void MetricsRegistry::ExportInBaseUnit(const std::string& recorded, std::string exported, double factor) {
  std::lock_guard<std::mutex> lock(mu_);
  exports_[recorded] = {std::move(exported), factor};
}

void MetricsRegistry::AddCollector(Collector collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::make_shared<const Collector>(std::move(collector)));
}

int64_t MetricsRegistry::CounterTotal(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [key, counter] : counters_) {
    if (key.first == name) total += counter->value();
  }
  return total;
}

std::vector<MetricSample> MetricsRegistry::Snapshot() const {
  std::vector<MetricSample> out;
  std::vector<std::shared_ptr<const Collector>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, c] : counters_) out.push_back({key.first, key.second, c->value(), true});
    for (const auto& [key, g] : gauges_) out.push_back({key.first, key.second, g->value(), false});
    collectors = collectors_;
  }
  for (const auto& collect : collectors) (*collect)(&out);
  return out;
}

std::string MetricsRegistry::ToPrometheusText() const {
  struct Family {
    MetricType type;
    std::string samples;
  };
  std::vector<std::pair<Key, Histogram::Snapshot>> histograms;
  std::map<std::string, std::string> help;
  std::map<std::string, std::pair<std::string, double>> exports;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, h] : histograms_) histograms.emplace_back(key, h->Read());
    help = help_;
    exports = exports_;
  }
  std::map<std::string, Family> families;
  for (const MetricSample& s : Snapshot()) {
    auto exported = exports.find(s.name);
    const std::string& name = exported != exports.end() ? exported->second.first : s.name;
    std::string& out =
        families.try_emplace(name, Family{s.is_counter ? MetricType::kCounter : MetricType::kGauge, {}})
            .first->second.samples;
    absl::StrAppend(&out, name);
    AppendLabels(s.labels, {}, {}, &out);
    out += ' ';
    if (exported != exports.end()) {
      AppendDouble(static_cast<double>(s.value) * exported->second.second, &out);
    } else {
      absl::StrAppend(&out, s.value);
    }
    out += '\n';
  }
  for (const auto& [key, h] : histograms) {
    const auto& [name, labels] = key;
    std::string& out = families.try_emplace(name, Family{MetricType::kHistogram, {}}).first->second.samples;
    std::string le;
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
      le.clear();
      if (i < h.bounds.size()) {
        AppendDouble(h.bounds[i], &le);
      } else {
        le = "+Inf";
      }
      absl::StrAppend(&out, name, "_bucket");
      AppendLabels(labels, "le", le, &out);
      absl::StrAppend(&out, " ", h.cumulative[i], "\n");
    }
    absl::StrAppend(&out, name, "_sum");
    AppendLabels(labels, {}, {}, &out);
    out += ' ';
    AppendDouble(h.sum, &out);
    absl::StrAppend(&out, "\n", name, "_count");
    AppendLabels(labels, {}, {}, &out);
    absl::StrAppend(&out, " ", h.count, "\n");
  }
  std::string out;
  for (const auto& [name, family] : families) {
    auto it = help.find(name);
    absl::StrAppend(&out, "# HELP ", name, " ",
                    EscapeHelp(it != help.end() ? it->second : absl::StrCat(name, " (undocumented)")), "\n",
                    "# TYPE ", name, " ", ToAbsl(TypeName(family.type)), "\n", family.samples);
  }
  return out;
}

}  // namespace runnel
