#ifndef RUNNEL_RUNTIME_METRICS_SERVER_H_
#define RUNNEL_RUNTIME_METRICS_SERVER_H_

// MetricsServer: the HTTP endpoint of one KafkaStreams instance
// (metrics.server=host:port), on the http module's server:
//
//   GET /metrics  200, the registry in the Prometheus text exposition format
//                 (Content-Type text/plain; version=0.0.4).
//   GET /healthz  200 {"status":"up"} while the process serves at all.
//   GET /readyz   200 {"status":"ready"} when the readiness check passes,
//                 else 503 {"status":"not ready","reason":"..."}.
//
// DescribeRuntimeMetrics gives every metric family the runtime and the DSL
// write its help text (the list is docs/metrics.md).
//
// Ownership: KafkaStreams owns the server; the registry and the readiness
// function must outlive it (Shutdown before they go). Threading: handlers
// run on the server's I/O thread and call `readiness` and the registry
// there, so both must be thread-safe and quick. Lifecycle: Start -> serving
// -> Shutdown (also by the destructor).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/http/server.h"
#include "runnel/runtime/streams_config.h"

namespace runnel {

struct Readiness {
  bool ready = false;
  // Why not, for people: "state is PENDING_SHUTDOWN", "2 tasks restoring".
  std::string reason;
};

class MetricsServer {
 public:
  // Binds `address` (port 0: any free port) and serves. Unavailable when it
  // cannot be bound, InvalidArgument for a bad host or TLS file. `tls`
  // (metrics.tls.*): HTTPS when it has a certificate.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const MetricsServerAddress& address,
                                                              const MetricsRegistry* metrics,
                                                              std::function<Readiness()> readiness,
                                                              const Clock& clock, TlsSettings tls = {});
  ~MetricsServer();

  // The bound port.
  uint16_t port() const { return server_->port(); }
  // Stops serving (requests in flight finish within `grace`). Idempotent.
  absl::Status Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  explicit MetricsServer(std::unique_ptr<http::Server> server) : server_(std::move(server)) {}
  std::unique_ptr<http::Server> server_;
};

// Sets the help text of every metric family Runnel's runtime, state and DSL
// write (docs/metrics.md lists them).
void DescribeRuntimeMetrics(MetricsRegistry& registry);

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_METRICS_SERVER_H_
