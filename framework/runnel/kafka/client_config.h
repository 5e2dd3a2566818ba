#ifndef RUNNEL_KAFKA_CLIENT_CONFIG_H_
#define RUNNEL_KAFKA_CLIENT_CONFIG_H_

// librdkafka configuration as a plain map of properties, plus the hooks every
// Runnel client installs (logging into spdlog, error callbacks).

#include <map>
#include <string>

namespace runnel::kafka {

// librdkafka property -> value, e.g. {"bootstrap.servers", "127.0.0.1:9092"}.
// Validated when a client is created: an unknown property or a bad value is
// InvalidArgument naming the property.
using ClientConfig = std::map<std::string, std::string>;

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_CLIENT_CONFIG_H_
