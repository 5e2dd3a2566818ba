#ifndef RUNNEL_COMMON_CONFIG_H_
#define RUNNEL_COMMON_CONFIG_H_

// Typed, validated configuration.
//
// A ConfigDef lists every key a component accepts: its type, default (or that
// it is required), allowed values and documentation. Config::Parse checks a
// flat map of strings against it: an unknown key, a missing required key or a
// bad value is an InvalidArgument error whose message names the key (an
// unknown one with the nearest known key, "did you mean ...?"). Keys that
// start with a declared pass-through prefix ("consumer.", "producer.", ...) are
// kept verbatim for the layer below (librdkafka), which validates them itself.
//
// Sources, lowest precedence first: a properties file, the environment
// (RUNNEL_CONF_BOOTSTRAP_SERVERS -> bootstrap.servers), then explicit overrides;
// ConfigLoader layers them.
//
// Thread-safety: a Config is immutable after Parse and may be shared.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace runnel {

enum class ConfigType { kString, kInt, kBool, kDouble, kList };

using ConfigValue = std::variant<std::string, int64_t, bool, double, std::vector<std::string>>;

struct ConfigKey {
  std::string name;
  ConfigType type = ConfigType::kString;
  // Unset means the key is required.
  std::optional<std::string> default_value;
  // For kString: the allowed values (empty = any). Compared exactly.
  std::vector<std::string> allowed;
  // For kInt and kDouble: inclusive bounds.
  std::optional<double> min;
  std::optional<double> max;
  std::string doc;
};

class ConfigDef {
 public:
  ConfigDef& Define(ConfigKey key);
  // Keys beginning with `prefix` (e.g. "consumer.") pass through unparsed.
  ConfigDef& PassThroughPrefix(std::string prefix);

  const ConfigKey* Find(std::string_view name) const;
  const std::map<std::string, ConfigKey, std::less<>>& keys() const { return keys_; }
  const std::vector<std::string>& prefixes() const { return prefixes_; }
  // A human-readable table of keys, types, defaults and docs.
  std::string Describe() const;

 private:
  std::map<std::string, ConfigKey, std::less<>> keys_;
  std::vector<std::string> prefixes_;
};

class Config {
 public:
  // Validates `values` against `def`. Errors name the offending key.
  static absl::StatusOr<Config> Parse(const ConfigDef& def,
                                      const std::map<std::string, std::string>& values);

  // Typed getters; the key must be declared with that type (checked).
  const std::string& GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  const std::vector<std::string>& GetList(std::string_view key) const;
  // True when the user set the key (rather than it taking its default).
  bool IsSet(std::string_view key) const;

  // Pass-through keys under `prefix`, with the prefix removed.
  std::map<std::string, std::string> WithPrefix(std::string_view prefix) const;
  // Every value as the user gave it (after layering). Holds secrets: print
  // Describe(), never this.
  const std::map<std::string, std::string>& raw() const { return raw_; }
  // One "key=value" line per key the user set, sorted, secrets hidden
  // (IsSecretConfigKey): what a log or a config dump may show.
  std::string Describe() const;

 private:
  const ConfigValue& Get(std::string_view key) const;
  std::map<std::string, ConfigValue, std::less<>> values_;
  std::map<std::string, std::string> raw_;
};

// Secrets. A key whose value must never be shown (logs, Describe(), error
// messages, the topology record): any dotted part that is or contains
// "password", "secret", "token", "credential" or "jaas" (sasl.password,
// ssl.key.password, ssl.keystore.password, sasl.jaas.config,
// sasl.oauthbearer.client.secret, db.password, ...), and private key
// material (ssl.key.pem, ssl_key, *.private.key). Case-insensitive; a
// prefixed key ("consumer.sasl.password") is judged by its whole name.
bool IsSecretConfigKey(std::string_view key);
// What replaces a secret's value wherever it would be shown.
inline constexpr std::string_view kHiddenConfigValue = "[hidden]";
// `value`, or kHiddenConfigValue when `key` is a secret.
std::string DisplayConfigValue(std::string_view key, std::string_view value);
// "key=value" lines of `values` (sorted), secrets hidden.
std::string DescribeConfigValues(const std::map<std::string, std::string>& values);

// Reads Java-style .properties: `key=value` or `key: value`, # and ! comments,
// trailing-backslash continuation lines. Errors name the file and line.
absl::StatusOr<std::map<std::string, std::string>> ParsePropertiesFile(const std::string& path);
absl::StatusOr<std::map<std::string, std::string>> ParseProperties(std::string_view text,
                                                                   std::string_view origin);

// Variables named `<prefix><KEY>` become keys: RUNNEL_CONF_COMMIT_INTERVAL_MS ->
// commit.interval.ms. `environ` defaults to the process environment.
std::map<std::string, std::string> ConfigFromEnvironment(std::string_view prefix = "RUNNEL_CONF_",
                                                         char** environ_ptr = nullptr);

// Layers sources: Add() later wins over earlier.
class ConfigLoader {
 public:
  ConfigLoader& Add(const std::map<std::string, std::string>& values);
  absl::Status AddFile(const std::string& path);
  ConfigLoader& AddEnvironment(std::string_view prefix = "RUNNEL_CONF_");
  const std::map<std::string, std::string>& values() const { return values_; }
  absl::StatusOr<Config> Build(const ConfigDef& def) const { return Config::Parse(def, values_); }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace runnel

#endif  // RUNNEL_COMMON_CONFIG_H_
