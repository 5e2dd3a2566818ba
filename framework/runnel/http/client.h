#ifndef RUNNEL_HTTP_CLIENT_H_
#define RUNNEL_HTTP_CLIENT_H_

// A small blocking HTTP/1.1 client over one keep-alive connection: for
// tests, health probes, tools and load generators, not for the hot path of
// a server (it blocks its thread).
//
//   auto client = Client::Connect("127.0.0.1", port);
//   auto response = client->Send(Method::kPost, "/sensor", body, {{"Content-Type", "application/json"}});
//
// A response of any status is OK; a Status error means no response was
// received (connection refused or closed, timeout, unparsable answer):
// Unavailable, DeadlineExceeded or DataLoss. After an error or a
// "Connection: close" answer the client reconnects on the next Send.
//
// Thread-safety: one thread at a time per Client; use one Client per thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/tls.h"
#include "runnel/http/message.h"

namespace runnel::http {

struct ClientResponse {
  int status = 0;
  Fields headers;
  std::string body;
  // The header's value (case-insensitive name), if present.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct ClientOptions {
  // Per Send (and per connect).
  absl::Duration timeout = absl::Seconds(30);
  // Unset: plain HTTP. Set: HTTPS, the server's certificate checked against
  // ca_file (empty: the system's roots) and the host name (or IP address)
  // Connect was given; cert_file/key_file are this client's certificate for
  // a server that requires one. A failed handshake is Unavailable.
  std::optional<TlsSettings> tls;
};

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& host, uint16_t port,
                                                         absl::Duration timeout = absl::Seconds(30));
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& host, uint16_t port,
                                                         ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads its response (at most `timeout` overall).
  absl::StatusOr<ClientResponse> Send(Method method, std::string_view target, std::string_view body = {},
                                      const Fields& headers = {});
  absl::StatusOr<ClientResponse> Get(std::string_view target) { return Send(Method::kGet, target); }
  absl::StatusOr<ClientResponse> PostJson(std::string_view target, std::string_view json) {
    return Send(Method::kPost, target, json, {{"Content-Type", "application/json"}});
  }
  // Times the connection was (re)opened, the first included.
  int connects() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_CLIENT_H_
