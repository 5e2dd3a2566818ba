#include "runnel/kafka/logging.h"

#include <librdkafka/rdkafka.h>

#include "runnel/common/logging.h"

namespace runnel::kafka {
namespace {

// Called from librdkafka's threads; spdlog loggers are thread-safe.
void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  static auto* logger = new std::shared_ptr<spdlog::logger>(Logger("rdkafka"));
  spdlog::level::level_enum lvl;
  if (level <= 3) {
    lvl = spdlog::level::err;
  } else if (level == 4) {
    lvl = spdlog::level::warn;
  } else if (level <= 6) {
    lvl = spdlog::level::info;
  } else {
    lvl = spdlog::level::debug;
  }
  (*logger)->log(lvl, "{} {}: {}", rk ? rd_kafka_name(rk) : "-", facility, message);
}

}  // namespace

void InstallLogCallback(rd_kafka_conf_s* conf) { rd_kafka_conf_set_log_cb(conf, LogCallback); }

}  // namespace runnel::kafka
