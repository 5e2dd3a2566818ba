#include "runnel/kafka/internal/conf.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/config.h"
#include "runnel/kafka/errors.h"
#include "runnel/kafka/logging.h"

namespace runnel::kafka::internal {

// Client-level errors (broker down, all brokers down, fatal): librdkafka
// retries by itself; we log, rate-limited, so an outage is visible.
void OnClientError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* context = static_cast<ClientContext*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    Logger("rdkafka")->error("{}: fatal error: {}", rd_kafka_name(rk), buf);
    return;
  }
  if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL) {
    context->RecordSecurityFailure(reason);
  }
  int64_t suppressed = 0;
  if (context->error_limiter().Allow(context->clock().NowMillis().value(), &suppressed)) {
    Logger("rdkafka")->warn("{}: {} ({}){}", rd_kafka_name(rk), reason, rd_kafka_err2name(code),
                            suppressed ? absl::StrCat(" [", suppressed, " similar suppressed]") : "");
  }
}

void ClientContext::RecordSecurityFailure(std::string reason) {
  absl::MutexLock lock(&mu_);
  security_failure_ = std::move(reason);
}

std::string ClientContext::security_failure() const {
  absl::MutexLock lock(&mu_);
  return security_failure_;
}

absl::Status ExplainSecurityFailure(rd_kafka_t* rk, ClientContext& context, absl::Status status) {
  if (status.ok()) return status;
  rd_kafka_poll(rk, 0);  // serves pending error events into OnClientError
  const std::string failure = context.security_failure();
  if (failure.empty()) return status;
  // librdkafka before 2.6.1 builds SCRAM's client-final message with the
  // client nonce twice; Kafka 4.x checks it strictly and refuses every SCRAM
  // login (librdkafka#4895). Say so rather than suspect the password.
  const bool old_scram = absl::StrContains(failure, "SCRAM") && rd_kafka_version() < 0x020601ff;
  return absl::UnauthenticatedError(absl::StrCat(
      "Kafka authentication failed: ", failure,
      old_scram ? absl::StrCat(" (note: librdkafka ", rd_kafka_version_str(),
                               " cannot log in with SCRAM to Kafka 4.x brokers, fixed in 2.6.1; use PLAIN over "
                               "SASL_SSL or mutual TLS with such brokers)")
                : "",
      "; check security.protocol, sasl.mechanism, sasl.username, sasl.password and the ssl.* settings (",
      status.message(), ")"));
}

absl::StatusOr<rd_kafka_conf_t*> MakeConf(const ClientConfig& defaults, const ClientConfig& config,
                                          ClientContext* context) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka client property '", key, "' = '", DisplayConfigValue(key, value), "': ", err));
    }
    return absl::OkStatus();
  };
  for (const auto& [k, v] : defaults) {
    if (config.contains(k)) continue;
    if (absl::Status s = set(k, v); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  for (const auto& [k, v] : config) {
    if (absl::Status s = set(k, v); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  InstallLogCallback(conf);
  rd_kafka_conf_set_error_cb(conf, OnClientError);
  rd_kafka_conf_set_opaque(conf, context);
  return conf;
}

absl::StatusOr<rd_kafka_t*> NewClient(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("creating Kafka client: ", err));
  }
  return rk;
}

rd_kafka_topic_partition_list_t* ToList(const std::vector<std::pair<TopicPartition, Offset>>& partitions) {
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& [tp, offset] : partitions) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value())->offset =
        offset.value();
  }
  return list;
}

}  // namespace runnel::kafka::internal
