#ifndef RUNNEL_HTTP_SERVER_H_
#define RUNNEL_HTTP_SERVER_H_

// The asynchronous HTTP/1.1 server (Boost.Beast over Asio).
//
// One io_context run by a small fixed pool of threads (ServerOptions::threads),
// every connection on its own strand: thousands of idle keep-alive
// connections cost a socket and a buffer each, not a thread. Keep-alive,
// TCP_NODELAY, "Expect: 100-continue", request limits (a body over
// max_body_bytes is 413, headers over max_header_bytes 431, anything
// unparsable 400; each then closes the connection), per-read and per-write
// timeouts, and server-sent events (event_stream.h). Requests on one
// connection are served one after the other (no pipelining).
//
//   Router router;
//   router.Get("/healthz", Sync([](const Request&) { return Response::Text(200, "ok"); }));
//   auto server = Server::Start({.port = 0}, std::move(router));   // port 0: any free port
//   ... (*server)->port() ...
//   (*server)->Shutdown(absl::Seconds(10));
//
// Shutdown is graceful: stop accepting, close idle connections and event
// streams, let requests being read or handled finish (their answers say
// "Connection: close"), and after `grace` close whatever is left. A
// Responder answering after that is dropped (see responder.h).
//
// Ownership: the caller owns the Server; Router and handlers are owned by
// it and destroyed after the last I/O thread stopped. Thread-safety:
// port(), stats() and Shutdown() may be called from any thread except the
// server's own I/O threads (Shutdown from a handler would wait for itself:
// checked). Lifecycle: Start -> running -> Shutdown (stopping -> stopped);
// the destructor shuts down with a 5 s grace if that was not done.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/common/tls.h"
#include "runnel/http/router.h"

namespace runnel::http {

namespace internal {
class Core;
}

struct ServerOptions {
  // Address to listen on: "127.0.0.1", "0.0.0.0", "::".
  std::string address = "127.0.0.1";
  // 0 binds any free port; port() tells which.
  uint16_t port = 0;
  // I/O threads running the io_context (handlers run on them).
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  // Connections beyond this are accepted and closed at once.
  size_t max_connections = 10'000;
  // Waiting for (the rest of) a request, idle keep-alive included; and
  // writing a response. The connection closes when one runs out.
  absl::Duration read_timeout = absl::Seconds(60);
  absl::Duration write_timeout = absl::Seconds(30);
  // Event streams: a comment line this often keeps proxies and the
  // browser's connection alive and finds dead clients (0: never).
  absl::Duration event_heartbeat = absl::Seconds(15);
  // Events queued for one slow client before its stream is closed.
  size_t max_queued_events = 1024;
  // Sent as the Server header.
  std::string server_name = "runnel";
  // TLS: with tls.cert_file set the server speaks HTTPS only (TLS 1.2+);
  // tls.client_auth=required also demands a client certificate issued by
  // tls.ca_file (mutual TLS), refusing others at the handshake. Start reads
  // the files; errors name `tls.key_prefix` + "cert.file" etc. ("http.tls."
  // in the apps' configs) and the path. See docs/tls.md.
  TlsSettings tls{.key_prefix = "http.tls."};
  // For the Date header. Not owned; must outlive the server.
  const Clock* clock = &Clock::System();
};

// Counters since start. Read from any thread.
struct ServerStats {
  int64_t connections_accepted = 0;
  int64_t connections_open = 0;
  int64_t requests = 0;
  // Requests read but not yet answered (handlers still working).
  int64_t requests_in_flight = 0;
  // Requests refused before any handler ran (400, 413, 431).
  int64_t requests_rejected = 0;
  int64_t event_streams_open = 0;
};

class Server {
 public:
  // Binds, listens and starts the I/O threads. InvalidArgument for a bad
  // address or option, Unavailable when the address cannot be bound (e.g.
  // the port is in use).
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the real one when ServerOptions::port was 0).
  uint16_t port() const { return port_; }
  ServerStats stats() const;

  // Runs `fn` soon on one of the I/O threads, for work that should share
  // them rather than wake a thread of its own (the sensor gateway serves
  // Kafka delivery reports this way). Once the server has stopped, `fn` is
  // dropped and the answer is false. Any thread; `fn` must not block.
  bool Post(absl::AnyInvocable<void()> fn);

  // Graceful shutdown, see above. Returns DeadlineExceeded when requests
  // were still in flight after `grace` (they were cut off); OK otherwise.
  // Idempotent: later calls return OK at once.
  absl::Status Shutdown(absl::Duration grace = absl::Seconds(10));

 private:
  Server(std::shared_ptr<internal::Core> core, uint16_t port) : core_(std::move(core)), port_(port) {}
  std::shared_ptr<internal::Core> core_;
  uint16_t port_;
};

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_SERVER_H_
