// The error callback every client installs: rate limited on the client's
// injected clock, not the system's; authentication failures it sees become
// an Unauthenticated status; a bad property's secret value is not echoed.

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

TEST(ConfTest, AuthenticationFailureSeenByTheErrorCallbackExplainsAFailedCall) {
  ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
  ClientContext context(clock);
  auto conf = MakeConf({}, {{"client.id", "conf-test"}}, &context);
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto rk = NewClient(RD_KAFKA_PRODUCER, *conf);
  ASSERT_TRUE(rk.ok()) << rk.status();
  // Before any failure: statuses pass through unchanged.
  absl::Status timeout = absl::DeadlineExceededError("list topics: timed out");
  EXPECT_EQ(ExplainSecurityFailure(*rk, context, timeout), timeout);
  EXPECT_TRUE(ExplainSecurityFailure(*rk, context, absl::OkStatus()).ok());
  // A transport error is no authentication failure.
  OnClientError(*rk, RD_KAFKA_RESP_ERR__TRANSPORT, "Connection refused", &context);
  EXPECT_EQ(ExplainSecurityFailure(*rk, context, timeout), timeout);

  OnClientError(*rk, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                "sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed during "
                "authentication due to invalid credentials with SASL mechanism PLAIN",
                &context);
  absl::Status explained = ExplainSecurityFailure(*rk, context, timeout);
  EXPECT_EQ(explained.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(explained.message(), HasSubstr("Kafka authentication failed"));
  EXPECT_THAT(explained.message(), HasSubstr("mechanism PLAIN"));
  EXPECT_THAT(explained.message(), HasSubstr("sasl.password"));
  EXPECT_THAT(explained.message(), HasSubstr("list topics: timed out"));
  EXPECT_THAT(explained.message(), Not(HasSubstr("2.6.1")));
  EXPECT_TRUE(ExplainSecurityFailure(*rk, context, absl::OkStatus()).ok());

  // SCRAM with a librdkafka that cannot log in to Kafka 4.x says so.
  OnClientError(*rk, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                "SASL authentication error: Authentication failed during authentication due to invalid "
                "credentials with SASL mechanism SCRAM-SHA-512",
                &context);
  explained = ExplainSecurityFailure(*rk, context, timeout);
  if (rd_kafka_version() < 0x020601ff) {
    EXPECT_THAT(explained.message(), HasSubstr("fixed in 2.6.1"));
  }
  rd_kafka_destroy(*rk);
}

TEST(ConfTest, BadPropertyErrorHidesASecretValue) {
  ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
  ClientContext context(clock);
  auto conf = MakeConf({}, {{"sasl.password.typo", "hunter2"}}, &context);
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(conf.status().message(), HasSubstr("'sasl.password.typo'"));
  EXPECT_THAT(conf.status().message(), Not(HasSubstr("hunter2")));
  auto plain = MakeConf({}, {{"linger.ms", "soon"}}, &context);
  ASSERT_FALSE(plain.ok());
  EXPECT_THAT(plain.status().message(), HasSubstr("'soon'"));
}

}  // namespace
}  // namespace runnel::kafka::internal
