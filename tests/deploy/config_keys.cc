// runnel-deploy-config-keys: prints what the deploy drift test checks
// configuration against, one entry per line:
//   streams <key>        every key StreamsConfig knows
//   streams-prefix <p>   its pass-through prefixes (consumer., ...)
//   librdkafka <name> <scope>  every librdkafka property (what a pass-through
//                        key names after its prefix); scope C, P or *
// The apps' own keys come from their --help (deploy_drift_test.py).

#include <cstdio>
#include <cstdlib>
#include <string>

#include "librdkafka/rdkafka.h"
#include "runnel/runtime/streams_config.h"

namespace {

// rd_kafka_conf_properties_show writes Markdown tables (global, then topic
// properties): "name | C/P | range | default | importance | description".
// Printed as "librdkafka <name> <C|P|*>" (C: consumer only, P: producer only).
int PrintLibrdkafkaProperties() {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  if (out == nullptr) return 1;
  rd_kafka_conf_properties_show(out);
  std::fclose(out);
  const std::string table(text, size);
  std::free(text);
  size_t start = 0;
  while (start < table.size()) {
    size_t end = table.find('\n', start);
    if (end == std::string::npos) end = table.size();
    const std::string line = table.substr(start, end - start);
    start = end + 1;
    const size_t bar = line.find('|');
    if (bar == std::string::npos || line[0] == '-' || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find(' '));
    const size_t next = line.find('|', bar + 1);
    if (name == "Property" || name.empty() || next == std::string::npos) continue;
    std::string scope = line.substr(bar + 1, next - bar - 1);
    scope.erase(0, scope.find_first_not_of(' '));
    scope.erase(scope.find_last_not_of(' ') + 1);
    std::printf("librdkafka %s %s\n", name.c_str(), scope.c_str());
  }
  return 0;
}

}  // namespace

int main() {
  const runnel::ConfigDef& def = runnel::StreamsConfig::Definition();
  for (const auto& [name, key] : def.keys()) std::printf("streams %s\n", name.c_str());
  for (const std::string& prefix : def.prefixes()) std::printf("streams-prefix %s\n", prefix.c_str());
  return PrintLibrdkafkaProperties();
}
