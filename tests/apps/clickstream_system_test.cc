// The clickstream app end to end, as processes, on the fixtures' Kafka
// broker and PostgreSQL server:
//   1. 20k generated events (2% malformed) -> the app -> the four tables
//      equal the oracle exactly; the dead-letter topic holds exactly the
//      malformed events; /metrics shows the app's and the sink's series.
//   2. More events while the app is killed (SIGKILL) and restarted: the
//      tables still equal the oracle of everything (no lost, no extra row).
//   3. More events while PostgreSQL is down for 10 s: the app waits (and
//      logs the retries), and the tables are exact afterwards.
// Runs alone (it stops the shared PostgreSQL server).

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/broker.h"
#include "fixtures/postgres.h"
#include "generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracle.h"
#include "runnel/http/client.h"
#include "tables.h"

extern char** environ;

namespace runnel_apps::clickstream {
namespace {

namespace fx = runnel::testing_fixtures;
using ::testing::HasSubstr;

constexpr int64_t kBatch = 20'000;
constexpr int64_t kUsers = 2'000;

// A child process with its output in `log`.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "spawning " << args[0];
  }
  ~Process() {
    if (pid_ > 0) Kill(SIGKILL);
  }
  bool Running() const {
    return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0;
  }
  void Signal(int sig) const { kill(pid_, sig); }
  // Sends `sig` and returns the exit code (128 + signal if killed).
  int Kill(int sig) {
    kill(pid_, sig);
    return Wait();
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class ClickstreamSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = std::filesystem::temp_directory_path() / fx::UniqueName("clickstream");
    std::filesystem::create_directories(work_);
    suffix_ = fx::UniqueName("cs");
    input_ = "clickstream-events-" + suffix_;
    ASSERT_TRUE(fx::ExecPostgres("DROP SCHEMA IF EXISTS clickstream CASCADE").ok());
    metrics_port_ = FreePort();
    // Event time: from 4 h ago, 3 batches of ~70 min each, all in the past.
    next_start_ms_ = (absl::ToUnixMillis(absl::Now()) - 4 * 3'600'000) / kMinuteMs * kMinuteMs;
  }
  void TearDown() override {
    app_.reset();
    std::filesystem::remove_all(work_);
  }

  // Generates batch `seed` after the previous one (event time), as a
  // process; `rate` 0 = as fast as possible.
  std::unique_ptr<Process> Generate(uint64_t seed, int rate) {
    GeneratorOptions o{.seed = seed, .count = kBatch, .users = kUsers, .malformed_share = 0.02,
                       .start_ms = next_start_ms_};
    std::vector<GeneratedEvent> batch = GenerateAll(o);
    for (GeneratedEvent& g : batch) {
      next_start_ms_ = std::max(next_start_ms_, g.timestamp_ms + kMinuteMs);
      if (!g.event) malformed_.push_back(g.value);
      generated_.push_back(std::move(g));
    }
    return std::make_unique<Process>(
        std::vector<std::string>{CLICKSTREAM_BINARY, "generate", "--bootstrap", fx::BootstrapServers(), "--topic",
                                 input_, "--count", absl::StrCat(kBatch), "--users", absl::StrCat(kUsers),
                                 "--malformed-share", "0.02", "--seed", absl::StrCat(seed), "--start-time",
                                 absl::FormatTime(absl::RFC3339_full, absl::FromUnixMillis(o.start_ms),
                                                  absl::UTCTimeZone()),
                                 "--rate", absl::StrCat(rate)},
        (work_ / "generate.log").string());
  }

  void StartApp() {
    app_ = std::make_unique<Process>(
        std::vector<std::string>{
            CLICKSTREAM_BINARY, "run", "--set", "bootstrap.servers=" + fx::BootstrapServers(), "--set",
            "application.id=" + suffix_, "--set", "input.topic=" + input_, "--set",
            "topic.events.per.minute=" + suffix_ + "-epm", "--set", "topic.revenue.per.minute=" + suffix_ + "-rpm",
            "--set", "topic.active.users.5m=" + suffix_ + "-au5", "--set", "topic.user.sessions=" + suffix_ + "-us",
            "--set", "errors.dead.letter.queue.topic.name=" + suffix_ + "-dlq", "--set", "sink.name=" + suffix_,
            "--set", "postgres.conninfo=" + fx::PostgresConninfo(), "--set", "state.dir=" + (work_ / "state").string(),
            "--set", "commit.interval.ms=500", "--set", "num.stream.threads=2", "--set",
            absl::StrCat("metrics.server=127.0.0.1:", metrics_port_)},
        (work_ / "app.log").string());
  }

  // Polls the tables until they equal the oracle of everything generated.
  void ExpectTablesEqualOracle(absl::Duration timeout) {
    const Tables expected = ComputeOracle(WellFormed(generated_));
    const absl::Time deadline = absl::Now() + timeout;
    std::string diff = "never read";
    while (absl::Now() < deadline) {
      ASSERT_TRUE(app_->Running()) << "the app exited:\n" << ReadFile((work_ / "app.log").string());
      auto actual = ReadTables(fx::PostgresConninfo());
      if (actual.ok()) {
        diff = DescribeDifferences(expected, *actual);
        if (diff.empty()) return;
      } else {
        diff = actual.status().ToString();
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    FAIL() << "tables differ from the oracle after " << timeout << ":\n" << diff;
  }

  std::string Metrics() {
    auto client = runnel::http::Client::Connect("127.0.0.1", metrics_port_);
    if (!client.ok()) return client.status().ToString();
    auto response = (*client)->Get("/metrics");
    return response.ok() ? response->body : response.status().ToString();
  }

  std::filesystem::path work_;
  std::string suffix_;
  std::string input_;
  uint16_t metrics_port_ = 0;
  int64_t next_start_ms_ = 0;
  std::vector<GeneratedEvent> generated_;
  std::vector<std::string> malformed_;
  std::unique_ptr<Process> app_;
};

TEST_F(ClickstreamSystemTest, TablesEqualTheOracleThroughAKillAndAPostgresOutage) {
  // 1. One batch, then the app: the backlog is processed into exact tables.
  ASSERT_EQ(Generate(1, 0)->Wait(), 0) << ReadFile((work_ / "generate.log").string());
  EXPECT_THAT(ReadFile((work_ / "generate.log").string()), HasSubstr("generated 20000 events"));
  const absl::Time started = absl::Now();
  StartApp();
  ExpectTablesEqualOracle(absl::Seconds(90));
  std::printf("batch 1: %lld events into exact tables in %.1f s (start-up included)\n",
              static_cast<long long>(kBatch), absl::ToDoubleSeconds(absl::Now() - started));

  auto dead = fx::ConsumeAll(suffix_ + "-dlq", malformed_.size(), absl::Seconds(30));
  ASSERT_TRUE(dead.ok()) << dead.status();
  std::multiset<std::string> dead_values, expected_dead(malformed_.begin(), malformed_.end());
  for (const fx::OutputRecord& r : *dead) dead_values.insert(r.value.value_or(""));
  EXPECT_EQ(dead_values, expected_dead);
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      fx::ConsumeAll(suffix_ + "-dlq", malformed_.size() + 1, absl::Seconds(2)).status()));

  const std::string metrics = Metrics();
  const int64_t good = static_cast<int64_t>(WellFormed(generated_).size());
  EXPECT_THAT(metrics, HasSubstr("clickstream_events_total{type=\"page_view\"}"));
  EXPECT_THAT(metrics, HasSubstr("runnel_sink_records_total{"));
  EXPECT_THAT(metrics, HasSubstr("runnel_sink_e2e_latency_seconds_bucket{"));
  EXPECT_THAT(metrics, HasSubstr("runnel_record_e2e_latency_seconds_bucket{"));
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("runnel_dead_letter_records_total{topic=\"", input_, "\"} ",
                                              malformed_.size())));
  (void)good;

  // 2. A second batch while the app is killed mid-run and restarted.
  auto generator = Generate(2, 10'000);
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(app_->Kill(SIGKILL), 128 + SIGKILL);
  StartApp();
  ASSERT_EQ(generator->Wait(), 0) << ReadFile((work_ / "generate.log").string());
  ExpectTablesEqualOracle(absl::Seconds(90));

  // 3. A third batch while PostgreSQL is down for 10 s.
  generator = Generate(3, 10'000);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(fx::StopPostgres().ok());
  absl::SleepFor(absl::Seconds(10));
  EXPECT_TRUE(app_->Running()) << "the app gave up while PostgreSQL was down:\n"
                               << ReadFile((work_ / "app.log").string());
  ASSERT_TRUE(fx::StartPostgres().ok());
  ASSERT_EQ(generator->Wait(), 0) << ReadFile((work_ / "generate.log").string());
  ExpectTablesEqualOracle(absl::Seconds(90));
  EXPECT_THAT(Metrics(), HasSubstr("runnel_sink_retries_total{"));

  // A clean stop.
  EXPECT_EQ(app_->Kill(SIGTERM), 0) << ReadFile((work_ / "app.log").string());
}

}  // namespace
}  // namespace runnel_apps::clickstream
