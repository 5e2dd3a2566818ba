#ifndef RUNNEL_COMMON_METRICS_H_
#define RUNNEL_COMMON_METRICS_H_

// A small metrics registry: named counters and gauges with labels, cheap to
// bump from any thread (one relaxed atomic add), read as a snapshot. The
// Prometheus exporter and tests read the same snapshot.
//
// Ownership: the registry owns its metrics; a Counter* handed out stays valid
// for the registry's lifetime. Thread-safe.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace runnel {

using MetricLabels = std::map<std::string, std::string>;

class Counter {
 public:
  void Increment(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

struct MetricSample {
  std::string name;
  MetricLabels labels;
  int64_t value;
  bool is_counter;
};

class MetricsRegistry {
 public:
  // Returns the metric with this name and labels, creating it on first use.
  Counter* GetCounter(const std::string& name, const MetricLabels& labels = {});
  Gauge* GetGauge(const std::string& name, const MetricLabels& labels = {});

  // Sum of a counter over every label set (0 if absent).
  int64_t CounterTotal(const std::string& name) const;
  std::vector<MetricSample> Snapshot() const;
  // Prometheus text exposition format.
  std::string ToPrometheusText() const;

 private:
  using Key = std::pair<std::string, MetricLabels>;
  mutable std::mutex mu_;
  std::map<Key, std::unique_ptr<Counter>> counters_;
  std::map<Key, std::unique_ptr<Gauge>> gauges_;
};

}  // namespace runnel

#endif  // RUNNEL_COMMON_METRICS_H_
