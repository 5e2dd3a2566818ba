// sensor-gateway: the seed's REST ingest endpoint on Runnel.
//
//   sensor-gateway [--config gateway.properties] [--set key=value ...] [--log-level info]
//
// Config layers: the file, then RUNNEL_CONF_* environment variables
// (RUNNEL_CONF_LISTEN_PORT=5000 -> listen.port), then --set. A bad flag, key or
// value exits with code 2 and a message naming it; SIGINT/SIGTERM shut down
// gracefully (exit 0). See README.md for the API and the keys.

#include <signal.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gateway.h"
#include "runnel/common/logging.h"

namespace {

struct Args {
  std::string config_file;
  std::map<std::string, std::string> overrides;
  std::string log_level = "info";
};

absl::Status ParseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      return absl::InvalidArgumentError(absl::StrCat(
          "usage: sensor-gateway [--config file] [--set key=value ...] [--log-level level]\n\nkeys:\n",
          runnel_apps::gateway::GatewayConfigDef().Describe()));
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("unknown flag or missing value: '", flag, "'"));
    const std::string value = argv[++i];
    if (flag == "--config") {
      args.config_file = value;
    } else if (flag == "--set") {
      const auto eq = value.find('=');
      if (eq == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("--set wants key=value, got '", value, "'"));
      args.overrides[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (flag == "--log-level") {
      args.log_level = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", flag, "'"));
    }
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& s, int code) {
  std::fprintf(stderr, "sensor-gateway: %s\n", std::string(s.message()).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT/SIGTERM are taken with sigwait below; block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Args args;
  if (absl::Status s = ParseArgs(argc, argv, args); !s.ok()) return Fail(s, 2);
  if (absl::Status s = runnel::SetLogLevel(args.log_level); !s.ok()) return Fail(s, 2);
  runnel::ConfigLoader loader;
  if (!args.config_file.empty()) {
    if (absl::Status s = loader.AddFile(args.config_file); !s.ok()) return Fail(s, 2);
  }
  loader.AddEnvironment().Add(args.overrides);
  auto config = runnel_apps::gateway::ParseGatewayConfig(loader.values());
  if (!config.ok()) return Fail(config.status(), 2);

  auto gateway = runnel_apps::gateway::Gateway::Start(*config);
  if (!gateway.ok()) return Fail(gateway.status(), absl::IsInvalidArgument(gateway.status()) ? 2 : 1);
  std::printf("sensor-gateway listening on http://%s:%d, topic '%s' (%s)\n",
              config->GetString("listen.address").c_str(), (*gateway)->port(), (*gateway)->topic().c_str(),
              (*gateway)->ready() ? "ready" : "not ready yet: see /readyz");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  runnel::Logger("sensor-gateway")->info("signal {}: shutting down", sig);
  absl::Status s = (*gateway)->Shutdown();
  std::printf("sensor-gateway: accepted %lld requests, %lld readings\n",
              static_cast<long long>((*gateway)->accepted_requests()),
              static_cast<long long>((*gateway)->accepted_readings()));
  std::fflush(stdout);
  if (!s.ok()) {
    runnel::Logger("sensor-gateway")->warn("{}", std::string(s.message()));
  }
  return 0;
}
