// Runnel over Kafka's secure listeners (tools/kafka-local start --secure;
// CTest fixtures kafka_secure and kafka_scram, cmake/KafkaFixture.cmake): an
// exactly-once windowed count runs end to end over SASL_SSL with PLAIN, over
// SSL with a client certificate (its key encrypted), and over SASL_SSL with
// SCRAM-SHA-512 (on the Kafka 3.9.1 broker: see ScramOnKafka4...). Every
// client of the instance (admin, stream-thread consumer and transactional
// producer, restore consumer, topology record producer) connects through the
// secure listener only: the instance is never given the PLAINTEXT address.
// The test itself writes the input over the same secure listener and checks
// the output through the PLAINTEXT one (fixtures/broker.h), an independent
// reader. Secrets never reach the logs nor the config dump; a wrong password
// fails Start() with Unauthenticated, not a hang.

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/common/config.h"
#include "runnel/common/logging.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/producer.h"
#include "runnel/runnel.h"
#include "spdlog/sinks/ostream_sink.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_fixtures::ConsumeUntil;
using testing_fixtures::OutputRecord;
using testing_fixtures::UniqueName;

constexpr int kKeys = 50;  // 500 records per window: 10 per key
constexpr int kRecords = 2000;  // 10 ms apart: 20 s, four 5 s windows
constexpr int64_t kWindowMs = 5000;

std::string SecureDir() {
  const char* dir = std::getenv("RUNNEL_KAFKA_SECURE_DIR");
  EXPECT_NE(dir, nullptr) << "RUNNEL_KAFKA_SECURE_DIR is unset: run through ctest (fixture kafka_secure)";
  return dir == nullptr ? "" : dir;
}

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

// The listener `listener` ("ssl" or "sasl-ssl") and the client settings of
// `profile` ("ssl", "sasl-ssl-plain", "sasl-ssl-scram"), as written by
// kafka-local: bootstrap.servers plus security.protocol, ssl.*, sasl.*.
std::map<std::string, std::string> Connection(const std::string& listener, const std::string& profile) {
  const std::string dir = SecureDir();
  auto settings = ParsePropertiesFile(dir + "/client-" + profile + ".properties");
  EXPECT_TRUE(settings.ok()) << settings.status();
  std::map<std::string, std::string> out = settings.ok() ? *settings : std::map<std::string, std::string>{};
  out["bootstrap.servers"] = ReadLine(dir + "/bootstrap-" + listener);
  return out;
}

// Every line Runnel's loggers write while it lives (the shared stderr sink
// keeps writing too).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    for (const char* name : {"runnel", "rdkafka", "http", "runnel.sink"}) {
      auto logger = Logger(name);
      logger->sinks().push_back(sink_);
      loggers_.push_back(logger);
    }
  }
  ~LogCapture() {
    for (auto& logger : loggers_) logger->sinks().pop_back();
  }
  std::string text() const {
    sink_->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::vector<std::shared_ptr<spdlog::logger>> loggers_;
};

// Writes the input over the secure connection: kKeys keys, kRecords records
// 10 ms apart, so every (key, 5 s window) holds kRecords / kKeys / 4.
void ProduceInput(const kafka::ClientConfig& connection, const std::string& topic) {
  auto admin = kafka::Admin::Create(connection);
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)->CreateTopics({{.name = topic, .partitions = 2}}, absl::Seconds(30)).ok());
  auto producer = kafka::Producer::Create(kafka::ClientConfigFor(connection, {{"linger.ms", "5"}}));
  ASSERT_TRUE(producer.ok()) << producer.status();
  const int64_t base = (absl::ToUnixMillis(absl::Now() - absl::Hours(1)) / kWindowMs) * kWindowMs;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE((*producer)
                    ->Send({.topic = topic,
                            .key = absl::StrCat("sensor-", i % kKeys),
                            .value = "x",
                            .timestamp = Timestamp(base + i * 10)})
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
}

struct RunResult {
  absl::Status start;
  std::string logs;
  std::string described;
};

// Runs an exactly_once_v2 windowed count from `in` to `out` with `security`
// (security.protocol, ssl.*, sasl.*) until `done` holds for the output, or
// only until Start() fails.
RunResult RunWindowedCount(const std::string& app, const std::map<std::string, std::string>& security,
                           const std::string& in, const std::string& out,
                           const std::function<bool(const std::vector<OutputRecord>&)>& done) {
  RunResult result;
  LogCapture logs;
  StreamsBuilder builder;
  const auto windows = TimeWindows::OfSizeWithNoGrace(absl::Milliseconds(kWindowMs));
  builder.Stream(in, Consumed(serdes::String(), serdes::String()))
      .GroupByKey()
      .WindowedBy(windows)
      .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
      .ToStream()
      .To(out, Produced(serdes::TimeWindowed(serdes::String(), windows.size_ms), serdes::Int64()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  if (!topology.ok()) return result;
  std::map<std::string, std::string> values = security;
  values.insert({{"application.id", app},
                 {"processing.guarantee", "exactly_once_v2"},
                 {"commit.interval.ms", "100"},
                 {"state.dir", (std::filesystem::temp_directory_path() / app).string()}});
  auto config = StreamsConfig::Create(values);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return result;
  result.described = config->config().Describe();
  auto streams = KafkaStreams::Create(*topology, *config);
  EXPECT_TRUE(streams.ok()) << streams.status();
  if (!streams.ok()) return result;
  result.start = (*streams)->Start();
  if (result.start.ok()) {
    auto records = ConsumeUntil(out, done, absl::Seconds(180));
    EXPECT_TRUE(records.ok()) << records.status();
  }
  EXPECT_TRUE((*streams)->Close().ok());
  std::filesystem::remove_all(std::filesystem::temp_directory_path() / app);
  result.logs = logs.text();
  return result;
}

// Done once every (key, window) shows its full count as its latest value.
bool AllWindowsComplete(const std::vector<OutputRecord>& records) {
  std::map<std::string, int64_t> latest;
  for (const auto& r : records) {
    if (!r.key || !r.value || r.value->size() != 8) continue;
    int64_t v = 0;
    for (unsigned char c : *r.value) v = (v << 8) | c;
    latest[*r.key] = v;
  }
  if (latest.size() != static_cast<size_t>(kKeys * 4)) return false;
  for (const auto& [key, count] : latest) {
    if (count != kRecords / kKeys / 4) return false;
  }
  return true;
}

// The windowed count over `listener` with `profile`, then: the secrets of
// the profile are in neither the logs nor the config dump, which shows them
// as [hidden].
void ExpectWindowedCountRunsSecurely(const std::string& listener, const std::string& profile) {
  const std::map<std::string, std::string> connection = Connection(listener, profile);
  const std::string app = UniqueName("sec-" + profile), in = app + "-in", out = app + "-out";
  ProduceInput(connection, in);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_TRUE(testing_fixtures::CreateTopic(out, 2).ok());
  std::map<std::string, std::string> security = connection;
  RunResult run = RunWindowedCount(app, security, in, out, AllWindowsComplete);
  ASSERT_TRUE(run.start.ok()) << run.start;
  std::vector<std::string> secrets;
  for (const auto& [key, value] : connection) {
    if (IsSecretConfigKey(key)) secrets.push_back(value);
  }
  ASSERT_FALSE(secrets.empty()) << "profile " << profile << " has no secret to look for";
  EXPECT_THAT(run.logs, HasSubstr("[hidden]")) << "the start-up config dump is missing from the logs";
  EXPECT_THAT(run.logs, HasSubstr("security.protocol=" + connection.at("security.protocol")));
  EXPECT_THAT(run.described, HasSubstr("[hidden]"));
  for (const std::string& secret : secrets) {
    EXPECT_THAT(run.logs, Not(HasSubstr(secret))) << "a secret of " << profile << " is in the logs";
    EXPECT_THAT(run.described, Not(HasSubstr(secret))) << "a secret of " << profile << " is in Describe()";
  }
}

TEST(SecurityTest, ExactlyOnceWindowedCountOverSaslSslPlain) { ExpectWindowedCountRunsSecurely("sasl-ssl", "sasl-ssl-plain"); }

TEST(SecurityTest, ExactlyOnceWindowedCountOverMutualTls) { ExpectWindowedCountRunsSecurely("ssl", "ssl"); }

// Start-up with a wrong password ends, Unauthenticated, naming the
// authentication failure, and without printing the password.
TEST(SecurityTest, WrongPasswordFailsStartUpNamingAuthentication) {
  std::map<std::string, std::string> security = Connection("sasl-ssl", "sasl-ssl-plain");
  const std::string wrong = "wrong-" + UniqueName("password");
  security["sasl.password"] = wrong;
  const std::string app = UniqueName("sec-wrong");
  RunResult run = RunWindowedCount(app, security, app + "-in", app + "-out",
                                   [](const std::vector<OutputRecord>&) { return true; });
  EXPECT_EQ(run.start.code(), absl::StatusCode::kUnauthenticated) << run.start;
  EXPECT_THAT(run.start.message(), HasSubstr("authentication failed"));
  EXPECT_THAT(run.start.message(), HasSubstr("sasl.password"));
  EXPECT_THAT(std::string(run.start.message()), Not(HasSubstr(wrong)));
  EXPECT_THAT(run.logs, Not(HasSubstr(wrong)));
}

// A certificate-less client on the SSL listener (which requires one) fails
// start-up as well, not a hang. Under TLS 1.3 the broker refuses the
// missing certificate after the handshake, so librdkafka sees a disconnect
// (Unavailable), not an SSL error.
TEST(SecurityTest, MissingClientCertificateFailsStartUp) {
  std::map<std::string, std::string> security = Connection("ssl", "ssl");
  for (const char* key : {"ssl.certificate.location", "ssl.key.location", "ssl.key.password"}) security.erase(key);
  const std::string app = UniqueName("sec-nocert");
  RunResult run = RunWindowedCount(app, security, app + "-in", app + "-out",
                                   [](const std::vector<OutputRecord>&) { return true; });
  EXPECT_TRUE(absl::IsUnavailable(run.start) || absl::IsUnauthenticated(run.start)) << run.start;
}

// librdkafka before 2.6.1 cannot log in with SCRAM to a Kafka 4.x broker
// (librdkafka#4895: the client nonce twice in client-final-message, which
// Kafka 4 checks strictly). With the right password, start-up then fails
// saying exactly that; with a fixed librdkafka it runs.
TEST(SecurityTest, ScramOnKafka4FailsWithTheLibrdkafkaFixNamed) {
  const std::map<std::string, std::string> security = Connection("sasl-ssl", "sasl-ssl-scram");
  const std::string app = UniqueName("sec-scram4");
  ASSERT_TRUE(testing_fixtures::CreateTopic(app + "-in", 2).ok());
  ASSERT_TRUE(testing_fixtures::CreateTopic(app + "-out", 2).ok());
  RunResult run = RunWindowedCount(app, security, app + "-in", app + "-out",
                                   [](const std::vector<OutputRecord>&) { return true; });
  if (rd_kafka_version() >= 0x020601ff) {
    EXPECT_TRUE(run.start.ok()) << run.start;
    return;
  }
  EXPECT_EQ(run.start.code(), absl::StatusCode::kUnauthenticated) << run.start;
  EXPECT_THAT(run.start.message(), HasSubstr("fixed in 2.6.1"));
}

// SCRAM-SHA-512 end to end, on the Kafka 3.9.1 broker (fixture kafka_scram).
TEST(SecurityScramTest, ExactlyOnceWindowedCountOverSaslSslScramSha512) {
  ExpectWindowedCountRunsSecurely("sasl-ssl", "sasl-ssl-scram");
}

}  // namespace
}  // namespace runnel
