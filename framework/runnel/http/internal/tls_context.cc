#include "runnel/http/internal/tls_context.h"

#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>

#include "absl/strings/str_cat.h"

namespace runnel::http::internal {
namespace {

namespace ssl = boost::asio::ssl;

absl::Status Error(const TlsSettings& settings, const char* key, const std::string& path,
                   const boost::system::error_code& ec) {
  return absl::InvalidArgumentError(
      absl::StrCat("config key '", settings.key_prefix, key, "': '", path, "': ", ec.message()));
}

// Loads what `pem` holds into `context`: certificate and key (checked to be
// a pair), and the CA as the store that verifies the peer.
absl::Status Load(const TlsSettings& settings, const TlsPem& pem, ssl::context& context) {
  boost::system::error_code ec;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                      ec);
  if (!pem.cert.empty()) {
    context.use_certificate_chain(boost::asio::buffer(pem.cert), ec);
    if (ec) return Error(settings, "cert.file", settings.cert_file, ec);
    context.use_private_key(boost::asio::buffer(pem.key), ssl::context::pem, ec);
    if (ec) return Error(settings, "key.file", settings.key_file, ec);
    if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("config key '", settings.key_prefix, "key.file': '",
                                                     settings.key_file, "' is not the key of '",
                                                     settings.cert_file, "'"));
    }
  }
  if (!pem.ca.empty()) {
    context.add_certificate_authority(boost::asio::buffer(pem.ca), ec);
    if (ec) return Error(settings, "ca.file", settings.ca_file, ec);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ssl::context>> MakeServerTlsContext(const TlsSettings& settings) {
  if (absl::Status s = CheckServerTls(settings); !s.ok()) return s;
  auto pem = ReadTlsFiles(settings);
  if (!pem.ok()) return pem.status();
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  if (absl::Status s = Load(settings, *pem, *context); !s.ok()) return s;
  if (settings.client_auth == TlsClientAuth::kRequired) {
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

absl::StatusOr<std::unique_ptr<ssl::context>> MakeClientTlsContext(const TlsSettings& settings) {
  if (absl::Status s = CheckClientTls(settings); !s.ok()) return s;
  auto pem = ReadTlsFiles(settings);
  if (!pem.ok()) return pem.status();
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  if (absl::Status s = Load(settings, *pem, *context); !s.ok()) return s;
  if (pem->ca.empty()) {
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);
    if (ec) return absl::InternalError(absl::StrCat("TLS: the system's CA certificates: ", ec.message()));
  }
  context->set_verify_mode(ssl::verify_peer);
  return context;
}

}  // namespace runnel::http::internal
