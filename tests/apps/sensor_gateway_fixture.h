#ifndef RUNNEL_TESTS_APPS_SENSOR_GATEWAY_FIXTURE_H_
#define RUNNEL_TESTS_APPS_SENSOR_GATEWAY_FIXTURE_H_

// Helpers for the sensor gateway's integration tests: a gateway started in
// this process on the fixture's broker (its own topic, any free port), and
// readings to post.

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gateway.h"
#include "gtest/gtest.h"
#include "reading.h"
#include "runnel/common/clock.h"
#include "runnel/http/client.h"

namespace runnel_apps::gateway::testing {

inline std::unique_ptr<Gateway> StartGateway(const std::string& topic,
                                             std::map<std::string, std::string> overrides = {}) {
  std::map<std::string, std::string> values = {
      {"bootstrap.servers", runnel::testing_fixtures::BootstrapServers()},
      {"topic", topic},
      {"listen.address", "127.0.0.1"},
      {"listen.port", "0"},
      {"readiness.interval.ms", "200"},
      // Correctness tests, not timing ones: a loaded machine (or a
      // sanitizer build) must not turn a slow ack into a 503.
      {"delivery.timeout.ms", "60000"}};
  for (auto& [k, v] : overrides) values[k] = v;
  auto config = ParseGatewayConfig(values);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  auto gateway = Gateway::Start(*config);
  EXPECT_TRUE(gateway.ok()) << gateway.status();
  return gateway.ok() ? *std::move(gateway) : nullptr;
}

inline std::unique_ptr<runnel::http::Client> ConnectTo(const Gateway& gateway) {
  auto client = runnel::http::Client::Connect("127.0.0.1", gateway.port(), absl::Seconds(60));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// A reading as the seed posts it, timestamped `millis` (default: now).
// `value` is printed exactly for integers (absl::StrCat).
template <typename Number>
std::string ReadingJson(const std::string& sensor, Number value, int64_t millis = -1,
                        const std::string& location = "lab") {
  if (millis < 0) millis = runnel::Clock::System().NowMillis().value();
  return absl::StrCat(R"({"sensor_id":")", sensor, R"(","timestamp":")", FormatTimestampMillis(millis),
                      R"(","type":"temperature","value":)", value, R"(,"unit":"C","location":")", location,
                      R"("})");
}

}  // namespace runnel_apps::gateway::testing

#endif  // RUNNEL_TESTS_APPS_SENSOR_GATEWAY_FIXTURE_H_
