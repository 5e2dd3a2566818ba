#include "runnel/common/tls.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

std::string Key(const TlsSettings& settings, std::string_view name) {
  return absl::StrCat(settings.key_prefix, ToAbsl(name));
}

// Reads `path` (the value of config key `key`) and checks that it holds a PEM
// block whose label ends with `label` ("CERTIFICATE", "PRIVATE KEY").
absl::StatusOr<std::string> ReadPem(const std::string& key, const std::string& path, std::string_view label) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("config key '", key, "': cannot read '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("config key '", key, "': error reading '", path, "'"));
  }
  std::string pem = std::move(contents).str();
  // A key file may start with other blocks (EC PARAMETERS): look for the
  // kind asked for anywhere.
  if (!absl::StrContains(pem, "-----BEGIN ") || !absl::StrContains(pem, absl::StrCat(ToAbsl(label), "-----"))) {
    return absl::InvalidArgumentError(absl::StrCat("config key '", key, "': '", path, "' holds no PEM ",
                                                   ToAbsl(label), " (-----BEGIN ... ", ToAbsl(label), "-----)"));
  }
  return pem;
}

absl::Status CheckPair(const TlsSettings& settings) {
  if (settings.cert_file.empty() != settings.key_file.empty()) {
    const bool cert_missing = settings.cert_file.empty();
    return absl::InvalidArgumentError(absl::StrCat(
        "config key '", Key(settings, cert_missing ? "cert.file" : "key.file"), "' must be set with '",
        Key(settings, cert_missing ? "key.file" : "cert.file"), "': a certificate needs its private key"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsClientAuth> ParseTlsClientAuth(std::string_view value, std::string_view key_prefix) {
  if (value.empty() || value == "none") return TlsClientAuth::kNone;
  if (value == "required") return TlsClientAuth::kRequired;
  return absl::InvalidArgumentError(absl::StrCat("config key '", ToAbsl(key_prefix),
                                                 "client.auth' must be none or required, got '", ToAbsl(value), "'"));
}

absl::Status CheckServerTls(const TlsSettings& settings) {
  if (absl::Status s = CheckPair(settings); !s.ok()) return s;
  if (!settings.enabled()) {
    if (settings.client_auth == TlsClientAuth::kRequired || !settings.ca_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config key '", Key(settings, settings.ca_file.empty() ? "client.auth" : "ca.file"),
                       "' is set but '", Key(settings, "cert.file"),
                       "' is not: TLS needs the server's certificate and key"));
    }
    return absl::OkStatus();
  }
  if (settings.client_auth == TlsClientAuth::kRequired && settings.ca_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("config key '", Key(settings, "client.auth"),
                                                   "' is required, which needs '", Key(settings, "ca.file"),
                                                   "': the CA that issues the clients' certificates"));
  }
  return absl::OkStatus();
}

absl::Status CheckClientTls(const TlsSettings& settings) { return CheckPair(settings); }

absl::StatusOr<TlsPem> ReadTlsFiles(const TlsSettings& settings) {
  TlsPem pem;
  if (!settings.cert_file.empty()) {
    auto cert = ReadPem(Key(settings, "cert.file"), settings.cert_file, "CERTIFICATE");
    if (!cert.ok()) return cert.status();
    pem.cert = *std::move(cert);
  }
  if (!settings.key_file.empty()) {
    auto key = ReadPem(Key(settings, "key.file"), settings.key_file, "PRIVATE KEY");
    if (!key.ok()) return key.status();
    pem.key = *std::move(key);
  }
  if (!settings.ca_file.empty()) {
    auto ca = ReadPem(Key(settings, "ca.file"), settings.ca_file, "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    pem.ca = *std::move(ca);
  }
  return pem;
}

ConfigDef& DefineTlsKeys(ConfigDef& def, std::string_view prefix, std::string_view server) {
  const std::string p(prefix);
  const std::string what(server);
  return def
      .Define({.name = p + "cert.file",
               .default_value = "",
               .doc = absl::StrCat("PEM certificate (chain) of ", what, "; set: it serves TLS only (docs/tls.md)")})
      .Define({.name = p + "key.file", .default_value = "", .doc = absl::StrCat("PEM private key of ", p, "cert.file")})
      .Define({.name = p + "ca.file",
               .default_value = "",
               .doc = absl::StrCat("PEM CA certificates that client certificates are checked against (",
                                   p, "client.auth=required)")})
      .Define({.name = p + "client.auth",
               .default_value = "none",
               .allowed = {"none", "required"},
               .doc = "required: mutual TLS, a client without a certificate issued by " + p +
                      "ca.file is refused at the handshake"});
}

TlsSettings TlsSettingsFromConfig(const Config& config, std::string_view prefix) {
  const std::string p(prefix);
  return TlsSettings{.cert_file = config.GetString(p + "cert.file"),
                     .key_file = config.GetString(p + "key.file"),
                     .ca_file = config.GetString(p + "ca.file"),
                     .client_auth = config.GetString(p + "client.auth") == "required" ? TlsClientAuth::kRequired
                                                                                       : TlsClientAuth::kNone,
                     .key_prefix = p};
}

}  // namespace runnel
