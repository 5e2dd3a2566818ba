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
#include "common/cli.h"
#include "gateway.h"
#include "runnel/common/logging.h"

namespace {

std::string Help() {
  return absl::StrCat(
      "usage: sensor-gateway [--config file] [--set key=value ...] [--log-level level]\n\nkeys:\n",
      runnel_apps::gateway::GatewayConfigDef().Describe());
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
  runnel_apps::BlockShutdownSignals(&signals);
  auto values = runnel_apps::LoadCommandLineConfig(argc, argv, Help());
  if (!values.ok()) return Fail(values.status(), 2);
  auto config = runnel_apps::gateway::ParseGatewayConfig(*values);
  if (!config.ok()) return Fail(config.status(), 2);

  auto gateway = runnel_apps::gateway::Gateway::Start(*config);
  if (!gateway.ok()) return Fail(gateway.status(), absl::IsInvalidArgument(gateway.status()) ? 2 : 1);
  std::printf("sensor-gateway listening on %s://%s:%d, topic '%s' (%s)\n",
              config->GetString("http.tls.cert.file").empty() ? "http" : "https",
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
