// sensor-dashboard: windowed sensor statistics over the gateway's topic,
// served as REST/JSON and a live web page (README.md).
//
//   sensor-dashboard [--config dashboard.properties] [--set key=value ...] [--log-level info]
//
// Config layers: the file, then RUNNEL_CONF_* environment variables
// (RUNNEL_CONF_HTTP_PORT=8050 -> http.port), then --set. A bad flag, key or
// value exits with code 2 and a message naming it; SIGINT/SIGTERM shut down
// cleanly (exit 0); the pipeline failing while running exits 1.

#include <signal.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/cli.h"
#include "dashboard.h"
#include "runnel/common/logging.h"

namespace {

std::string Help() {
  return absl::StrCat(
      "usage: sensor-dashboard [--config file] [--set key=value ...] [--log-level level]\n\n"
      "dashboard keys (every other key configures the streams instance, see README.md):\n",
      runnel_apps::dashboard::DashboardConfigDef().Describe());
}

int Fail(const absl::Status& s, int code) {
  std::fprintf(stderr, "sensor-dashboard: %s\n", std::string(s.message()).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT/SIGTERM are taken with sigtimedwait below; blocked before any
  // thread starts so that every thread inherits the mask.
  sigset_t signals;
  runnel_apps::BlockShutdownSignals(&signals);
  auto values = runnel_apps::LoadCommandLineConfig(argc, argv, Help());
  if (!values.ok()) return Fail(values.status(), 2);
  auto config = runnel_apps::dashboard::ParseDashboardConfig(*values);
  if (!config.ok()) return Fail(config.status(), 2);

  auto dashboard = runnel_apps::dashboard::Dashboard::Start(*config);
  if (!dashboard.ok()) {
    const absl::Status& s = dashboard.status();
    return Fail(s, absl::IsInvalidArgument(s) || absl::IsNotFound(s) ? 2 : 1);
  }
  std::printf("sensor-dashboard: page and API on %s://%s:%d/ (input '%s', queries at %s)\n",
              config->own.GetString("http.tls.cert.file").empty() ? "http" : "https",
              config->own.GetString("http.address").c_str(), (*dashboard)->port(),
              config->own.GetString("input.topic").c_str(), (*dashboard)->pipeline().instance.c_str());
  std::fflush(stdout);

  using State = runnel::KafkaStreams::State;
  const timespec tick{0, 500'000'000};
  while (true) {
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig > 0) {
      runnel::Logger("sensor-dashboard")->info("signal {}: shutting down", sig);
      break;
    }
    const State state = (*dashboard)->streams().state();
    if (state == State::kError || state == State::kNotRunning) break;
  }
  const int64_t processed = (*dashboard)->streams().processed();
  absl::Status s = (*dashboard)->Shutdown();
  std::printf("sensor-dashboard: processed %lld records\n", static_cast<long long>(processed));
  std::fflush(stdout);
  if (!s.ok()) return Fail(s, 1);
  return 0;
}
