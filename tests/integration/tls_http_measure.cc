// tls_http_measure: what TLS costs the HTTP server, for docs/tls.md. Not a
// test (no assertions on time): it starts a plain and an HTTPS server on
// loopback (certificates from tls_make_certs.sh) and times, with
// http::Client on one thread, sequential requests on one keep-alive
// connection and requests each on a new connection (TCP + TLS handshake).
//
//   tls_http_measure [keep-alive requests] [new connections]

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "integration/tls_certs.h"
#include "runnel/http/client.h"
#include "runnel/http/server.h"

namespace {

using runnel::TlsClientAuth;
using runnel::TlsSettings;
namespace http = runnel::http;

struct Figures {
  double keep_alive_us = 0;
  double new_connection_us = 0;
};

Figures Measure(const char* name, std::optional<TlsSettings> server_tls, std::optional<TlsSettings> client_tls,
                int requests, int connections) {
  http::Router router;
  router.Get("/hello", http::Sync([](const http::Request&) { return http::Response::Text(200, "hello"); }));
  http::ServerOptions options;
  if (server_tls) options.tls = *server_tls;
  auto server = http::Server::Start(options, std::move(router));
  if (!server.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, server.status().ToString().c_str());
    std::exit(1);
  }
  const uint16_t port = (*server)->port();
  const http::ClientOptions client_options{.tls = client_tls};
  auto client = http::Client::Connect("127.0.0.1", port, client_options);
  if (!client.ok()) std::exit(1);
  Figures f;
  absl::Time start = absl::Now();
  for (int i = 0; i < requests; ++i) {
    auto r = (*client)->Get("/hello");
    if (!r.ok() || r->status != 200) std::exit(1);
  }
  f.keep_alive_us = absl::ToDoubleMicroseconds(absl::Now() - start) / requests;
  start = absl::Now();
  for (int i = 0; i < connections; ++i) {
    auto c = http::Client::Connect("127.0.0.1", port, client_options);
    if (!c.ok() || !(*c)->Get("/hello").ok()) std::exit(1);
  }
  f.new_connection_us = absl::ToDoubleMicroseconds(absl::Now() - start) / connections;
  std::printf("%-28s keep-alive %7.1f us/request   new connection %8.1f us/request\n", name, f.keep_alive_us,
              f.new_connection_us);
  (void)(*server)->Shutdown(absl::Seconds(5));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 20000, connections = 1000;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &requests)) return 2;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &connections)) return 2;
  const runnel::tls_test::Certs certs = runnel::tls_test::MakeCerts();
  const TlsSettings server{.cert_file = certs.Path("server.pem"), .key_file = certs.Path("server.key")};
  TlsSettings mutual = server;
  mutual.ca_file = certs.Path("ca.pem");
  mutual.client_auth = TlsClientAuth::kRequired;
  const TlsSettings client{.ca_file = certs.Path("ca.pem")};
  const TlsSettings client_with_cert{
      .cert_file = certs.Path("client.pem"), .key_file = certs.Path("client.key"), .ca_file = certs.Path("ca.pem")};
  Measure("plain HTTP", std::nullopt, std::nullopt, requests, connections);
  Measure("HTTPS", server, client, requests, connections);
  Measure("HTTPS, mutual TLS", mutual, client_with_cert, requests, connections);
  std::filesystem::remove_all(certs.dir);
  return 0;
}
