#include "runnel/common/config.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runnel/common/check.h"
#include "runnel/common/strings.h"

extern char** environ;

namespace runnel {
namespace {

absl::string_view TypeName(ConfigType type) {
  switch (type) {
    case ConfigType::kString: return "string";
    case ConfigType::kInt: return "int";
    case ConfigType::kBool: return "bool";
    case ConfigType::kDouble: return "double";
    case ConfigType::kList: return "list";
  }
  return "?";
}

absl::Status BadValue(const ConfigKey& key, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("config key '", key.name, "': invalid value '",
                                                 DisplayConfigValue(key.name, ToStd(value)), "': ", why));
}

absl::StatusOr<ConfigValue> ParseValue(const ConfigKey& key, absl::string_view raw) {
  absl::string_view text = absl::StripAsciiWhitespace(raw);
  switch (key.type) {
    case ConfigType::kString: {
      if (!key.allowed.empty()) {
        for (const auto& a : key.allowed) {
          if (a == text) return ConfigValue(std::string(text));
        }
        return BadValue(key, text, absl::StrCat("must be one of ", absl::StrJoin(key.allowed, ", ")));
      }
      return ConfigValue(std::string(text));
    }
    case ConfigType::kInt: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return BadValue(key, text, "not an integer");
      if ((key.min && v < *key.min) || (key.max && v > *key.max)) {
        return BadValue(key, text,
                        absl::StrCat("out of range [", key.min ? absl::StrCat(*key.min) : "-inf",
                                     ", ", key.max ? absl::StrCat(*key.max) : "inf", "]"));
      }
      return ConfigValue(v);
    }
    case ConfigType::kDouble: {
      double v;
      if (!absl::SimpleAtod(text, &v)) return BadValue(key, text, "not a number");
      if ((key.min && v < *key.min) || (key.max && v > *key.max)) {
        return BadValue(key, text, "out of range");
      }
      return ConfigValue(v);
    }
    case ConfigType::kBool: {
      std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true") return ConfigValue(true);
      if (lower == "false") return ConfigValue(false);
      return BadValue(key, text, "must be true or false");
    }
    case ConfigType::kList: {
      std::vector<std::string> items;
      for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
        items.emplace_back(absl::StripAsciiWhitespace(part));
      }
      return ConfigValue(std::move(items));
    }
  }
  return absl::InternalError("unreachable");
}

// "unknown config key 'num.stream.thread' (did you mean 'num.stream.threads'?)":
// the nearest defined key, or the key with its first part replaced by the
// nearest pass-through prefix ("consumr.fetch.max.bytes").
absl::Status UnknownKey(const ConfigDef& def, const std::string& name) {
  std::vector<std::string> candidates;
  candidates.reserve(def.keys().size() + def.prefixes().size());
  for (const auto& [known, key] : def.keys()) candidates.push_back(known);
  if (const size_t dot = name.find('.'); dot != std::string::npos && dot + 1 < name.size()) {
    for (const auto& prefix : def.prefixes()) candidates.push_back(prefix + name.substr(dot + 1));
  }
  std::string message = absl::StrCat("unknown config key '", name, "'");
  if (auto nearest = Nearest(name, candidates, TypoDistance(name))) {
    absl::StrAppend(&message, " (did you mean '", *nearest, "'?)");
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace

ConfigDef& ConfigDef::Define(ConfigKey key) {
  RUNNEL_CHECK(!keys_.contains(key.name)) << "config key defined twice: " << key.name;
  if (key.default_value) {
    RUNNEL_CHECK(ParseValue(key, *key.default_value).ok())
        << "bad default for " << key.name << ": " << *key.default_value;
  }
  std::string name = key.name;
  keys_.emplace(std::move(name), std::move(key));
  return *this;
}

ConfigDef& ConfigDef::PassThroughPrefix(std::string prefix) {
  prefixes_.push_back(std::move(prefix));
  return *this;
}

const ConfigKey* ConfigDef::Find(std::string_view name) const {
  auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : &it->second;
}

std::string ConfigDef::Describe() const {
  std::string out;
  for (const auto& [name, key] : keys_) {
    absl::StrAppend(&out, name, " (", TypeName(key.type), ", ",
                    key.default_value ? absl::StrCat("default '", *key.default_value, "'")
                                      : std::string("required"),
                    key.allowed.empty() ? "" : absl::StrCat(", one of ", absl::StrJoin(key.allowed, "|")),
                    ")\n    ", key.doc, "\n");
  }
  for (const auto& p : prefixes_) absl::StrAppend(&out, p, "* (passed through)\n");
  return out;
}

absl::StatusOr<Config> Config::Parse(const ConfigDef& def,
                                     const std::map<std::string, std::string>& values) {
  Config config;
  config.raw_ = values;
  for (const auto& [name, raw] : values) {
    if (const ConfigKey* key = def.Find(name)) {
      auto parsed = ParseValue(*key, raw);
      if (!parsed.ok()) return parsed.status();
      config.values_.emplace(name, *std::move(parsed));
      continue;
    }
    bool passed = false;
    for (const auto& prefix : def.prefixes()) {
      if (absl::StartsWith(name, prefix) && name.size() > prefix.size()) passed = true;
    }
    if (!passed) return UnknownKey(def, name);
  }
  for (const auto& [name, key] : def.keys()) {
    if (config.values_.contains(name)) continue;
    if (!key.default_value) {
      return absl::InvalidArgumentError(absl::StrCat("config key '", name, "' is required"));
    }
    config.values_.emplace(name, *ParseValue(key, *key.default_value));
  }
  return config;
}

const ConfigValue& Config::Get(std::string_view key) const {
  auto it = values_.find(key);
  RUNNEL_CHECK(it != values_.end()) << "config key not defined: " << key;
  return it->second;
}

const std::string& Config::GetString(std::string_view key) const {
  const auto* v = std::get_if<std::string>(&Get(key));
  RUNNEL_CHECK(v != nullptr) << "config key is not a string: " << key;
  return *v;
}
int64_t Config::GetInt(std::string_view key) const {
  const auto* v = std::get_if<int64_t>(&Get(key));
  RUNNEL_CHECK(v != nullptr) << "config key is not an int: " << key;
  return *v;
}
bool Config::GetBool(std::string_view key) const {
  const auto* v = std::get_if<bool>(&Get(key));
  RUNNEL_CHECK(v != nullptr) << "config key is not a bool: " << key;
  return *v;
}
double Config::GetDouble(std::string_view key) const {
  const auto* v = std::get_if<double>(&Get(key));
  RUNNEL_CHECK(v != nullptr) << "config key is not a double: " << key;
  return *v;
}
const std::vector<std::string>& Config::GetList(std::string_view key) const {
  const auto* v = std::get_if<std::vector<std::string>>(&Get(key));
  RUNNEL_CHECK(v != nullptr) << "config key is not a list: " << key;
  return *v;
}
bool Config::IsSet(std::string_view key) const { return raw_.contains(std::string(key)); }

std::string Config::Describe() const { return DescribeConfigValues(raw_); }

bool IsSecretConfigKey(std::string_view key) {
  const std::string lower = absl::AsciiStrToLower(ToAbsl(key));
  for (absl::string_view word : {"password", "secret", "token", "credential", "jaas"}) {
    if (absl::StrContains(lower, word)) return true;
  }
  // Private key material: ssl.key.pem, ssl_key (librdkafka), *.private.key.
  return absl::EndsWith(lower, "key.pem") || absl::EndsWith(lower, "ssl_key") ||
         absl::EndsWith(lower, "private.key");
}

std::string DisplayConfigValue(std::string_view key, std::string_view value) {
  return std::string(IsSecretConfigKey(key) ? kHiddenConfigValue : value);
}

std::string DescribeConfigValues(const std::map<std::string, std::string>& values) {
  std::string out;
  for (const auto& [key, value] : values) absl::StrAppend(&out, key, "=", DisplayConfigValue(key, value), "\n");
  return out;
}

std::map<std::string, std::string> Config::WithPrefix(std::string_view prefix) const {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : raw_) {
    if (absl::StartsWith(name, ToAbsl(prefix))) out.emplace(name.substr(prefix.size()), value);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseProperties(std::string_view text,
                                                                   std::string_view origin) {
  std::map<std::string, std::string> out;
  absl::string_view origin_a = ToAbsl(origin);
  std::vector<absl::string_view> lines = absl::StrSplit(ToAbsl(text), '\n');
  std::string logical;
  int start_line = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = absl::StripTrailingAsciiWhitespace(lines[i]);
    if (logical.empty()) {
      start_line = static_cast<int>(i) + 1;
      line = absl::StripLeadingAsciiWhitespace(line);
      if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    } else {
      line = absl::StripLeadingAsciiWhitespace(line);
    }
    if (!line.empty() && line.back() == '\\') {
      line.remove_suffix(1);
      absl::StrAppend(&logical, line);
      continue;
    }
    absl::StrAppend(&logical, line);
    size_t sep = logical.find_first_of("=:");
    if (sep == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(origin_a, ":", start_line,
                                                     ": expected key=value, got '", logical, "'"));
    }
    std::string key(absl::StripAsciiWhitespace(absl::string_view(logical).substr(0, sep)));
    std::string value(absl::StripAsciiWhitespace(absl::string_view(logical).substr(sep + 1)));
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(origin_a, ":", start_line, ": empty key"));
    }
    out[key] = value;
    logical.clear();
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParsePropertiesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read config file '", path, "'"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseProperties(buffer.str(), path);
}

std::map<std::string, std::string> ConfigFromEnvironment(std::string_view prefix, char** env) {
  std::map<std::string, std::string> out;
  for (char** e = env ? env : environ; e && *e; ++e) {
    absl::string_view entry(*e);
    if (!absl::StartsWith(entry, ToAbsl(prefix))) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(entry.substr(prefix.size(), eq - prefix.size()));
    if (key.empty()) continue;
    key = absl::AsciiStrToLower(key);
    for (char& c : key) {
      if (c == '_') c = '.';
    }
    out[key] = std::string(entry.substr(eq + 1));
  }
  return out;
}

ConfigLoader& ConfigLoader::Add(const std::map<std::string, std::string>& values) {
  for (const auto& [k, v] : values) values_[k] = v;
  return *this;
}

absl::Status ConfigLoader::AddFile(const std::string& path) {
  auto values = ParsePropertiesFile(path);
  if (!values.ok()) return values.status();
  Add(*values);
  return absl::OkStatus();
}

ConfigLoader& ConfigLoader::AddEnvironment(std::string_view prefix) {
  return Add(ConfigFromEnvironment(prefix));
}

}  // namespace runnel
