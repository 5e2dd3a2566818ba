// HTTPS and mutual TLS of the HTTP server (ServerOptions::tls, http.tls.* in
// the apps), with real sockets: runnel's http::Client and curl over TLS, a
// server-sent event stream over TLS, refusals at the handshake (no client
// certificate, one from another CA, plaintext, an untrusted server), and
// start-up errors naming the key and the path. No broker. See docs/tls.md.

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/tls_certs.h"
#include "runnel/http/client.h"
#include "runnel/http/event_stream.h"
#include "runnel/http/server.h"

namespace runnel::http {
namespace {

using tls_test::Certs;
using tls_test::MakeCerts;
using tls_test::RunCommand;

class TlsHttpTest : public ::testing::Test {
 protected:
  ~TlsHttpTest() override { std::filesystem::remove_all(certs_.dir); }

  std::unique_ptr<Server> StartServer(bool mutual) {
    Router router;
    router.Get("/hello", Sync([](const Request& r) {
      return Response::Text(200, absl::StrCat("hello ", r.remote_address()));
    }));
    router.Get("/events", [](Request, Responder responder) {
      auto stream = std::move(responder).StartEventStream();
      stream->Send({.data = "first"});
      stream->Close();
    });
    ServerOptions options;
    options.tls.cert_file = certs_.Path("server.pem");
    options.tls.key_file = certs_.Path("server.key");
    if (mutual) {
      options.tls.ca_file = certs_.Path("ca.pem");
      options.tls.client_auth = TlsClientAuth::kRequired;
    }
    auto server = Server::Start(options, std::move(router));
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  absl::StatusOr<ClientResponse> GetWith(uint16_t port, std::optional<TlsSettings> tls,
                                         const std::string& host = "127.0.0.1") {
    auto client = Client::Connect(host, port, ClientOptions{.timeout = absl::Seconds(10), .tls = std::move(tls)});
    if (!client.ok()) return client.status();
    return (*client)->Get("/hello");
  }

  std::string Curl(uint16_t port, const std::string& options, const std::string& path = "/hello") {
    return absl::StrCat("curl -sS --max-time 10 ", options, " https://127.0.0.1:", port, path);
  }

  Certs certs_ = MakeCerts();
};

TEST_F(TlsHttpTest, HttpsAnswersTrustingClientsAndRefusesPlaintextAndUntrustingOnes) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  auto ok = GetWith(server->port(), TlsSettings{.ca_file = certs_.Path("ca.pem")});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_TRUE(absl::StartsWith(ok->body, "hello 127.0.0.1:")) << ok->body;
  // The certificate names localhost too.
  auto by_name = GetWith(server->port(), TlsSettings{.ca_file = certs_.Path("ca.pem")}, "localhost");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->status, 200);
  // A client trusting another CA refuses the server at the handshake.
  auto untrusted = GetWith(server->port(), TlsSettings{.ca_file = certs_.Path("other-ca.pem")});
  EXPECT_TRUE(absl::IsUnavailable(untrusted.status())) << untrusted.status();
  EXPECT_TRUE(absl::StrContains(untrusted.status().message(), "handshake")) << untrusted.status();
  // Plain HTTP to the HTTPS port gets no answer.
  auto plaintext = GetWith(server->port(), std::nullopt);
  EXPECT_FALSE(plaintext.ok() && plaintext->status == 200);

  auto curl = RunCommand(Curl(server->port(), "--cacert " + certs_.Path("ca.pem")));
  EXPECT_EQ(curl.exit_code, 0) << curl.output;
  EXPECT_TRUE(absl::StartsWith(curl.output, "hello 127.0.0.1:")) << curl.output;
  auto events = RunCommand(Curl(server->port(), "--cacert " + certs_.Path("ca.pem"), "/events"));
  EXPECT_EQ(events.exit_code, 0) << events.output;
  EXPECT_TRUE(absl::StrContains(events.output, "data: first")) << events.output;
  auto curl_untrusting = RunCommand(Curl(server->port(), ""));  // the system's roots
  EXPECT_EQ(curl_untrusting.exit_code, 60) << curl_untrusting.output;  // peer certificate not verified
  EXPECT_TRUE(server->Shutdown(absl::Seconds(5)).ok());
}

TEST_F(TlsHttpTest, MutualTlsRefusesClientsWithoutACertificateOrWithOneFromAnotherCaAtTheHandshake) {
  auto server = StartServer(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  const std::string ca = certs_.Path("ca.pem");
  auto with_cert = GetWith(server->port(), TlsSettings{.cert_file = certs_.Path("client.pem"),
                                                       .key_file = certs_.Path("client.key"),
                                                       .ca_file = ca});
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_EQ(with_cert->status, 200);
  auto no_cert = GetWith(server->port(), TlsSettings{.ca_file = ca});
  EXPECT_FALSE(no_cert.ok()) << no_cert->status;
  auto other_ca = GetWith(server->port(), TlsSettings{.cert_file = certs_.Path("other-client.pem"),
                                                      .key_file = certs_.Path("other-client.key"),
                                                      .ca_file = ca});
  EXPECT_FALSE(other_ca.ok()) << other_ca->status;

  auto curl = RunCommand(Curl(server->port(), absl::StrCat("--cacert ", ca, " --cert ", certs_.Path("client.pem"),
                                                    " --key ", certs_.Path("client.key"))));
  EXPECT_EQ(curl.exit_code, 0) << curl.output;
  EXPECT_TRUE(absl::StartsWith(curl.output, "hello ")) << curl.output;
  // Without --cert: the handshake fails (TLS 1.3 reports the server's alert
  // on the first read: curl's 56, or 35 for an SSL connect error).
  auto curl_no_cert = RunCommand(Curl(server->port(), "--cacert " + ca));
  EXPECT_TRUE(curl_no_cert.exit_code == 35 || curl_no_cert.exit_code == 56) << curl_no_cert.output;
  EXPECT_FALSE(absl::StrContains(curl_no_cert.output, "hello")) << curl_no_cert.output;
  auto curl_other = RunCommand(Curl(server->port(), absl::StrCat("--cacert ", ca, " --cert ", certs_.Path("other-client.pem"),
                                                          " --key ", certs_.Path("other-client.key"))));
  EXPECT_TRUE(curl_other.exit_code == 35 || curl_other.exit_code == 56) << curl_other.output;
  EXPECT_FALSE(absl::StrContains(curl_other.output, "hello")) << curl_other.output;
  EXPECT_EQ(server->stats().requests, 2);  // only the two clients with a good certificate got through
  EXPECT_TRUE(server->Shutdown(absl::Seconds(5)).ok());
}

TEST_F(TlsHttpTest, BadTlsSettingsStopStartUpNamingTheKeyAndThePath) {
  auto start = [](TlsSettings tls) { return Server::Start({.tls = std::move(tls)}, Router()).status(); };
  const std::string missing = certs_.Path("missing.pem");
  absl::Status s = start({.cert_file = missing, .key_file = certs_.Path("server.key"), .key_prefix = "http.tls."});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "http.tls.cert.file") && absl::StrContains(s.message(), missing)) << s;
  s = start({.cert_file = certs_.Path("server.pem"), .key_file = certs_.Path("ca.pem"), .key_prefix = "gw.tls."});
  EXPECT_TRUE(absl::StrContains(s.message(), "gw.tls.key.file")) << s;
  s = start({.cert_file = certs_.Path("server.pem"), .key_file = certs_.Path("client.key"), .key_prefix = "x."});
  // The key of another certificate (OpenSSL: "key values mismatch").
  EXPECT_TRUE(absl::StrContains(s.message(), "x.key.file") && absl::StrContains(s.message(), "client.key")) << s;
  s = start({.cert_file = certs_.Path("server.pem"),
             .key_file = certs_.Path("server.key"),
             .client_auth = TlsClientAuth::kRequired,
             .key_prefix = "http.tls."});
  EXPECT_TRUE(absl::StrContains(s.message(), "http.tls.ca.file")) << s;
  s = start({.cert_file = certs_.Path("server.pem"), .key_prefix = "http.tls."});
  EXPECT_TRUE(absl::StrContains(s.message(), "http.tls.key.file")) << s;
}

}  // namespace
}  // namespace runnel::http
