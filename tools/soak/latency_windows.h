// Latency percentiles per reporting window, for the soak's probes
// (soak_probe.cc, soak_query.cc): samples go into a short window (--report
// seconds, the sampler's period) and a one-minute window; each window, when
// it closes, prints one JSON line and starts empty, so the soak's report can
// show percentiles over time without keeping every sample.
//
// Thread: one owner thread calls Add and MaybeReport; the counters passed to
// MaybeReport are read there. Header-only: the two tools share nothing else.

#ifndef RUNNEL_TOOLS_SOAK_LATENCY_WINDOWS_H_
#define RUNNEL_TOOLS_SOAK_LATENCY_WINDOWS_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace runnel_soak {

inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One window's samples (microseconds) and counts.
class LatencyWindow {
 public:
  LatencyWindow(std::string name, int64_t length_ms) : name_(std::move(name)), length_ms_(length_ms) {}

  void Add(int64_t latency_us) { samples_.push_back(latency_us); }
  void CountError() { ++errors_; }
  void CountOther() { ++other_; }
  // A refusal the protocol documents as "retry" (gRPC UNAVAILABLE during a
  // rebalance or a restore): reported apart from errors.
  void CountUnavailable() { ++unavailable_; }

  // Prints the window's line to stdout (flushed) when `now_ms` is past its
  // end, then starts the next window. `extra` is appended inside the JSON
  // object (",\"sent\":12" or empty).
  void MaybeReport(int64_t now_ms, const std::string& extra) {
    if (start_ms_ == 0) start_ms_ = now_ms;
    if (now_ms - start_ms_ < length_ms_) return;
    Report(now_ms, extra);
  }

  // At the end of a run: prints the unfinished window's line (its `seconds`
  // says how short it is) when it has any sample or error.
  void Flush(int64_t now_ms, const std::string& extra) {
    if (start_ms_ != 0 && (!samples_.empty() || errors_ > 0 || unavailable_ > 0)) Report(now_ms, extra);
  }

 private:
  void Report(int64_t now_ms, const std::string& extra) {
    std::sort(samples_.begin(), samples_.end());
    std::printf("{\"window\":\"%s\",\"end_ms\":%lld,\"seconds\":%.3f,\"n\":%zu,\"errors\":%lld,\"unavailable\":%lld,"
                "\"other\":%lld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f%s}\n",
                name_.c_str(), static_cast<long long>(now_ms), (now_ms - start_ms_) / 1000.0, samples_.size(),
                static_cast<long long>(errors_), static_cast<long long>(unavailable_),
                static_cast<long long>(other_), Quantile(0.50), Quantile(0.99),
                samples_.empty() ? -1.0 : samples_.back() / 1000.0, extra.c_str());
    std::fflush(stdout);
    samples_.clear();
    errors_ = unavailable_ = other_ = 0;
    start_ms_ = now_ms;
  }

  double Quantile(double q) const {
    if (samples_.empty()) return -1;
    const size_t i = std::min(samples_.size() - 1, static_cast<size_t>(q * static_cast<double>(samples_.size())));
    return static_cast<double>(samples_[i]) / 1000.0;
  }

  std::string name_;
  int64_t length_ms_;
  int64_t start_ms_ = 0;
  int64_t errors_ = 0;
  int64_t other_ = 0;
  int64_t unavailable_ = 0;
  std::vector<int64_t> samples_;
};

}  // namespace runnel_soak

#endif  // RUNNEL_TOOLS_SOAK_LATENCY_WINDOWS_H_
