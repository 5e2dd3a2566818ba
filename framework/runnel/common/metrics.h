#ifndef RUNNEL_COMMON_METRICS_H_
#define RUNNEL_COMMON_METRICS_H_

// A small metrics registry: named counters, gauges and histograms with
// labels, cheap to bump from any thread (a counter or gauge is one relaxed
// atomic add; a histogram observation two, no lock), read as a snapshot.
// The Prometheus exporter and tests read the same snapshot.
//
// A metric family (one name) has one type and one help text (SetHelp; the
// exposition writes "# HELP" and "# TYPE" for every family). Collectors add
// samples computed when the registry is read (store sizes, restore
// progress): they run on the reading thread, outside the registry's lock.
//
// Ownership: the registry owns its metrics; a Counter*, Gauge* or
// Histogram* handed out stays valid for the registry's lifetime.
// Thread-safe. Metric names and label names must be valid Prometheus names;
// label values may be any text (escaped on export).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
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

// Observations counted into fixed buckets (Prometheus' cumulative `le`
// buckets are computed on read). Observe is lock-free: a binary search over
// the bounds, one relaxed add on the bucket's count and one on the sum. A
// concurrent reader may see an observation's count without its sum (or the
// reverse) for an instant; the `+Inf` bucket always equals the count.
class Histogram {
 public:
  // `bounds`: finite upper bounds, strictly increasing (checked).
  explicit Histogram(std::span<const double> bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    // cumulative[i]: observations <= bounds[i]; one more entry for +Inf.
    std::vector<int64_t> cumulative;
    double sum = 0;
    int64_t count = 0;
  };
  Snapshot Read() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  // Non-cumulative: counts_[i] holds (bounds[i-1], bounds[i]]; the last
  // one what is above every bound.
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds. Process latency: 1 µs .. 10 s; end-to-end
// latency (record timestamp to output): 1 ms .. 1 h; a stream thread's
// commits and polls: 100 µs .. 30 s.
std::span<const double> ProcessLatencyBuckets();
std::span<const double> EndToEndLatencyBuckets();
std::span<const double> CommitLatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

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
  // `bounds` are used when the histogram is created; later calls with the
  // same name and labels get the existing one.
  Histogram* GetHistogram(const std::string& name, const MetricLabels& labels, std::span<const double> bounds);

  // The "# HELP" text of the family `name` (any type). Families without
  // one are exported with the help "<name> (undocumented)".
  void SetHelp(const std::string& name, std::string help);
  std::string Help(const std::string& name) const;

  // Exports the counter or gauge family `recorded` (kept under that name in
  // Snapshot and CounterTotal) as `exported` with every value multiplied by
  // `factor`: a family recorded in microseconds is exposed in seconds,
  // Prometheus' base unit. Help goes by the exported name.
  void ExportInBaseUnit(const std::string& recorded, std::string exported, double factor);

  // Adds the samples a collector computes at read time (gauges and
  // counters; merged into the family of the same name). Called on the
  // reading thread without the registry's lock: it may read anything
  // thread-safe but must not call back into this registry.
  using Collector = std::function<void(std::vector<MetricSample>* out)>;
  void AddCollector(Collector collector);

  // Sum of a counter over every label set (0 if absent).
  int64_t CounterTotal(const std::string& name) const;
  // Counters and gauges, the collectors' samples included.
  std::vector<MetricSample> Snapshot() const;
  // The Prometheus text exposition format (version 0.0.4): families sorted
  // by name, each with its HELP and TYPE, label values escaped, histograms
  // as cumulative _bucket{le=...} (with +Inf), _sum and _count.
  std::string ToPrometheusText() const;

 private:
  using Key = std::pair<std::string, MetricLabels>;
  mutable std::mutex mu_;
  std::map<Key, std::unique_ptr<Counter>> counters_;
  std::map<Key, std::unique_ptr<Gauge>> gauges_;
  std::map<Key, std::unique_ptr<Histogram>> histograms_;
  std::map<std::string, std::string> help_;
  std::map<std::string, std::pair<std::string, double>> exports_;
  std::vector<std::shared_ptr<const Collector>> collectors_;
};

// Prometheus label value escaping: `\` -> `\\`, `"` -> `\"`, newline -> `\n`.
std::string EscapeLabelValue(std::string_view value);
// HELP text escaping: `\` -> `\\`, newline -> `\n`.
std::string EscapeHelp(std::string_view help);

}  // namespace runnel

#endif  // RUNNEL_COMMON_METRICS_H_
