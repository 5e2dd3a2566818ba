#ifndef RUNNEL_COMMON_HEADERS_H_
#define RUNNEL_COMMON_HEADERS_H_

// Kafka record headers, shared by the Kafka client layer and the Processor
// API. A null header value is distinct from an empty one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runnel {

struct Header {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const Header&) const = default;
};

using Headers = std::vector<Header>;

// The value of the last header named `key`, if any.
inline const Header* LastHeader(const Headers& headers, std::string_view key) {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->key == key) return &*it;
  }
  return nullptr;
}

}  // namespace runnel

#endif  // RUNNEL_COMMON_HEADERS_H_
