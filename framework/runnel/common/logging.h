#ifndef RUNNEL_COMMON_LOGGING_H_
#define RUNNEL_COMMON_LOGGING_H_

// Logging setup. Runnel logs through spdlog; every module gets a named logger
// ("runnel", "rdkafka", ...) sharing one sink and one level. Loggers are
// thread-safe (spdlog *_mt sinks): librdkafka calls its logger from its own
// threads.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "spdlog/logger.h"

namespace runnel {

// Sets the level of every Runnel logger ("trace", "debug", "info", "warn",
// "error", "critical", "off"). An unknown level is InvalidArgument.
absl::Status SetLogLevel(std::string_view level);

// The named logger, created on first use with the shared sink (stderr).
std::shared_ptr<spdlog::logger> Logger(std::string_view name);

// Logs at most once per `interval` per call site; the count of suppressed
// messages is carried into the next one. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(int64_t interval_ms) : interval_ms_(interval_ms) {}
  // True when this call may log; `suppressed` receives how many calls were
  // skipped since the last allowed one.
  bool Allow(int64_t now_ms, int64_t* suppressed);

 private:
  int64_t interval_ms_;
  std::atomic<int64_t> next_allowed_ms_{0};
  std::atomic<int64_t> suppressed_{0};
};

}  // namespace runnel

#endif  // RUNNEL_COMMON_LOGGING_H_
