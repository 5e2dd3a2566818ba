#include "gateway.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "reading.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/client_config.h"

namespace runnel_apps::gateway {
namespace {

using runnel::ConfigKey;
using runnel::ConfigType;
using runnel::ToAbsl;
namespace http = runnel::http;

// librdkafka settings the gateway's promise (202 = durable) rests on.
struct ReservedKey {
  const char* key;
  const char* why;
};
constexpr ReservedKey kReservedKeys[] = {
    {"producer.enable.idempotence",
     "the gateway's producers are idempotent, so retries inside librdkafka neither duplicate nor reorder "
     "readings"},
    {"producer.acks", "202 means every replica in sync has the reading: acks=all"},
    {"producer.request.required.acks", "202 means every replica in sync has the reading: acks=all"},
    {"producer.transactional.id", "the gateway does not use transactions"},
    {"producer.bootstrap.servers", "set 'bootstrap.servers' (it is used by the producers and the admin client)"},
};

ConfigKey Int(std::string name, int64_t def, double min, double max, std::string doc) {
  return ConfigKey{.name = std::move(name),
                   .type = ConfigType::kInt,
                   .default_value = absl::StrCat(def),
                   .allowed = {},
                   .min = min,
                   .max = max,
                   .doc = std::move(doc)};
}

ConfigKey String(std::string name, std::string def, std::string doc) {
  return ConfigKey{.name = std::move(name), .type = ConfigType::kString, .default_value = std::move(def),
                   .doc = std::move(doc)};
}

http::Response JsonBody(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

}  // namespace

const runnel::ConfigDef& GatewayConfigDef() {
  static const runnel::ConfigDef* def = [] {
    auto* d = new runnel::ConfigDef();
    d->Define(String("bootstrap.servers", "localhost:9092", "Kafka brokers, host:port,... (the seed's KAFKA_BROKER)"))
        .Define(String("topic", "sensor_data", "the topic readings go to (the seed's TOPIC_NAME)"))
        .Define(String("listen.address", "0.0.0.0", "address the HTTP server binds"))
        .Define(Int("listen.port", 5000, 0, 65535, "HTTP port (the seed's API_PORT); 0 = any free port"))
        .Define(Int("http.threads", 2, 1, 64, "I/O threads of the HTTP server"))
        .Define(Int("http.max.body.bytes", 1 << 20, 1, 1 << 30, "larger request bodies are answered 413"))
        .Define(Int("batch.max.readings", 1000, 1, 1'000'000, "readings one POST /sensors may carry (more: 400)"))
        .Define(Int("delivery.timeout.ms", 5000, 100, 600'000,
                    "a request's readings must be acknowledged by Kafka within this, else 503 (also the "
                    "producers' message.timeout.ms unless producer.message.timeout.ms is set)"))
        .Define(Int("retry.after.seconds", 1, 0, 3600, "the Retry-After of a 503"))
        .Define(Int("producers", 1, 1, 16, "Kafka producers; requests are spread over them in turn (see README)"))
        .Define(ConfigKey{.name = "deliveries.on.io.threads",
                          .type = ConfigType::kBool,
                          .default_value = "true",
                          .doc = "serve Kafka's delivery reports (and answer their requests) on the HTTP I/O "
                                 "threads; false: on a thread of each producer, one more thread hop per request"})
        .Define(Int("max.queued.requests", 10'000, 1, 10'000'000,
                    "requests waiting for Kafka's acknowledgement beyond this are answered 503 at once"))
        .Define(ConfigKey{.name = "topic.create",
                          .type = ConfigType::kBool,
                          .default_value = "true",
                          .doc = "create the topic at start-up if it is missing (the seed's Kafka auto-creates "
                                 "topics); false: /readyz and POSTs answer 503 until it exists"})
        .Define(Int("topic.partitions", 4, 1, 100'000, "partitions of a topic the gateway creates"))
        .Define(Int("topic.replication.factor", -1, -1, 32767,
                    "replication factor of a topic the gateway creates (-1: the broker's default)"))
        .Define(Int("readiness.interval.ms", 1000, 50, 600'000, "how often /readyz's state is refreshed"))
        .Define(Int("shutdown.grace.ms", 10'000, 0, 600'000,
                    "on SIGTERM, how long requests in flight may take to get their answer"));
    runnel::kafka::DefineConnectionKeys(
        *d, "how the gateway's Kafka clients connect, with the ssl.* and sasl.* keys (docs/security.md)")
        .PassThroughPrefix("producer.")
        .PassThroughPrefix("topic.config.");
    runnel::DefineTlsKeys(*d, "http.tls.", "the HTTP server");
    return d;
  }();
  return *def;
}

namespace {

// Every Kafka client of the gateway (its admin and its producers): the
// connection (bootstrap.servers, security.protocol, ssl.*, sasl.*), then the
// producer.* settings.
runnel::kafka::ClientConfig GatewayClientConfig(const runnel::Config& config) {
  return runnel::kafka::ClientConfigFor(runnel::kafka::ConnectionFromConfig(config), config.WithPrefix("producer."));
}

}  // namespace

absl::StatusOr<runnel::Config> ParseGatewayConfig(const std::map<std::string, std::string>& values) {
  for (const ReservedKey& reserved : kReservedKeys) {
    if (values.count(reserved.key) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config key '", reserved.key, "' cannot be set: ", reserved.why));
    }
  }
  return runnel::Config::Parse(GatewayConfigDef(), values);
}

Gateway::Gateway(const runnel::Config& config, const runnel::Clock& clock)
    : clock_(clock),
      topic_(config.GetString("topic")),
      create_topic_(config.GetBool("topic.create")),
      topic_partitions_(static_cast<int32_t>(config.GetInt("topic.partitions"))),
      topic_replication_(static_cast<int16_t>(config.GetInt("topic.replication.factor"))),
      topic_configs_(config.WithPrefix("topic.config.")),
      admin_config_(GatewayClientConfig(config)),
      delivery_timeout_(absl::Milliseconds(config.GetInt("delivery.timeout.ms"))),
      retry_after_seconds_(config.GetInt("retry.after.seconds")),
      max_readings_(static_cast<size_t>(config.GetInt("batch.max.readings"))),
      readiness_interval_(absl::Milliseconds(config.GetInt("readiness.interval.ms"))),
      shutdown_grace_(absl::Milliseconds(config.GetInt("shutdown.grace.ms"))) {
  accepted_requests_ = metrics_.GetCounter("sensor_gateway_requests_accepted_total");
  accepted_readings_ = metrics_.GetCounter("sensor_gateway_readings_accepted_total");
  refused_400_ = metrics_.GetCounter("sensor_gateway_requests_refused_total", {{"code", "400"}});
  refused_415_ = metrics_.GetCounter("sensor_gateway_requests_refused_total", {{"code", "415"}});
  refused_503_ = metrics_.GetCounter("sensor_gateway_requests_refused_total", {{"code", "503"}});
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(const runnel::Config& config, const runnel::Clock& clock) {
  if (config.GetString("topic").empty()) return absl::InvalidArgumentError("config key 'topic': must not be empty");
  // http.tls.*, checked before anything starts: these errors name their own
  // key (the server's other start-up errors are about the listen address).
  const runnel::TlsSettings tls = runnel::TlsSettingsFromConfig(config, "http.tls.");
  if (absl::Status s = runnel::CheckServerTls(tls); !s.ok()) return s;
  if (absl::Status s = runnel::ReadTlsFiles(tls).status(); !s.ok()) return s;
  std::unique_ptr<Gateway> gateway(new Gateway(config, clock));

  IngestOptions ingest;
  ingest.topic = gateway->topic_;
  ingest.producers = static_cast<int>(config.GetInt("producers"));
  ingest.max_queued_requests = static_cast<size_t>(config.GetInt("max.queued.requests"));
  ingest.producer_config = GatewayClientConfig(config);
  // The gateway waits for each request's acks: send at once (librdkafka
  // still batches the records waiting when a produce request goes out). Records are given up by librdkafka about when their request is
  // answered 503, so few are stored after the client was told they were not.
  ingest.producer_config.try_emplace("linger.ms", "0");
  // Back within a second of the broker's return (librdkafka's default
  // backs off up to 10 s between reconnects).
  ingest.producer_config.try_emplace("reconnect.backoff.max.ms", "1000");
  if (!ingest.producer_config.count("message.timeout.ms") && !ingest.producer_config.count("delivery.timeout.ms")) {
    ingest.producer_config["message.timeout.ms"] = absl::StrCat(config.GetInt("delivery.timeout.ms"));
  }
  if (config.GetBool("deliveries.on.io.threads")) {
    // Until the server runs (and after it stopped) the pipeline's watchdog
    // serves the reports instead.
    Gateway* g = gateway.get();
    ingest.post = [g](absl::AnyInvocable<void()> fn) {
      http::Server* server = g->live_server_.load();
      return server != nullptr && server->Post(std::move(fn));
    };
  }
  auto pipeline = IngestPipeline::Create(std::move(ingest), clock);
  if (!pipeline.ok()) return pipeline.status();
  gateway->pipeline_ = *std::move(pipeline);

  // The first readiness check (and topic creation) before serving.
  gateway->CheckReadiness();

  Gateway* g = gateway.get();
  http::Router router;
  router.Post("/sensor", [g](http::Request r, http::Responder w) { g->Ingest(std::move(r), std::move(w), false); });
  router.Post("/sensors", [g](http::Request r, http::Responder w) { g->Ingest(std::move(r), std::move(w), true); });
  router.Get("/healthz", http::Sync([](const http::Request&) {
               return JsonBody(200, "{\"status\":\"up\"}");
             }));
  router.Get("/readyz", http::Sync([g](const http::Request&) {
               if (g->ready_.load()) {
                 std::string body = "{\"status\":\"ready\",\"topic\":";
                 http::AppendJsonString(g->topic_, body);
                 body += "}";
                 return JsonBody(200, std::move(body));
               }
               std::string reason;
               {
                 std::lock_guard<std::mutex> lock(g->readiness_mu_);
                 reason = g->not_ready_reason_;
               }
               std::string body = "{\"status\":\"not ready\",\"reason\":";
               http::AppendJsonString(reason, body);
               body += "}";
               return JsonBody(503, std::move(body)).WithHeader("Retry-After", absl::StrCat(g->retry_after_seconds_));
             }));
  router.Get("/metrics", http::Sync([g](const http::Request&) {
               // The HTTP server's own counters (413/431/400 it answers itself).
               http::Server* server = g->live_server_.load();
               const http::ServerStats http = server != nullptr ? server->stats() : http::ServerStats{};
               g->metrics_.GetGauge("runnel_http_connections_open")->Set(http.connections_open);
               g->metrics_.GetGauge("runnel_http_requests_in_flight")->Set(http.requests_in_flight);
               g->metrics_.GetGauge("runnel_http_requests")->Set(http.requests);
               g->metrics_.GetGauge("runnel_http_requests_rejected")->Set(http.requests_rejected);
               const IngestPipeline::Stats ingest = g->pipeline_->stats();
               g->metrics_.GetGauge("sensor_gateway_requests_answered")->Set(ingest.requests);
               g->metrics_.GetGauge("sensor_gateway_requests_failed")->Set(ingest.requests_failed);
               g->metrics_.GetGauge("sensor_gateway_records_sent")->Set(ingest.records_sent);
               g->metrics_.GetGauge("sensor_gateway_delivery_failures")->Set(ingest.delivery_failures);
               http::Response r = http::Response::Text(200, g->metrics_.ToPrometheusText());
               r.content_type = "text/plain; version=0.0.4";
               return r;
             }));

  http::ServerOptions options;
  options.address = config.GetString("listen.address");
  options.port = static_cast<uint16_t>(config.GetInt("listen.port"));
  options.threads = static_cast<int>(config.GetInt("http.threads"));
  options.max_body_bytes = static_cast<size_t>(config.GetInt("http.max.body.bytes"));
  options.clock = &clock;
  options.server_name = "runnel-sensor-gateway";
  options.tls = runnel::TlsSettingsFromConfig(config, "http.tls.");
  auto server = http::Server::Start(options, std::move(router));
  if (!server.ok()) {
    return runnel::Annotate(server.status(), absl::StrCat("config key 'listen.port'/'listen.address'"));
  }
  gateway->server_ = *std::move(server);
  gateway->live_server_.store(gateway->server_.get());
  gateway->readiness_thread_ = std::thread([g] { g->RunReadinessLoop(); });
  return gateway;
}

Gateway::~Gateway() {
  absl::Status s = Shutdown();
  if (!s.ok()) runnel::Logger("sensor-gateway")->warn("shutdown: {}", std::string(s.message()));
}

absl::Status Gateway::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  absl::Status result;
  // HTTP first: requests in flight still get their answer from Kafka.
  if (server_ != nullptr) result = server_->Shutdown(shutdown_grace_);
  {
    std::lock_guard<std::mutex> lock(readiness_mu_);
    stopping_ = true;
  }
  readiness_cv_.notify_all();
  if (readiness_thread_.joinable()) readiness_thread_.join();
  if (pipeline_ != nullptr) pipeline_->Stop();
  return result;
}

http::Response Gateway::Unavailable(std::string_view why) const {
  std::string body = "{\"error\":";
  http::AppendJsonString(why, body);
  absl::StrAppend(&body, ",\"retry_after_seconds\":", retry_after_seconds_, "}");
  return JsonBody(503, std::move(body)).WithHeader("Retry-After", absl::StrCat(retry_after_seconds_));
}

void Gateway::Ingest(http::Request request, http::Responder responder, bool batch) {
  const std::string content_type = request.ContentType();
  if (content_type != "application/json") {
    refused_415_->Increment();
    std::string body = "{\"error\":";
    http::AppendJsonString(content_type.empty() ? std::string("Content-Type must be application/json (none given)")
                                                : absl::StrCat("Content-Type must be application/json, not '",
                                                               content_type, "'"),
                           body);
    body += ",\"field\":\"Content-Type\"}";
    std::move(responder).Respond(JsonBody(415, std::move(body)));
    return;
  }
  ReadingError error;
  std::vector<ReadingRecord> records;
  if (batch) {
    auto parsed = ParseReadings(request.body(), max_readings_, error);
    if (parsed) records = *std::move(parsed);
  } else {
    auto parsed = ParseReading(request.body(), error);
    if (parsed) records.push_back(*std::move(parsed));
  }
  if (records.empty()) {
    refused_400_->Increment();
    std::move(responder).Respond(JsonBody(400, error.ToJson()));
    return;
  }
  if (!ready_.load(std::memory_order_relaxed)) {
    refused_503_->Increment();
    std::string reason;
    {
      std::lock_guard<std::mutex> lock(readiness_mu_);
      reason = not_ready_reason_;
    }
    std::move(responder).Respond(Unavailable(absl::StrCat("not ready: ", reason)));
    return;
  }
  const size_t count = records.size();
  pipeline_->Submit(std::move(records), clock_.Now() + delivery_timeout_,
                    [this, count, responder = std::move(responder)](absl::Status s) mutable {
                      if (s.ok()) {
                        accepted_requests_->Increment();
                        accepted_readings_->Increment(static_cast<int64_t>(count));
                        std::move(responder).Respond(
                            JsonBody(202, absl::StrCat("{\"status\":\"accepted\",\"count\":", count, "}")));
                      } else {
                        refused_503_->Increment();
                        std::move(responder).Respond(Unavailable(std::string(s.message())));
                      }
                    });
}

void Gateway::CheckReadiness() {
  absl::StatusOr<int32_t> partitions = pipeline_->PartitionCount(absl::Seconds(5));
  if (absl::IsNotFound(partitions.status()) && create_topic_) {
    auto admin = runnel::kafka::Admin::Create(admin_config_);
    absl::Status created = admin.ok() ? (*admin)->CreateTopics({{.name = topic_,
                                                                 .partitions = topic_partitions_,
                                                                 .replication_factor = topic_replication_,
                                                                 .configs = topic_configs_}},
                                                               absl::Seconds(10))
                                      : admin.status();
    if (created.ok()) {
      runnel::Logger("sensor-gateway")->info("created topic '{}' ({} partitions)", topic_, topic_partitions_);
    } else {
      runnel::Logger("sensor-gateway")
          ->warn("could not create topic '{}': {}", topic_, std::string(created.message()));
    }
    // A new topic reaches the brokers' metadata a moment after CreateTopics
    // returns: ask again for a few seconds before calling it missing.
    partitions = pipeline_->PartitionCount(absl::Seconds(5));
    for (int attempt = 0; created.ok() && absl::IsNotFound(partitions.status()) && attempt < 20; ++attempt) {
      absl::SleepFor(absl::Milliseconds(250));
      partitions = pipeline_->PartitionCount(absl::Seconds(5));
    }
  }
  std::string reason;
  if (partitions.ok()) {
    reason.clear();
  } else if (absl::IsNotFound(partitions.status())) {
    reason = absl::StrCat("topic '", topic_, "' does not exist",
                          create_topic_ ? " and could not be created" : " (topic.create=false)");
  } else {
    reason = absl::StrCat("no Kafka broker answers: ", partitions.status().message());
  }
  const bool was_ready = ready_.load();
  // One slow metadata answer (a busy broker or machine) does not make a
  // ready gateway refuse traffic: only two failed checks in a row do. A
  // missing topic counts at once.
  if (was_ready && !reason.empty() && !absl::IsNotFound(partitions.status()) && ++failed_checks_ < 2) {
    runnel::Logger("sensor-gateway")->info("readiness check failed once, still ready: {}", reason);
    return;
  }
  failed_checks_ = 0;
  {
    std::lock_guard<std::mutex> lock(readiness_mu_);
    not_ready_reason_ = reason;
  }
  ready_.store(reason.empty());
  if (was_ready != reason.empty()) {
    if (reason.empty()) {
      runnel::Logger("sensor-gateway")->info("ready: topic '{}' has {} partitions", topic_, *partitions);
    } else {
      runnel::Logger("sensor-gateway")->warn("not ready: {}", reason);
    }
  }
}

void Gateway::RunReadinessLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(readiness_mu_);
      if (readiness_cv_.wait_for(lock, absl::ToChronoNanoseconds(readiness_interval_), [this] { return stopping_; })) {
        return;
      }
    }
    CheckReadiness();
  }
}

}  // namespace runnel_apps::gateway
