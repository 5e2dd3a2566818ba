#include "runnel/query/internal/tls_credentials.h"

#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace runnel::query::internal {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsSettings& settings) {
  if (absl::Status s = CheckServerTls(settings); !s.ok()) return s;
  if (!settings.enabled()) return grpc::InsecureServerCredentials();
  auto pem = ReadTlsFiles(settings);
  if (!pem.ok()) return pem.status();
  grpc::SslServerCredentialsOptions options(settings.client_auth == TlsClientAuth::kRequired
                                                ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = pem->ca;
  options.pem_key_cert_pairs.push_back({.private_key = pem->key, .cert_chain = pem->cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeTlsChannelCredentials(const TlsSettings& settings) {
  if (absl::Status s = CheckClientTls(settings); !s.ok()) return s;
  auto pem = ReadTlsFiles(settings);
  if (!pem.ok()) return pem.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pem->ca;
  options.pem_private_key = pem->key;
  options.pem_cert_chain = pem->cert;
  return grpc::SslCredentials(options);
}

}  // namespace runnel::query::internal
