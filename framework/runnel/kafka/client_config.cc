#include "runnel/kafka/client_config.h"

#include "absl/strings/match.h"
#include "runnel/common/config.h"
#include "runnel/common/strings.h"

namespace runnel::kafka {

bool IsConnectionKey(std::string_view key) {
  return key == "bootstrap.servers" || key == "security.protocol" || absl::StartsWith(ToAbsl(key), "ssl.") ||
         absl::StartsWith(ToAbsl(key), "sasl.");
}

ClientConfig ConnectionConfig(const std::map<std::string, std::string>& settings) {
  ClientConfig out;
  for (const auto& [key, value] : settings) {
    if (IsConnectionKey(key)) out.emplace(key, value);
  }
  return out;
}

ConfigDef& DefineConnectionKeys(ConfigDef& def, std::string doc) {
  return def
      .Define({.name = "security.protocol",
               .default_value = "PLAINTEXT",
               .allowed = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"},
               .doc = std::move(doc)})
      .PassThroughPrefix("ssl.")
      .PassThroughPrefix("sasl.");
}

ClientConfig ConnectionFromConfig(const Config& config) {
  ClientConfig c = ConnectionConfig(config.raw());
  c["bootstrap.servers"] = config.GetString("bootstrap.servers");
  c["security.protocol"] = config.GetString("security.protocol");
  return c;
}

ClientConfig ClientConfigFor(const ClientConfig& connection, const ClientConfig& role) {
  ClientConfig out = connection;
  for (const auto& [key, value] : role) out[key] = value;
  return out;
}

absl::StatusOr<ClientConfig> ToolConnection(const std::string& bootstrap, const std::string& command_config_path) {
  ClientConfig out;
  if (!command_config_path.empty()) {
    auto file = ParsePropertiesFile(command_config_path);
    if (!file.ok()) return file.status();
    out = *std::move(file);
  }
  out["bootstrap.servers"] = bootstrap;
  return out;
}

}  // namespace runnel::kafka
