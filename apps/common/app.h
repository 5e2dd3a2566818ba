#ifndef RUNNEL_APPS_COMMON_APP_H_
#define RUNNEL_APPS_COMMON_APP_H_

// What every Runnel app's main() shares: flags, layered config (file, then
// RUNNEL_CONF_* environment, then --set), the topology printed at start, a
// run until SIGINT/SIGTERM, and exit codes (2: bad flags, config or
// topology; 1: failed while running).
//
//   <app> --config app.properties [--set key=value ...]
//         [--input topic] [--output topic] [--log-level info]

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runnel/runnel.h"

namespace runnel_apps {

struct AppArgs {
  std::string config_file;
  std::map<std::string, std::string> overrides;
  std::string input;
  std::string output;
  std::string log_level = "info";
};

using TopologyFactory =
    std::function<absl::StatusOr<std::shared_ptr<const runnel::Topology>>(const AppArgs& args)>;

// Parses the flags, builds the topology, runs it; returns main()'s exit code.
int RunApp(const std::string& name, int argc, char** argv, AppArgs defaults, const TopologyFactory& build);

}  // namespace runnel_apps

#endif  // RUNNEL_APPS_COMMON_APP_H_
