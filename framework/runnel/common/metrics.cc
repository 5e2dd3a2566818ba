#include "runnel/common/metrics.h"

#include "absl/strings/str_cat.h"

namespace runnel {

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

int64_t MetricsRegistry::CounterTotal(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [key, counter] : counters_) {
    if (key.first == name) total += counter->value();
  }
  return total;
}

std::vector<MetricSample> MetricsRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MetricSample> out;
  for (const auto& [key, c] : counters_) out.push_back({key.first, key.second, c->value(), true});
  for (const auto& [key, g] : gauges_) out.push_back({key.first, key.second, g->value(), false});
  return out;
}

std::string MetricsRegistry::ToPrometheusText() const {
  std::string out;
  std::string last;
  for (const auto& s : Snapshot()) {
    if (s.name != last) {
      absl::StrAppend(&out, "# TYPE ", s.name, s.is_counter ? " counter\n" : " gauge\n");
      last = s.name;
    }
    absl::StrAppend(&out, s.name);
    if (!s.labels.empty()) {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : s.labels) {
        absl::StrAppend(&out, first ? "" : ",", k, "=\"", v, "\"");
        first = false;
      }
      out += '}';
    }
    absl::StrAppend(&out, " ", s.value, "\n");
  }
  return out;
}

}  // namespace runnel
