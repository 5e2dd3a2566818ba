#include "runnel/common/logging.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace runnel {
namespace {

std::mutex& LoggersMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}

spdlog::sink_ptr SharedSink() {
  static spdlog::sink_ptr* sink = new spdlog::sink_ptr(
      std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic));
  return *sink;
}

std::atomic<int>& CurrentLevel() {
  static std::atomic<int> level{spdlog::level::info};
  return level;
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(std::string_view name) {
  std::lock_guard<std::mutex> lock(LoggersMutex());
  std::string key(name);
  if (auto existing = spdlog::get(key)) return existing;
  auto logger = std::make_shared<spdlog::logger>(key, SharedSink());
  logger->set_level(static_cast<spdlog::level::level_enum>(CurrentLevel().load()));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  spdlog::register_logger(logger);
  return logger;
}

absl::Status SetLogLevel(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log level '", std::string(level), "' (trace, debug, info, warn, error, critical, off)"));
  }
  std::lock_guard<std::mutex> lock(LoggersMutex());
  CurrentLevel() = parsed;
  spdlog::apply_all([parsed](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
  return absl::OkStatus();
}

bool RateLimiter::Allow(int64_t now_ms, int64_t* suppressed) {
  int64_t next = next_allowed_ms_.load(std::memory_order_relaxed);
  if (now_ms >= next &&
      next_allowed_ms_.compare_exchange_strong(next, now_ms + interval_ms_)) {
    *suppressed = suppressed_.exchange(0);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace runnel
