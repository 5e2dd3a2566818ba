#ifndef RUNNEL_KAFKA_CLIENT_CONFIG_H_
#define RUNNEL_KAFKA_CLIENT_CONFIG_H_

// librdkafka configuration as a plain map of properties, and the one way
// Runnel derives a client's configuration: the connection settings (where
// the cluster is and how to log in to it) first, then the client's own.
// Every Kafka client Runnel makes (the runtime's, the apps', the tools')
// is configured through ClientConfigFor, so none can forget the security
// settings (docs/security.md).

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace runnel {
class Config;
class ConfigDef;
}  // namespace runnel

namespace runnel::kafka {

// librdkafka property -> value, e.g. {"bootstrap.servers", "127.0.0.1:9092"}.
// Validated when a client is created: an unknown property or a bad value is
// InvalidArgument naming the property.
using ClientConfig = std::map<std::string, std::string>;

// The connection settings: bootstrap.servers, security.protocol, ssl.* and
// sasl.* (librdkafka's names; the Java-only ones, e.g. ssl.truststore.*, are
// rejected by librdkafka when the client is created, naming the key).
bool IsConnectionKey(std::string_view key);

// The connection settings among `settings` (an application's config, a
// tool's --command-config), nothing else.
ClientConfig ConnectionConfig(const std::map<std::string, std::string>& settings);

// The connection keys of an application's config, defined once for every
// app: security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; `doc`
// says which clients it reaches) and the ssl.* and sasl.* pass-through
// prefixes (librdkafka's names, validated when a client is created).
// bootstrap.servers is the caller's to define.
ConfigDef& DefineConnectionKeys(ConfigDef& def, std::string doc);

// The connection of a config defined with DefineConnectionKeys:
// bootstrap.servers, security.protocol (its default included), ssl.*, sasl.*.
ClientConfig ConnectionFromConfig(const Config& config);

// A client's config: `connection` (from ConnectionConfig), then `role` (the
// client's own: client.id, group.id, a prefixed per-client override) over
// it.
ClientConfig ClientConfigFor(const ClientConfig& connection, const ClientConfig& role);

// The connection of a command-line tool: bootstrap.servers from --bootstrap,
// then every property of the --command-config file (Java-style properties,
// as Kafka's own tools take it: security.protocol, sasl.*, ssl.*, ...);
// `command_config_path` empty: none. Errors name the file and line.
absl::StatusOr<ClientConfig> ToolConnection(const std::string& bootstrap, const std::string& command_config_path);

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_CLIENT_CONFIG_H_
