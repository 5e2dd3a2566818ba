#include "dashboard.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "runnel/common/logging.h"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"
#include "runnel/kafka/admin.h"
#include "topology.h"

#ifndef RUNNEL_DASHBOARD_WEB_DIR
#define RUNNEL_DASHBOARD_WEB_DIR "web"
#endif

namespace runnel_apps::dashboard {
namespace {

using runnel::ConfigKey;
using runnel::ConfigType;
using runnel::ToAbsl;
namespace http = runnel::http;
namespace json = boost::json;

ConfigKey Int(std::string name, int64_t def, double min, double max, std::string doc) {
  return ConfigKey{.name = std::move(name), .type = ConfigType::kInt, .default_value = absl::StrCat(def),
                   .allowed = {}, .min = min, .max = max, .doc = std::move(doc)};
}

ConfigKey String(std::string name, std::string def, std::string doc) {
  return ConfigKey{.name = std::move(name), .type = ConfigType::kString, .default_value = std::move(def),
                   .doc = std::move(doc)};
}

// Streams keys the dashboard sets unless the user does.
const std::map<std::string, std::string>& StreamsDefaults() {
  static const auto* d = new std::map<std::string, std::string>{
      {"application.id", "sensor-dashboard"},
      {"bootstrap.servers", "localhost:9092"},
      {"processing.guarantee", "exactly_once_v2"},
      {"application.server", "127.0.0.1:7050"},
      // A record that is not a reading is skipped (and counted), not fatal.
      {"default.deserialization.exception.handler", "log_and_continue"},
  };
  return *d;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("config key '", ToAbsl(key), "': cannot read '", path, "'"));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct StaticFile {
  const char* route;
  const char* key;  // the config key its path comes from
  const char* name;  // within web.dir; empty: the key is the file itself
  const char* content_type;
};
constexpr StaticFile kStaticFiles[] = {
    {"/", "web.dir", "index.html", "text/html; charset=utf-8"},
    {"/static/dashboard.js", "web.dir", "dashboard.js", "text/javascript; charset=utf-8"},
    {"/static/dashboard.css", "web.dir", "dashboard.css", "text/css; charset=utf-8"},
    {"/static/chart.min.js", "chartjs.path", "", "text/javascript; charset=utf-8"},
};

std::string StaticPath(const runnel::Config& own, const StaticFile& f) {
  const std::string& base = own.GetString(f.key);
  return *f.name == '\0' ? base : absl::StrCat(base, "/", f.name);
}

// The input must exist (the gateway creates it); the output topic is
// created like the input (same partition count) when missing.
absl::Status EnsureOutputTopic(const runnel::StreamsConfig& streams, const std::string& input,
                               const std::string& output) {
  auto admin = runnel::kafka::Admin::Create(streams.AdminConfig());
  if (!admin.ok()) return admin.status();
  auto in = (*admin)->DescribeTopic(input, absl::Seconds(30));
  if (absl::IsNotFound(in.status())) {
    return absl::NotFoundError(absl::StrCat("input topic '", input,
                                            "' does not exist (config key 'input.topic'; the gateway creates it)"));
  }
  if (!in.ok()) return in.status();
  auto out = (*admin)->DescribeTopic(output, absl::Seconds(30));
  if (out.ok()) return absl::OkStatus();
  if (!absl::IsNotFound(out.status())) return out.status();
  absl::Status created = (*admin)->CreateTopics({{.name = output, .partitions = in->partitions}}, absl::Seconds(30));
  if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
  runnel::Logger("sensor-dashboard")->info("created output topic '{}' ({} partitions)", output, in->partitions);
  return absl::OkStatus();
}

}  // namespace

const runnel::ConfigDef& DashboardConfigDef() {
  static const runnel::ConfigDef* def = [] {
    auto* d = new runnel::ConfigDef();
    d->Define(String("input.topic", "sensor_data", "the gateway's topic of readings"))
        .Define(String("output.topic", "sensor_stats", "where every closed window's statistics go (emit-final)"))
        .Define(String("http.address", "0.0.0.0", "address the HTTP server binds"))
        .Define(Int("http.port", 8050, 0, 65535, "HTTP port of the page and the API (Dash's default); 0 = any"))
        .Define(Int("http.threads", 2, 1, 64, "I/O threads of the HTTP server"))
        .Define(Int("api.threads", 4, 1, 64, "worker threads answering API requests (they wait on queries)"))
        .Define(Int("api.timeout.ms", 5000, 100, 600'000,
                    "a query not answered within this (rebalance, restore) is answered 503"))
        .Define(String("web.dir", RUNNEL_DASHBOARD_WEB_DIR, "directory of index.html, dashboard.js, dashboard.css"))
        .Define(String("chartjs.path", "/usr/share/javascript/chart.js/chart.min.js",
                       "Chart.js (Debian's libjs-chart.js), served as /static/chart.min.js"))
        .Define(Int("stream.interval.ms", 1000, 100, 60'000, "how often /api/stream sends the table and throughput"))
        .Define(Int("windows.grace.ms", 10'000, 0, 3'600'000, "how late a reading may be and still count in its window"))
        .Define(Int("windows.retention.ms", 2 * 3'600'000, 3'600'000, 30LL * 24 * 3'600'000,
                    "how long windows stay queryable (at least 1 h)"))
        .Define(Int("windows.idle.advance.ms", 0, 0, 3'600'000,
                    "> 0: after this long without readings, stream time follows the wall clock so the last "
                    "windows close and are emitted"));
    runnel::DefineTlsKeys(*d, "http.tls.", "the HTTP server");
    return d;
  }();
  return *def;
}

absl::StatusOr<DashboardConfig> ParseDashboardConfig(const std::map<std::string, std::string>& values) {
  std::map<std::string, std::string> own_values;
  std::map<std::string, std::string> streams_values = StreamsDefaults();
  for (const auto& [key, value] : values) {
    (DashboardConfigDef().Find(key) != nullptr ? own_values : streams_values)[key] = value;
  }
  auto own = runnel::Config::Parse(DashboardConfigDef(), own_values);
  if (!own.ok()) return own.status();
  if (streams_values["application.server"].empty()) {
    return absl::InvalidArgumentError(
        "config key 'application.server' must be set (host:port): the API reads the stores through the "
        "interactive-query service");
  }
  auto streams = runnel::StreamsConfig::Create(streams_values);
  if (!streams.ok()) return streams.status();
  for (const StaticFile& f : kStaticFiles) {
    if (auto content = ReadFile(StaticPath(*own, f), f.key); !content.ok()) return content.status();
  }
  return DashboardConfig{*std::move(own), *std::move(streams)};
}

Dashboard::Dashboard(const DashboardConfig& config, const runnel::Clock& clock)
    : clock_(clock), interval_(absl::Milliseconds(config.own.GetInt("stream.interval.ms"))) {}

absl::StatusOr<std::unique_ptr<Dashboard>> Dashboard::Start(const DashboardConfig& config,
                                                            const runnel::Clock& clock) {
  std::unique_ptr<Dashboard> d(new Dashboard(config, clock));
  if (absl::Status s = d->StartServing(config); !s.ok()) {
    (void)d->Shutdown();
    return s;
  }
  return d;
}

absl::Status Dashboard::StartServing(const DashboardConfig& config) {
  const runnel::Config& own = config.own;
  TopologyOptions options{.input = own.GetString("input.topic"),
                          .output = own.GetString("output.topic"),
                          .grace_ms = own.GetInt("windows.grace.ms"),
                          .retention_ms = own.GetInt("windows.retention.ms"),
                          .idle_advance_ms = own.GetInt("windows.idle.advance.ms")};
  RUNNEL_RETURN_IF_ERROR(EnsureOutputTopic(config.streams, options.input, options.output));
  auto topology = BuildDashboardTopology(options);
  if (!topology.ok()) return topology.status();
  runnel::Logger("sensor-dashboard")->info("topology:\n{}", (*topology)->Describe());
  auto streams = runnel::KafkaStreams::Create(*topology, config.streams, clock_);
  if (!streams.ok()) return streams.status();
  streams_ = *std::move(streams);
  RUNNEL_RETURN_IF_ERROR(streams_->Start());
  auto query_server = runnel::query::QueryServer::Start(*streams_);
  if (!query_server.ok()) return query_server.status();
  query_server_ = *std::move(query_server);
  auto client = runnel::query::Client::Connect(
      query_server_->endpoint(), {.timeout = absl::Milliseconds(own.GetInt("api.timeout.ms"))});
  if (!client.ok()) return client.status();
  query_client_ = *std::move(client);
  api_ = std::make_unique<DashboardApi>(*query_client_, clock_, [this] { return pipeline(); });
  pipeline_ = {.instance = query_server_->endpoint(), .state = "CREATED"};

  for (int i = 0; i < own.GetInt("api.threads"); ++i) workers_.emplace_back([this] { RunWorker(); });
  sampler_ = std::thread([this] { RunSampler(); });

  http::Router router;
  for (const StaticFile& f : kStaticFiles) {
    auto content = ReadFile(StaticPath(own, f), f.key);
    if (!content.ok()) return content.status();
    http::Response response;
    response.content_type = f.content_type;
    response.body = *std::move(content);
    response.WithHeader("Cache-Control", "no-cache");
    router.Get(f.route, http::Sync([response](const http::Request&) { return response; }));
  }
  // Each API route runs its (blocking) query on a worker.
  auto route = [&](std::string_view pattern, auto call) {
    router.Get(pattern, [this, call](http::Request request, http::Responder responder) {
      Submit([this, call, request = std::move(request), responder = std::move(responder)]() mutable {
        std::move(responder).Respond(call(*api_, request));
      });
    });
  };
  route("/api/sensors", [](DashboardApi& api, const http::Request&) { return api.Sensors(); });
  route("/api/sensors/{id}", [](DashboardApi& api, const http::Request& r) { return api.Sensor(r.PathParam("id")); });
  route("/api/sensors/{id}/windows",
        [](DashboardApi& api, const http::Request& r) { return api.Windows(r.PathParam("id"), r); });
  route("/api/top", [](DashboardApi& api, const http::Request& r) { return api.Top(r); });
  route("/api/locations/{loc}",
        [](DashboardApi& api, const http::Request& r) { return api.Location(r.PathParam("loc")); });
  router.Get("/api/pipeline",
             http::Sync([this](const http::Request&) { return http::JsonResponse(200, PipelineJson(pipeline())); }));
  router.Get("/api/stream", [this](http::Request, http::Responder responder) {
    live_.Add(std::move(responder).StartEventStream());
    cv_.notify_all();  // the first event comes at once
  });
  router.Get("/healthz", http::Sync([](const http::Request&) { return http::JsonResponse(200, {{"status", "up"}}); }));

  auto server = http::Server::Start({.address = own.GetString("http.address"),
                                     .port = static_cast<uint16_t>(own.GetInt("http.port")),
                                     .threads = static_cast<int>(own.GetInt("http.threads")),
                                     .server_name = "runnel-sensor-dashboard",
                                     .tls = runnel::TlsSettingsFromConfig(own, "http.tls."),
                                     .clock = &clock_},
                                    std::move(router));
  if (!server.ok()) return server.status();
  http_ = *std::move(server);
  return absl::OkStatus();
}

Dashboard::~Dashboard() { (void)Shutdown(); }

PipelineStats Dashboard::pipeline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pipeline_;
}

void Dashboard::Submit(absl::AnyInvocable<void() &&> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void Dashboard::RunWorker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::move(job)();
    lock.lock();
  }
}

void Dashboard::RunSampler() {
  int64_t last_processed = streams_->processed();
  absl::Time last_time = clock_.Now();
  size_t last_clients = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // Wakes every interval, or early when a new page subscribed.
    cv_.wait_for(lock, absl::ToChronoNanoseconds(interval_),
                 [&] { return stopping_ || live_.size() > last_clients; });
    if (stopping_) break;
    lock.unlock();
    const int64_t processed = streams_->processed();
    const absl::Time now = clock_.Now();
    const double seconds = absl::ToDoubleSeconds(now - last_time);
    PipelineStats stats;
    stats.instance = query_server_->endpoint();
    stats.state = std::string(runnel::KafkaStreams::StateName(streams_->state()));
    stats.records_processed_total = processed;
    if (seconds >= 0.05) {
      stats.records_per_second = static_cast<double>(processed - last_processed) / seconds;
      last_processed = processed;
      last_time = now;
    } else {
      stats.records_per_second = pipeline().records_per_second;
    }
    lock.lock();
    pipeline_ = stats;
    lock.unlock();
    if (live_.size() > 0) {
      json::object event;
      event["time_ms"] = absl::ToUnixMillis(now);
      event["pipeline"] = PipelineJson(stats);
      auto sensors = api_->AllSensors();
      if (sensors.ok()) {
        json::array a;
        for (const SensorStats& s : *sensors) a.push_back(SensorStatsJson(s));
        event["sensors"] = std::move(a);
      } else {
        event["error"] = std::string(sensors.status().message());
      }
      last_clients = live_.Publish({.event = "stats", .data = http::SerializeJson(event)});
    } else {
      last_clients = 0;
    }
    lock.lock();
  }
}

absl::Status Dashboard::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  if (http_ != nullptr) (void)http_->Shutdown(absl::Seconds(5));
  live_.CloseAll();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  if (sampler_.joinable()) sampler_.join();
  if (query_server_ != nullptr) query_server_->Shutdown();
  absl::Status status;
  if (streams_ != nullptr) status = streams_->Close(absl::Seconds(60));
  return status;
}

}  // namespace runnel_apps::dashboard
