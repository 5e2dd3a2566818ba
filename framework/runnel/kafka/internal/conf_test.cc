// The error callback every client installs: rate limited on the client's
// injected clock, not the system's.

#include "runnel/kafka/internal/conf.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"

namespace runnel::kafka::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Our warnings among everything the "rdkafka" logger wrote.
std::vector<std::string> Warnings(const std::ostringstream& out) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out.str(), '\n')) {
    if (absl::StrContains(line, "test outage")) lines.emplace_back(line);
  }
  return lines;
}

TEST(ConfTest, ClientErrorsAreRateLimitedOnTheInjectedClock) {
  ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
  ClientContext context(clock);
  // The sink goes in before the client exists and out after it is gone:
  // librdkafka's threads log through the same logger.
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = Logger("rdkafka");
  logger->sinks().push_back(sink);
  auto conf = MakeConf({}, {{"client.id", "conf-test"}}, &context);
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto rk = NewClient(RD_KAFKA_PRODUCER, *conf);  // no bootstrap servers: connects nowhere
  ASSERT_TRUE(rk.ok()) << rk.status();

  for (int i = 0; i < 3; ++i) OnClientError(*rk, RD_KAFKA_RESP_ERR__TRANSPORT, "test outage", &context);
  std::vector<std::string> lines = Warnings(out);
  ASSERT_EQ(lines.size(), 1u) << out.str();
  EXPECT_THAT(lines[0], Not(HasSubstr("suppressed")));

  // Real time has not moved 5 s, the client's clock has: the next one logs
  // and counts the two it held back.
  clock.Advance(absl::Seconds(5));
  OnClientError(*rk, RD_KAFKA_RESP_ERR__TRANSPORT, "test outage", &context);
  lines = Warnings(out);
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_THAT(lines[1], HasSubstr("[2 similar suppressed]"));

  rd_kafka_destroy(*rk);
  logger->sinks().pop_back();
}

}  // namespace
}  // namespace runnel::kafka::internal
