#ifndef RUNNEL_COMMON_TLS_H_
#define RUNNEL_COMMON_TLS_H_

// TLS settings shared by Runnel's servers and clients (the gRPC query
// service, the HTTP servers, their clients): which PEM files to use, and
// whether a server requires client certificates (mutual TLS). The settings
// come from config keys `<prefix>cert.file`, `<prefix>key.file`,
// `<prefix>ca.file` and `<prefix>client.auth` (prefix e.g. "query.tls.",
// "http.tls."); every error names the key and the path. See docs/tls.md.
//
// Value types and pure functions; thread-safe.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/config.h"

namespace runnel {

enum class TlsClientAuth {
  kNone,      // the server asks for no client certificate
  kRequired,  // mutual TLS: no handshake without a certificate issued by the CA
};

struct TlsSettings {
  // PEM certificate chain and its private key: a server's identity, or a
  // client's under mutual TLS. Empty: none.
  std::string cert_file;
  std::string key_file;
  // PEM CA certificates: a server checks client certificates against them; a
  // client checks the server's. Empty on a client: the system's roots.
  std::string ca_file;
  TlsClientAuth client_auth = TlsClientAuth::kNone;
  // Where the settings came from, for errors: "query.tls.", "http.tls.".
  std::string key_prefix = "tls.";

  // A server serves TLS when it has a certificate.
  bool enabled() const { return !cert_file.empty(); }
};

// The files' contents.
struct TlsPem {
  std::string cert;
  std::string key;
  std::string ca;
};

// "none" | "required"; InvalidArgument naming `<prefix>client.auth` otherwise.
absl::StatusOr<TlsClientAuth> ParseTlsClientAuth(std::string_view value, std::string_view key_prefix);

// Checks that the keys fit together for a server: a certificate and its key
// come together, and client.auth=required has a CA to check clients with.
// Does not read the files.
absl::Status CheckServerTls(const TlsSettings& settings);
// The same for a client: a client certificate needs its key and vice versa.
absl::Status CheckClientTls(const TlsSettings& settings);

// Reads every file that is set. InvalidArgument naming the key and the path
// when one cannot be read or holds no PEM block of the expected kind.
absl::StatusOr<TlsPem> ReadTlsFiles(const TlsSettings& settings);

// Defines `<prefix>cert.file`, `key.file`, `ca.file` (default empty) and
// `client.auth` (none|required) in `def`, documented for `server` ("the
// HTTP server"). For the apps' own configs.
ConfigDef& DefineTlsKeys(ConfigDef& def, std::string_view prefix, std::string_view server);
// Those keys' values (from a Config parsed with them defined).
TlsSettings TlsSettingsFromConfig(const Config& config, std::string_view prefix);

}  // namespace runnel

#endif  // RUNNEL_COMMON_TLS_H_
