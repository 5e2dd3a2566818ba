#include "runnel/runtime/streams_config.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

// librdkafka settings the runtime sets itself and depends on: a user value
// would break it, so StreamsConfig::Create refuses them, saying why.
struct ReservedKey {
  const char* key;
  const char* why;
  // Reserved only under exactly_once_v2 (at_least_once leaves it to the user).
  bool exactly_once_only = false;
};

constexpr ReservedKey kReservedKeys[] = {
    {"consumer.group.id", "the consumer group is the application.id"},
    {"consumer.enable.auto.commit",
     "input offsets are committed with the tasks' state on each commit (commit.interval.ms); an automatic "
     "commit would commit input whose results and state are not written yet"},
    {"consumer.client.id",
     "each stream thread's client.id carries its member identity (process id, thread, application.server), "
     "which the sticky task assignment and query routing read back from the group: with an override a thread "
     "takes no task; set 'client.id' to change the prefix of every client's id"},
    {"consumer.partition.assignment.strategy",
     "the runtime needs librdkafka's eager range assignor: it keeps partition i of co-partitioned topics on "
     "one member, and the sticky task assignment replaces what it offers (eager protocol only); choose the "
     "assignment with 'task.assignor'"},
    {"consumer.isolation.level",
     "Runnel reads input and changelogs read_committed (what exactly_once_v2 needs: read_uncommitted would "
     "process and restore records of aborted transactions) and sets each consumer's level itself"},
    {"consumer.enable.partition.eof",
     "partition ends tell a task reading several partitions that one has nothing more on the broker "
     "(max.task.idle.ms), and end restores past a trailing transaction marker: without them tasks stall and "
     "restores do not finish"},
    {"producer.transactional.id",
     "under exactly_once_v2 each stream thread's producer is <application.id>-<process id>-<thread>, so that "
     "a restarted thread fences its previous incarnation; under at_least_once the producer is not "
     "transactional"},
    {"producer.client.id",
     "each stream thread's producer is named after its thread (<client.id>-StreamThread-<n>-producer, as in "
     "Kafka Streams); one override would give every thread's producer the same name; set 'client.id' to "
     "change the prefix"},
    {"producer.enable.idempotence",
     "exactly_once_v2 sends through transactional producers, which must be idempotent",
     /*exactly_once_only=*/true},
};

bool IdempotentProducers(const std::map<std::string, std::string>& values) {
  auto it = values.find("producer.enable.idempotence");
  return it == values.end() || it->second != "false";
}

// The topic.* keys (internal topics' configs): what Runnel sets per topic
// kind cannot be overridden, and min.insync.replicas must fit the
// replication. The broker checks the rest when it creates a topic.
absl::Status CheckTopicConfigs(const Config& config, const std::map<std::string, std::string>& values) {
  if (values.contains("topic.")) return absl::InvalidArgumentError("config key 'topic.' names no topic config");
  if (values.contains("topic.cleanup.policy")) {
    return absl::InvalidArgumentError(
        "config key 'topic.cleanup.policy' cannot be set: Runnel chooses each internal topic's policy (compact "
        "for changelogs, which restores read as the latest value per key; compact,delete for windowed ones; "
        "delete for repartition topics)");
  }
  auto min_isr = values.find("topic.min.insync.replicas");
  if (min_isr == values.end()) return absl::OkStatus();
  int64_t n = 0;
  if (!absl::SimpleAtoi(min_isr->second, &n) || n < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config key 'topic.min.insync.replicas' must be a positive integer, got '", min_isr->second, "'"));
  }
  const int64_t replication = config.GetInt("replication.factor");
  if (replication > 0 && n > replication) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config key 'topic.min.insync.replicas' is ", n, ", above 'replication.factor' ", replication,
        ": no write with acks=all (every Runnel producer's) could succeed on an internal topic"));
  }
  return absl::OkStatus();
}

}  // namespace

const ConfigDef& StreamsConfig::Definition() {
  static const ConfigDef* def = [] {
    auto* d = new ConfigDef();
    d->Define({.name = "application.id",
               .doc = "Names the consumer group, internal topics and state directories."})
        .Define({.name = "bootstrap.servers", .doc = "Kafka brokers, host:port[,host:port...]."});
    // security.protocol and the ssl.* and sasl.* keys: the connection's TLS
    // and SASL settings, for every client (stream threads' consumers and
    // producers, restore, standby, global and admin clients).
    kafka::DefineConnectionKeys(*d,
                                "How every Kafka client of the instance connects (with the ssl.* and sasl.* keys, "
                                "librdkafka's names, which reach every client as well; docs/security.md).")
        .Define({.name = "num.stream.threads",
                 .type = ConfigType::kInt,
                 .default_value = "1",
                 .min = 1,
                 .max = 256,
                 .doc = "Stream threads in this instance; tasks are spread over them."})
        .Define({.name = "processing.guarantee",
                 .default_value = "at_least_once",
                 .allowed = {"at_least_once", "exactly_once_v2"},
                 .doc = "at_least_once, or exactly_once_v2 (Kafka transactions)."})
        .Define({.name = "commit.interval.ms",
                 .type = ConfigType::kInt,
                 .default_value = "-1",
                 .min = -1,
                 .doc = "How often progress is committed; -1 means 30000 (at_least_once) or 100 "
                        "(exactly_once_v2), as in Kafka Streams."})
        .Define({.name = "poll.ms",
                 .type = ConfigType::kInt,
                 .default_value = "100",
                 .min = 0,
                 .max = 60000,
                 .doc = "How long a stream thread blocks waiting for records."})
        .Define({.name = "max.poll.records",
                 .type = ConfigType::kInt,
                 .default_value = "1000",
                 .min = 1,
                 .max = 1000000,
                 .doc = "Records a stream thread takes per poll."})
        .Define({.name = "state.dir",
                 .default_value = "/tmp/runnel",
                 .doc = "Directory for local state stores."})
        .Define({.name = "num.standby.replicas",
                 .type = ConfigType::kInt,
                 .default_value = "0",
                 .min = 0,
                 .max = 8,
                 .doc = "Standby copies of each stateful task on other instances."})
        .Define({.name = "task.assignor",
                 .default_value = "sticky",
                 .allowed = {"sticky", "range"},
                 .doc = "sticky: every member computes the same co-partitioned, bounded-load rendezvous "
                        "assignment of tasks over the group's members, so instances joining or leaving "
                        "move few tasks; range: librdkafka's range assignor as it is (co-partitioned, not "
                        "sticky)."})
        .Define({.name = "max.task.idle.ms",
                 .type = ConfigType::kInt,
                 .default_value = "0",
                 .min = -1,
                 .doc = "Tasks reading several partitions (joins, merges) take records in timestamp order "
                        "across them; 0 waits for records already on the broker (a partition still being "
                        "fetched), > 0 also waits this long for new records on a caught-up partition, -1 "
                        "never waits (Kafka Streams' max.task.idle.ms)."})
        .Define({.name = "application.server",
                 .default_value = "",
                 .doc = "host:port where this instance serves interactive queries."})
        .Define({.name = "query.tls.cert.file",
                 .default_value = "",
                 .doc = "PEM certificate (chain) of the query server; set: queries are served over TLS "
                        "only, and forwarded to other instances over TLS (docs/tls.md)."})
        .Define({.name = "query.tls.key.file",
                 .default_value = "",
                 .doc = "PEM private key of query.tls.cert.file."})
        .Define({.name = "query.tls.ca.file",
                 .default_value = "",
                 .doc = "PEM CA certificates: the query server checks client certificates against them "
                        "(query.tls.client.auth=required), and forwarding checks the other instances' "
                        "certificates against them (empty: the system's roots)."})
        .Define({.name = "query.tls.client.auth",
                 .default_value = "none",
                 .allowed = {"none", "required"},
                 .doc = "required: mutual TLS, a client without a certificate issued by query.tls.ca.file "
                        "is refused at the handshake; forwarded queries present this instance's "
                        "certificate."})
        .Define({.name = "metrics.server",
                 .default_value = "",
                 .doc = "host:port where this instance serves GET /metrics (Prometheus text format), "
                        "/healthz and /readyz; port 0 binds any free port; empty: no server."})
        .Define({.name = "statestore.cache.max.bytes",
                 .type = ConfigType::kInt,
                 .default_value = "10485760",
                 .min = 0,
                 .doc = "Record cache per instance; 0 forwards every update."})
        .Define({.name = "rocksdb.block.cache.bytes",
                 .type = ConfigType::kInt,
                 .default_value = "67108864",
                 .min = 1048576,
                 .doc = "The one RocksDB block cache of the process, shared by every store; "
                        "memtables are charged to it too."})
        .Define({.name = "rocksdb.write.buffer.bytes",
                 .type = ConfigType::kInt,
                 .default_value = "33554432",
                 .min = 1048576,
                 .doc = "Memtable budget of all RocksDB stores of the process (part of the block "
                        "cache)."})
        .Define({.name = "default.deserialization.exception.handler",
                 .default_value = "log_and_fail",
                 .allowed = {"log_and_continue", "log_and_fail", "dead_letter"},
                 .doc = "What to do with a record that cannot be deserialized: skip it, stop, or "
                        "write it to errors.dead.letter.queue.topic.name. Each is counted."})
        .Define({.name = "processing.exception.handler",
                 .default_value = "log_and_fail",
                 .allowed = {"log_and_continue", "log_and_fail", "dead_letter"},
                 .doc = "What to do with a record a processor cannot process (it threw, or returned "
                        "ProcessingError) or a punctuation that threw: skip it, stop, or write the record "
                        "to errors.dead.letter.queue.topic.name with the error in its headers. Each is "
                        "counted."})
        .Define({.name = "errors.dead.letter.queue.topic.name",
                 .default_value = "",
                 .doc = "The dead-letter topic (created if missing) for the dead_letter handlers."})
        .Define({.name = "uncaught.error.policy",
                 .default_value = "shutdown_client",
                 .allowed = {"replace_thread", "shutdown_client", "shutdown_application"},
                 .doc = "When a stream thread fails (Kafka Streams' StreamsUncaughtExceptionHandler): "
                        "start a new thread in its place, stop this instance (ERROR), or stop every "
                        "instance of the application (ERROR). KafkaStreams::SetUncaughtErrorHandler "
                        "decides per error instead."})
        .Define({.name = "client.id",
                 .default_value = "",
                 .doc = "Prefix of the Kafka clients' client.id; default <application.id>."})
        .Define({.name = "replication.factor",
                 .type = ConfigType::kInt,
                 .default_value = "0",
                 .min = -1,
                 .max = 32,
                 .doc = "Replication of the internal topics Runnel creates (changelogs, repartition, "
                        "dead-letter and topology topics): 0 = min(3, live brokers of the cluster, asked at start); -1 = "
                        "the broker's default.replication.factor; N = N replicas (creating a topic fails, "
                        "naming this key, if the cluster has fewer live brokers)."})
        .Define({.name = "topology.compatibility.check",
                 .default_value = "fail",
                 .allowed = {"fail", "warn", "off"},
                 .doc = "At start, compare the topology with the one recorded for the application (topic "
                        "<application.id>-topology): fail refuses a change that would orphan or misread "
                        "state (a store renamed or removed, moved, retyped, its serdes changed; an internal "
                        "topic renamed; a partition count changed), warn logs it and starts, off neither "
                        "reads nor records."})
        .PassThroughPrefix("consumer.")
        .PassThroughPrefix("producer.")
        .PassThroughPrefix("admin.")
        // Topic configs of the internal topics, as Kafka Streams' "topic."
        // prefix: topic.min.insync.replicas (default 2 when the replication
        // is 3 or more), topic.compression.type, topic.retention.ms, ... The
        // broker validates them when it creates a topic.
        .PassThroughPrefix("topic.");
    // metrics.tls.*: HTTPS for metrics.server (docs/tls.md).
    DefineTlsKeys(*d, "metrics.tls.", "the metrics server (metrics.server)");
    return d;
  }();
  return *def;
}

absl::StatusOr<StreamsConfig> StreamsConfig::Create(const std::map<std::string, std::string>& values) {
  auto config = Config::Parse(Definition(), values);
  if (!config.ok()) return config.status();
  StreamsConfig streams(*std::move(config));
  if (streams.application_id().empty()) {
    return absl::InvalidArgumentError("config key 'application.id' must not be empty");
  }
  if (streams.bootstrap_servers().empty()) {
    return absl::InvalidArgumentError("config key 'bootstrap.servers' must not be empty");
  }
  for (const auto& [key, mode] : {std::pair{"default.deserialization.exception.handler",
                                            streams.deserialization_error_mode()},
                                  std::pair{"processing.exception.handler", streams.processing_error_mode()}}) {
    if (mode == RecordErrorMode::kDeadLetter && streams.dead_letter_topic().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config key 'errors.dead.letter.queue.topic.name' is required when '", key, "' is dead_letter"));
    }
  }
  if (streams.uncaught_error_policy() == UncaughtErrorResponse::kShutdownApplication &&
      !streams.sticky_assignment()) {
    return absl::InvalidArgumentError(
        "config key 'uncaught.error.policy' is shutdown_application, which needs 'task.assignor' sticky: the "
        "request reaches the other instances through the sticky assignment's view of the group");
  }
  if (const std::string& server = streams.application_server(); !server.empty()) {
    const size_t colon = server.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(server.substr(colon + 1), &port) || port <= 0 ||
        port > 65535 || server.find_first_of("@ ") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("config key 'application.server' must be host:port with a port in "
                                                     "1..65535, got '", server, "'"));
    }
  }
  if (absl::Status s = CheckServerTls(streams.query_tls()); !s.ok()) return s;
  if (absl::Status s = CheckServerTls(TlsSettingsFromConfig(streams.config(), "metrics.tls.")); !s.ok()) return s;
  if (streams.query_tls().enabled() && streams.application_server().empty()) {
    return absl::InvalidArgumentError(
        "config key 'query.tls.cert.file' is set but 'application.server' is not: there is no query server");
  }
  if (const std::string& server = streams.config().GetString("metrics.server"); !server.empty()) {
    if (absl::Status s = ParseMetricsServer(server).status(); !s.ok()) return s;
  }
  RUNNEL_RETURN_IF_ERROR(CheckTopicConfigs(streams.config(), values));
  if (absl::StartsWith(streams.config().GetString("security.protocol"), "SASL_") && !values.contains("sasl.mechanism")) {
    // librdkafka would try GSSAPI (Kerberos), its default, and fail later
    // with a message about Kerberos.
    return absl::InvalidArgumentError(absl::StrCat("config key 'sasl.mechanism' is required when 'security.protocol' is ",
                                                   streams.config().GetString("security.protocol"),
                                                   ": PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"));
  }
  const bool exactly_once = streams.processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2;
  if (auto acks = values.find("producer.acks"); acks != values.end() && acks->second != "all" &&
                                                  acks->second != "-1" &&
                                                  (exactly_once || IdempotentProducers(values))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config key 'producer.acks' is '", acks->second,
        "': Runnel's producers are idempotent, which needs acks=all (every in-sync replica has a record "
        "before it counts as written)", exactly_once ? "" : "; set producer.enable.idempotence=false as well "
                                                            "to trade that for fewer acknowledgements"));
  }
  for (const ReservedKey& reserved : kReservedKeys) {
    if (!values.contains(reserved.key) || (reserved.exactly_once_only && !exactly_once)) continue;
    return absl::InvalidArgumentError(absl::StrCat("config key '", reserved.key, "' is set by Runnel",
                                                   reserved.exactly_once_only ? " under exactly_once_v2" : "",
                                                   " and cannot be set: ", reserved.why));
  }
  return streams;
}

absl::StatusOr<MetricsServerAddress> ParseMetricsServer(std::string_view value) {
  const size_t colon = value.rfind(':');
  std::string_view host = colon == std::string_view::npos ? std::string_view() : value.substr(0, colon);
  // An IPv6 address is written in brackets: [::1]:9090.
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  if (colon == std::string_view::npos || host.empty() || !absl::SimpleAtoi(ToAbsl(value.substr(colon + 1)), &port) ||
      port < 0 || port > 65535 || host.find_first_of("@/ []") != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config key 'metrics.server' must be host:port with a port in 0..65535 (0: any free port), got '",
        ToAbsl(value), "'"));
  }
  return MetricsServerAddress{.host = std::string(host), .port = static_cast<uint16_t>(port)};
}

std::optional<MetricsServerAddress> StreamsConfig::metrics_server() const {
  const std::string& value = config_.GetString("metrics.server");
  if (value.empty()) return std::nullopt;
  auto parsed = ParseMetricsServer(value);
  RUNNEL_CHECK(parsed.ok()) << "metrics.server was validated by Create: " << parsed.status().ToString();
  return *std::move(parsed);
}

ProcessingGuarantee StreamsConfig::processing_guarantee() const {
  return config_.GetString("processing.guarantee") == "exactly_once_v2"
             ? ProcessingGuarantee::kExactlyOnceV2
             : ProcessingGuarantee::kAtLeastOnce;
}

absl::Duration StreamsConfig::commit_interval() const {
  int64_t ms = config_.GetInt("commit.interval.ms");
  if (ms < 0) ms = processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2 ? 100 : 30000;
  return absl::Milliseconds(ms);
}

namespace {

RecordErrorMode ParseRecordErrorMode(const std::string& mode) {
  if (mode == "log_and_continue") return RecordErrorMode::kLogAndContinue;
  if (mode == "dead_letter") return RecordErrorMode::kDeadLetter;
  return RecordErrorMode::kLogAndFail;
}

}  // namespace

RecordErrorMode StreamsConfig::deserialization_error_mode() const {
  return ParseRecordErrorMode(config_.GetString("default.deserialization.exception.handler"));
}

RecordErrorMode StreamsConfig::processing_error_mode() const {
  return ParseRecordErrorMode(config_.GetString("processing.exception.handler"));
}

UncaughtErrorResponse StreamsConfig::uncaught_error_policy() const {
  const std::string& policy = config_.GetString("uncaught.error.policy");
  if (policy == "replace_thread") return UncaughtErrorResponse::kReplaceThread;
  if (policy == "shutdown_application") return UncaughtErrorResponse::kShutdownApplication;
  return UncaughtErrorResponse::kShutdownClient;
}

kafka::ClientConfig StreamsConfig::ConnectionConfig() const { return kafka::ConnectionFromConfig(config_); }

kafka::ClientConfig StreamsConfig::ConsumerConfig(std::string_view client_id) const {
  kafka::ClientConfig c{
      {"group.id", application_id()},
      {"client.id", std::string(client_id)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      // range keeps partition i of co-partitioned topics on one member.
      {"partition.assignment.strategy", "range"},
      // Only committed records: exactly_once_v2 needs it (an aborted
      // transaction's records are never processed nor restored), and it
      // costs at_least_once nothing on topics written without
      // transactions. The global thread chooses its own per guarantee.
      {"isolation.level", "read_committed"},
      // Partition ends tell a task that reads several partitions when one of
      // them has nothing more on the broker (max.task.idle.ms), and end
      // restores past a trailing transaction marker. true is right for every
      // consumer of the runtime; kafka::Consumer defaults to it as well.
      {"enable.partition.eof", "true"},
      // librdkafka 2.0.2 stops fetching a partition for a fixed 1 s once its
      // local queue holds queued.min.messages (the backoff became tunable,
      // fetch.queue.backoff.ms, only in 2.4). With the default 100000 a
      // thread that processes faster than 100k records/s drains the queue
      // and then idles for the rest of that second: W1 ran at half speed.
      // 500000 covers a second of a stream thread's throughput; memory stays
      // bounded by queued.max.messages.kbytes (64 MiB by default).
      {"queued.min.messages", "500000"},
  };
  for (const auto& [k, v] : config_.WithPrefix("consumer.")) c[k] = v;
  return kafka::ClientConfigFor(ConnectionConfig(), c);
}

kafka::ClientConfig StreamsConfig::ProducerConfig(std::string_view client_id) const {
  kafka::ClientConfig c{
      {"client.id", std::string(client_id)},
      {"enable.idempotence", "true"},
      // What idempotence implies anyway, said out loud: a record counts as
      // written once every in-sync replica has it (at least the topic's
      // min.insync.replicas), so losing its leader does not lose it.
      {"acks", "all"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"compression.type", "lz4"},
  };
  // Kafka Streams' exactly-once default: a dead instance's open transaction
  // holds back the last stable offset of every partition it wrote (and so
  // every read_committed reader and restore) for at most this long.
  if (processing_guarantee() == ProcessingGuarantee::kExactlyOnceV2) c["transaction.timeout.ms"] = "10000";
  for (const auto& [k, v] : config_.WithPrefix("producer.")) c[k] = v;
  return kafka::ClientConfigFor(ConnectionConfig(), c);
}

kafka::ClientConfig StreamsConfig::AdminConfig() const {
  kafka::ClientConfig c{{"client.id", absl::StrCat(application_id(), "-admin")}};
  for (const auto& [k, v] : config_.WithPrefix("admin.")) c[k] = v;
  return kafka::ClientConfigFor(ConnectionConfig(), c);
}

}  // namespace runnel

namespace runnel {

TlsSettings StreamsConfig::query_tls() const { return TlsSettingsFromConfig(config_, "query.tls."); }

}  // namespace runnel
