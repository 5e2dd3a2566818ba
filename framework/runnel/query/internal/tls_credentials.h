#ifndef RUNNEL_QUERY_INTERNAL_TLS_CREDENTIALS_H_
#define RUNNEL_QUERY_INTERNAL_TLS_CREDENTIALS_H_

// gRPC credentials from TlsSettings (runnel/common/tls.h): the query
// server's (TLS, optionally requiring client certificates) and a channel's
// (the query client's, and a server's when it forwards to other instances).
// The PEM files are read once, here; errors name the config key and path.
// Pure functions; any thread.

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "runnel/common/tls.h"

namespace runnel::query::internal {

// Insecure when `settings` has no certificate; otherwise TLS with it, and
// with client.auth=required only clients whose certificate the CA issued.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsSettings& settings);

// TLS to a server: its certificate checked against ca_file (empty: the
// system's roots); cert_file/key_file, when set, are presented to a server
// that asks (mutual TLS).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeTlsChannelCredentials(const TlsSettings& settings);

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_TLS_CREDENTIALS_H_
