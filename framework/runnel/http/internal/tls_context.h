#ifndef RUNNEL_HTTP_INTERNAL_TLS_CONTEXT_H_
#define RUNNEL_HTTP_INTERNAL_TLS_CONTEXT_H_

// OpenSSL contexts (boost::asio::ssl) from TlsSettings (runnel/common/tls.h)
// for the HTTP server and client. The PEM files are read here, once; errors
// name the config key and the path. Any thread.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "absl/status/statusor.h"
#include "runnel/common/tls.h"

namespace runnel::http::internal {

// TLS 1.2+ server context with the certificate and key; with
// client.auth=required, a handshake without a certificate the CA issued fails.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsSettings& settings);

// TLS 1.2+ client context: the server's certificate is checked against
// ca_file (empty: the system's roots); cert_file/key_file are presented when
// set. The host name is checked per connection (see client.cc).
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const TlsSettings& settings);

}  // namespace runnel::http::internal

#endif  // RUNNEL_HTTP_INTERNAL_TLS_CONTEXT_H_
