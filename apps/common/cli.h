#ifndef RUNNEL_APPS_COMMON_CLI_H_
#define RUNNEL_APPS_COMMON_CLI_H_

// The command line every Runnel app shares, for apps that do not run a
// topology through RunApp (the HTTP apps):
//   <app> [--config file] [--set key=value ...] [--log-level level]
// and the config layering: the file, then RUNNEL_CONF_* environment
// variables, then --set. Depends on runnel_common only.

#include <signal.h>

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace runnel_apps {

// The layered config values after the flags were parsed and the log level
// set. --help (or -h) answers InvalidArgument with `help` as its message; a
// bad flag, an unreadable file or a bad log level answers InvalidArgument
// (or the file's error) naming it.
absl::StatusOr<std::map<std::string, std::string>> LoadCommandLineConfig(int argc, char** argv,
                                                                         std::string_view help);

// Blocks SIGINT and SIGTERM in the calling thread (so that every thread
// started later inherits the mask and main can sigwait for them) and
// ignores SIGPIPE.
void BlockShutdownSignals(sigset_t* signals);

}  // namespace runnel_apps

#endif  // RUNNEL_APPS_COMMON_CLI_H_
