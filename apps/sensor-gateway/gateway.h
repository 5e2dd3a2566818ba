#ifndef RUNNEL_APPS_SENSOR_GATEWAY_GATEWAY_H_
#define RUNNEL_APPS_SENSOR_GATEWAY_GATEWAY_H_

// The sensor ingest gateway: HTTP in, Kafka out, 202 only for what is
// durable. See README.md for the HTTP API and every config key.
//
//   POST /sensor    one reading (JSON object)           -> 202 / 400 / 413 / 415 / 503
//   POST /sensors   an array of readings, all or none   -> 202 / 400 / 413 / 415 / 503
//   GET  /healthz   the process is up                   -> 200
//   GET  /readyz    a broker answers and the topic exists -> 200 / 503
//   GET  /metrics   counters, Prometheus text
//
// Ownership: main() (or a test) owns the Gateway; the Gateway owns its HTTP
// server, its IngestPipeline (producers) and its readiness thread.
// Thread-safety: port(), metrics() and Shutdown() from any thread but the
// gateway's own. Lifecycle: Start -> serving -> Shutdown (HTTP first, so
// requests in flight still get their Kafka answer; then the producers).

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "ingest.h"
#include "runnel/common/clock.h"
#include "runnel/common/config.h"
#include "runnel/common/metrics.h"
#include "runnel/http/server.h"

namespace runnel_apps::gateway {

// Every key the gateway accepts (unknown keys are errors), with the
// "producer." and "topic.config." pass-through prefixes.
const runnel::ConfigDef& GatewayConfigDef();

// Layers and validates: bad keys and values are InvalidArgument naming them
// (also reserved producer.* keys the gateway's guarantee depends on).
absl::StatusOr<runnel::Config> ParseGatewayConfig(const std::map<std::string, std::string>& values);

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(const runnel::Config& config,
                                                        const runnel::Clock& clock = runnel::Clock::System());
  ~Gateway();

  uint16_t port() const { return server_->port(); }
  const std::string& topic() const { return topic_; }
  bool ready() const { return ready_.load(); }
  runnel::MetricsRegistry& metrics() { return metrics_; }
  // Requests answered 202 and the readings they carried.
  int64_t accepted_requests() const { return accepted_requests_->value(); }
  int64_t accepted_readings() const { return accepted_readings_->value(); }

  // Stops accepting, finishes requests in flight (up to shutdown.grace.ms),
  // then stops the producers. Idempotent.
  absl::Status Shutdown();

 private:
  explicit Gateway(const runnel::Config& config, const runnel::Clock& clock);
  void Ingest(runnel::http::Request request, runnel::http::Responder responder, bool batch);
  void CheckReadiness();
  void RunReadinessLoop();
  runnel::http::Response Unavailable(std::string_view why) const;

  const runnel::Clock& clock_;
  const std::string topic_;
  const bool create_topic_;
  const int32_t topic_partitions_;
  const int16_t topic_replication_;
  const std::map<std::string, std::string> topic_configs_;
  const runnel::kafka::ClientConfig admin_config_;
  const absl::Duration delivery_timeout_;
  const int64_t retry_after_seconds_;
  const size_t max_readings_;
  const absl::Duration readiness_interval_;
  const absl::Duration shutdown_grace_;

  runnel::MetricsRegistry metrics_;
  runnel::Counter* accepted_requests_;
  runnel::Counter* accepted_readings_;
  runnel::Counter* refused_400_;
  runnel::Counter* refused_415_;
  runnel::Counter* refused_503_;
  std::atomic<bool> ready_{false};
  std::mutex readiness_mu_;
  std::string not_ready_reason_ = "not checked yet";
  int failed_checks_ = 0;  // consecutive, while ready (readiness thread only)
  std::condition_variable readiness_cv_;
  bool stopping_ = false;
  std::thread readiness_thread_;

  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<runnel::http::Server> server_;
  // For /metrics, which may be asked before Start has stored server_, and
  // for the pipeline's posts of delivery reports to the I/O threads. Set
  // once the server runs; the server outlives the pipeline's producers.
  std::atomic<runnel::http::Server*> live_server_{nullptr};
  bool shut_down_ = false;
};

}  // namespace runnel_apps::gateway

#endif  // RUNNEL_APPS_SENSOR_GATEWAY_GATEWAY_H_
