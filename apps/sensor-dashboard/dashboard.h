#ifndef RUNNEL_APPS_SENSOR_DASHBOARD_DASHBOARD_H_
#define RUNNEL_APPS_SENSOR_DASHBOARD_DASHBOARD_H_

// The sensor dashboard: the statistics topology (topology.h) running in a
// KafkaStreams instance, its interactive-query server, and an HTTP server
// with the REST API (api.h), the live page and its event stream:
//
//   GET /                      the page (web.dir/index.html)
//   GET /static/<file>         web.dir's dashboard.js, dashboard.css; chart.min.js = chartjs.path
//   GET /api/...               api.h
//   GET /api/stream            server-sent events: every stream.interval.ms an event
//                              "stats" {"time_ms","pipeline":{...},"sensors":[...]}
//
// Configuration: the dashboard's own keys (DashboardConfigDef: http.*,
// input.topic, ...) and every other key for the streams instance
// (StreamsConfig: application.id, bootstrap.servers, ...), with the
// dashboard's defaults for application.id, processing.guarantee
// (exactly_once_v2) and application.server. README.md lists them.
//
// Ownership: main() (or a test) owns the Dashboard; it owns the streams, the
// query server and client, the HTTP server, the API worker threads and the
// sampler thread. Thread-safety: port(), streams(), pipeline() and Shutdown()
// from any thread but the dashboard's own. Lifecycle: Start (streams
// started, servers listening) -> serving -> Shutdown (HTTP, workers,
// sampler, query server, then the streams; idempotent; the destructor calls it).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "api.h"
#include "runnel/common/clock.h"
#include "runnel/common/config.h"
#include "runnel/http/event_stream.h"
#include "runnel/http/server.h"
#include "runnel/query/client.h"
#include "runnel/query/query_server.h"
#include "runnel/runnel.h"

namespace runnel_apps::dashboard {

// The dashboard's own keys (the rest go to the streams instance).
const runnel::ConfigDef& DashboardConfigDef();

struct DashboardConfig {
  runnel::Config own;
  runnel::StreamsConfig streams;
};

// Splits and validates `values`: unknown keys, bad values, a web.dir or
// chartjs.path that cannot be read, an empty application.server are
// InvalidArgument naming the key.
absl::StatusOr<DashboardConfig> ParseDashboardConfig(const std::map<std::string, std::string>& values);

class Dashboard {
 public:
  static absl::StatusOr<std::unique_ptr<Dashboard>> Start(const DashboardConfig& config,
                                                          const runnel::Clock& clock = runnel::Clock::System());
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  uint16_t port() const { return http_->port(); }
  runnel::KafkaStreams& streams() { return *streams_; }
  PipelineStats pipeline() const;
  // Stops everything (see the class comment). Returns the streams' error,
  // if it failed while running. Idempotent.
  absl::Status Shutdown();

 private:
  Dashboard(const DashboardConfig& config, const runnel::Clock& clock);
  absl::Status StartServing(const DashboardConfig& config);
  // Runs `job` on a worker thread (jobs block on queries).
  void Submit(absl::AnyInvocable<void() &&> job);
  void RunWorker();
  // Every stream.interval.ms: samples the throughput and publishes an event.
  void RunSampler();

  const runnel::Clock& clock_;
  const absl::Duration interval_;
  std::unique_ptr<runnel::KafkaStreams> streams_;
  std::unique_ptr<runnel::query::QueryServer> query_server_;
  std::unique_ptr<runnel::query::Client> query_client_;
  std::unique_ptr<DashboardApi> api_;
  runnel::http::EventBroadcaster live_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<absl::AnyInvocable<void() &&>> jobs_;
  PipelineStats pipeline_;  // guarded by mu_
  std::vector<std::thread> workers_;
  std::thread sampler_;

  std::unique_ptr<runnel::http::Server> http_;
  bool shut_down_ = false;
};

}  // namespace runnel_apps::dashboard

#endif  // RUNNEL_APPS_SENSOR_DASHBOARD_DASHBOARD_H_
