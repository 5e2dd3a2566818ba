#ifndef RUNNEL_KAFKA_INTERNAL_CONF_H_
#define RUNNEL_KAFKA_INTERNAL_CONF_H_

// Builds an rd_kafka_conf_t from a ClientConfig (defaults first, the caller's
// values over them), with Runnel's log and error callbacks installed.

#include <librdkafka/rdkafka.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/types.h"
#include "runnel/kafka/client_config.h"

namespace runnel::kafka::internal {

// What librdkafka's callbacks of one client share: the client's opaque
// points at it (MakeConf sets it), so a client's own state derives from it.
// Owned by the client wrapper (Producer, Consumer, Admin), which outlives
// its rd_kafka_t; the callbacks run on librdkafka's threads or inside poll.
class ClientContext {
 public:
  explicit ClientContext(const Clock& clock) : clock_(clock) {}
  virtual ~ClientContext() = default;
  const Clock& clock() const { return clock_; }
  // Client-level errors (broker down, ...): one warning per 5 s.
  RateLimiter& error_limiter() { return error_limiter_; }
  // The last SASL authentication or TLS failure the error callback saw
  // (librdkafka's reason: broker, mechanism, never a secret); empty if none.
  // Thread-safe: written on librdkafka's threads, read by the client's owner.
  void RecordSecurityFailure(std::string reason);
  std::string security_failure() const;

 private:
  const Clock& clock_;
  RateLimiter error_limiter_{5000};
  mutable absl::Mutex mu_;
  std::string security_failure_ ABSL_GUARDED_BY(mu_);
};

// `status` unless it is an error and the client saw an authentication or TLS
// failure (after serving `rk`'s pending error events, for clients that do not
// poll: Admin, Metadata): then Unauthenticated, naming the failure and the
// settings to check, with `status`'s message after it. Called from the
// client owner's thread.
absl::Status ExplainSecurityFailure(rd_kafka_t* rk, ClientContext& context, absl::Status status);

// Caller owns the result (or hands it to rd_kafka_new). A bad property is
// InvalidArgument naming it (a secret's value is not repeated). `context` becomes the client's opaque and must
// outlive the client.
absl::StatusOr<rd_kafka_conf_t*> MakeConf(const ClientConfig& defaults, const ClientConfig& config,
                                          ClientContext* context);

// The error callback MakeConf installs: logs a client-level error, rate
// limited by the context's limiter on the context's clock (a fatal error
// always). `opaque` is the ClientContext.
void OnClientError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

// rd_kafka_new, mapping its error; takes ownership of `conf` on success and
// destroys it on failure.
absl::StatusOr<rd_kafka_t*> NewClient(rd_kafka_type_t type, rd_kafka_conf_t* conf);

// A topic-partition list for `partitions` (offsets as given, or INVALID).
rd_kafka_topic_partition_list_t* ToList(const std::vector<std::pair<TopicPartition, Offset>>& partitions);

}  // namespace runnel::kafka::internal

#endif  // RUNNEL_KAFKA_INTERNAL_CONF_H_
