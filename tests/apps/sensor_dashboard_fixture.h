#ifndef RUNNEL_TESTS_APPS_SENSOR_DASHBOARD_FIXTURE_H_
#define RUNNEL_TESTS_APPS_SENSOR_DASHBOARD_FIXTURE_H_

// A sensor dashboard started in this process on the fixture's broker: its
// own application id, state directory, query port and output topic, HTTP on
// any free port, reading `input`.

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "dashboard.h"
#include "fixtures/broker.h"
#include "gtest/gtest.h"

namespace runnel_apps::dashboard::testing {

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

inline std::map<std::string, std::string> DashboardValues(const std::string& input, const std::string& output,
                                                          const std::string& state_dir) {
  return {{"bootstrap.servers", runnel::testing_fixtures::BootstrapServers()},
          {"application.id", runnel::testing_fixtures::UniqueName("dash-app")},
          {"application.server", absl::StrCat("127.0.0.1:", FreePort())},
          {"state.dir", state_dir},
          {"input.topic", input},
          {"output.topic", output},
          {"http.address", "127.0.0.1"},
          {"http.port", "0"},
          {"windows.grace.ms", "0"},
          // Correctness, not latency: a sanitizer build on a loaded 2-core
          // machine answered a window range after the 5 s default.
          {"api.timeout.ms", "60000"}};
}

inline std::unique_ptr<Dashboard> StartDashboard(const std::map<std::string, std::string>& values) {
  auto config = ParseDashboardConfig(values);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  auto dashboard = Dashboard::Start(*config);
  EXPECT_TRUE(dashboard.ok()) << dashboard.status();
  return dashboard.ok() ? *std::move(dashboard) : nullptr;
}

}  // namespace runnel_apps::dashboard::testing

#endif  // RUNNEL_TESTS_APPS_SENSOR_DASHBOARD_FIXTURE_H_
