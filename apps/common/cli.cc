#include "common/cli.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "runnel/common/config.h"
#include "runnel/common/logging.h"
#include "runnel/common/strings.h"

namespace runnel_apps {

absl::StatusOr<std::map<std::string, std::string>> LoadCommandLineConfig(int argc, char** argv,
                                                                         std::string_view help) {
  std::string config_file, log_level = "info";
  std::map<std::string, std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return absl::InvalidArgumentError(runnel::ToAbsl(help));
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("unknown flag or missing value: '", flag, "'"));
    const std::string value = argv[++i];
    if (flag == "--config") {
      config_file = value;
    } else if (flag == "--set") {
      const auto eq = value.find('=');
      if (eq == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("--set wants key=value, got '", value, "'"));
      overrides[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (flag == "--log-level") {
      log_level = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", flag, "'"));
    }
  }
  if (absl::Status s = runnel::SetLogLevel(log_level); !s.ok()) return s;
  runnel::ConfigLoader loader;
  if (!config_file.empty()) {
    if (absl::Status s = loader.AddFile(config_file); !s.ok()) return s;
  }
  loader.AddEnvironment().Add(overrides);
  return loader.values();
}

void BlockShutdownSignals(sigset_t* signals) {
  sigemptyset(signals);
  sigaddset(signals, SIGINT);
  sigaddset(signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace runnel_apps
