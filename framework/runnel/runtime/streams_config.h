#ifndef RUNNEL_RUNTIME_STREAMS_CONFIG_H_
#define RUNNEL_RUNTIME_STREAMS_CONFIG_H_

// The application's configuration: keys mirror Kafka Streams where the idea
// is the same (DESIGN.md section 4); librdkafka settings pass through with
// the prefixes "consumer.", "producer." and "admin.". Unknown keys and bad
// values are InvalidArgument errors that name the key.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/config.h"
#include "runnel/common/tls.h"
#include "runnel/kafka/client_config.h"

namespace runnel {

enum class ProcessingGuarantee { kAtLeastOnce, kExactlyOnceV2 };
// default.deserialization.exception.handler and processing.exception.handler.
enum class RecordErrorMode { kLogAndContinue, kLogAndFail, kDeadLetter };
// What the instance does when a stream thread fails (uncaught.error.policy,
// or KafkaStreams::SetUncaughtErrorHandler), as Kafka Streams'
// StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.
enum class UncaughtErrorResponse { kReplaceThread, kShutdownClient, kShutdownApplication };

// metrics.server, parsed: where the instance serves /metrics, /healthz and
// /readyz (port 0: any free port).
struct MetricsServerAddress {
  std::string host;
  uint16_t port = 0;
};
// InvalidArgument naming the key unless `value` is host:port (IPv6 hosts in
// brackets) with a port in 0..65535.
absl::StatusOr<MetricsServerAddress> ParseMetricsServer(std::string_view value);

class StreamsConfig {
 public:
  // The schema of every key, with defaults and documentation.
  static const ConfigDef& Definition();
  // Validates `values` (also the cross-key rules, e.g. a dead-letter handler
  // needs a dead-letter topic).
  static absl::StatusOr<StreamsConfig> Create(const std::map<std::string, std::string>& values);

  const std::string& application_id() const { return config_.GetString("application.id"); }
  const std::string& bootstrap_servers() const { return config_.GetString("bootstrap.servers"); }
  int num_stream_threads() const { return static_cast<int>(config_.GetInt("num.stream.threads")); }
  bool sticky_assignment() const { return config_.GetString("task.assignor") == "sticky"; }
  int64_t max_task_idle_ms() const { return config_.GetInt("max.task.idle.ms"); }
  int num_standby_replicas() const { return static_cast<int>(config_.GetInt("num.standby.replicas")); }
  ProcessingGuarantee processing_guarantee() const;
  absl::Duration commit_interval() const;
  absl::Duration poll_timeout() const { return absl::Milliseconds(config_.GetInt("poll.ms")); }
  size_t max_poll_records() const { return static_cast<size_t>(config_.GetInt("max.poll.records")); }
  RecordErrorMode deserialization_error_mode() const;
  RecordErrorMode processing_error_mode() const;
  UncaughtErrorResponse uncaught_error_policy() const;
  const std::string& dead_letter_topic() const {
    return config_.GetString("errors.dead.letter.queue.topic.name");
  }
  const std::string& client_id() const { return config_.GetString("client.id"); }
  // The prefix of every Kafka client.id of the instance: client.id, or
  // application.id when client.id is unset.
  const std::string& client_id_prefix() const { return client_id().empty() ? application_id() : client_id(); }
  // application.server: host:port of the query endpoint, empty when unset.
  const std::string& application_server() const { return config_.GetString("application.server"); }
  // query.tls.*: TLS of the query server and of its forwarding (checked
  // by Create; the files are read when the query server starts).
  TlsSettings query_tls() const;
  // metrics.server; nullopt when unset.
  std::optional<MetricsServerAddress> metrics_server() const;
  const std::string& state_dir() const { return config_.GetString("state.dir"); }
  int64_t cache_max_bytes() const { return config_.GetInt("statestore.cache.max.bytes"); }
  int64_t rocksdb_block_cache_bytes() const { return config_.GetInt("rocksdb.block.cache.bytes"); }
  int64_t rocksdb_write_buffer_bytes() const { return config_.GetInt("rocksdb.write.buffer.bytes"); }

  // Where the cluster is and how to log in: bootstrap.servers,
  // security.protocol and every ssl.* and sasl.* key. Every client config
  // below starts from it (kafka::ClientConfigFor); a client made outside the
  // runtime (an app's own admin or sink) should start from AdminConfig().
  kafka::ClientConfig ConnectionConfig() const;
  // librdkafka configs for the clients: the connection, the runtime's
  // defaults, then the user's prefixed overrides.
  kafka::ClientConfig ConsumerConfig(std::string_view client_id) const;
  kafka::ClientConfig ProducerConfig(std::string_view client_id) const;
  kafka::ClientConfig AdminConfig() const;

  const Config& config() const { return config_; }

 private:
  explicit StreamsConfig(Config config) : config_(std::move(config)) {}
  Config config_;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_STREAMS_CONFIG_H_
