// The metrics.server endpoint of a running instance on the real broker:
// /metrics counts what was processed (records, commits and their latency,
// rebalances, consumer lag per partition, records restored per store) and
// passes `promtool check metrics`, /healthz and /readyz answer (not ready
// before the first assignment), and a real Prometheus scraping the instance
// finds the count through its query API. promtool and prometheus come with
// Debian's prometheus package (tools/setup); without them these tests fail.

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/http/client.h"
#include "runnel/http/json.h"
#include "runnel/kafka/consumer.h"
#include "runnel/runnel.h"
#include "runnel/state/changelog.h"

extern char** environ;

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::CreateTopic;
using testing_fixtures::UniqueName;

constexpr int kRecords = 1000;

// GET http://127.0.0.1:<port><target>.
absl::StatusOr<http::ClientResponse> Get(uint16_t port, const std::string& target) {
  auto client = http::Client::Connect("127.0.0.1", port, absl::Seconds(10));
  if (!client.ok()) return client.status();
  return (*client)->Get(target);
}

// The sum of every sample of `family` (no suffix) in a Prometheus text body.
int64_t SumOf(const std::string& text, const std::string& family) {
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (line.substr(0, name_end) != family) continue;
    int64_t value = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &value)) << line;
    total += value;
  }
  return total;
}

// The samples of `family` in a Prometheus text body by their label set
// ("{a=\"x\"}", or "" without labels).
std::map<std::string, int64_t> SamplesOf(const std::string& text, const std::string& family) {
  std::map<std::string, int64_t> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (line.substr(0, name_end) != family) continue;
    const size_t value_start = line.rfind(' ');
    int64_t value = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(value_start + 1), &value)) << line;
    samples[std::string(line.substr(name_end, value_start - name_end))] = value;
  }
  return samples;
}

// Runs `command` through the shell; its exit status and what it printed.
std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(RUNNEL_PROMTOOL))
        << "promtool (" << RUNNEL_PROMTOOL << ") is missing: install Debian's prometheus package (tools/setup)";
    ASSERT_TRUE(std::filesystem::exists(RUNNEL_PROMETHEUS))
        << "prometheus (" << RUNNEL_PROMETHEUS << ") is missing: install Debian's prometheus package (tools/setup)";
    app_ = UniqueName("metrics");
    in_ = app_ + "-in";
    out_ = app_ + "-out";
    ASSERT_TRUE(CreateTopic(in_, 2).ok());
    ASSERT_TRUE(CreateTopic(out_, 2).ok());
    dir_ = std::filesystem::temp_directory_path() / UniqueName("runnel-metrics");
    std::filesystem::create_directories(dir_);

    // A pass-through and a count: stateless and stateful tasks, a RocksDB
    // store with a changelog.
    StreamsBuilder builder;
    auto stream = builder.Stream(in_, Consumed(serdes::String(), serdes::String()));
    stream.To(out_, Produced(serdes::String(), serdes::String()));
    stream.GroupByKey().Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
    auto topology = builder.Build();
    ASSERT_TRUE(topology.ok()) << topology.status();
    auto config = StreamsConfig::Create(BaseConfig());
    ASSERT_TRUE(config.ok()) << config.status();
    topology_ = *std::move(topology);
    config_ = std::make_unique<StreamsConfig>(*std::move(config));
  }

  std::map<std::string, std::string> BaseConfig() const {
    return {{"application.id", app_},
            {"bootstrap.servers", BootstrapServers()},
            {"commit.interval.ms", "200"},
            {"state.dir", (dir_ / "state").string()},
            {"metrics.server", "127.0.0.1:0"}};
  }

  // A new instance of the application on the fixture's state dir (the
  // previous one closed first), serving its metrics.
  void StartInstance(std::map<std::string, std::string> overrides = {}) {
    if (streams_ != nullptr) {
      ASSERT_TRUE(streams_->Close().ok());
      streams_.reset();
    }
    overrides.merge(BaseConfig());
    auto config = StreamsConfig::Create(overrides);
    ASSERT_TRUE(config.ok()) << config.status();
    auto streams = KafkaStreams::Create(topology_, *config);
    ASSERT_TRUE(streams.ok()) << streams.status();
    streams_ = *std::move(streams);
    ASSERT_TRUE(streams_->Start().ok());
    port_ = streams_->metrics_port();
    ASSERT_NE(port_, 0);
  }

  // /readyz until it answers 200 (or 60 s); the last answer.
  absl::StatusOr<http::ClientResponse> WaitUntilReady() {
    absl::StatusOr<http::ClientResponse> ready = absl::DeadlineExceededError("not asked");
    for (absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;
         absl::SleepFor(absl::Milliseconds(100))) {
      ready = Get(port_, "/readyz");
      if (!ready.ok() || ready->status == 200) break;
      EXPECT_EQ(ready->status, 503);
      EXPECT_THAT(ready->body, ::testing::HasSubstr(R"("reason":)"));
    }
    return ready;
  }

  void TearDown() override {
    if (streams_ != nullptr) {
      EXPECT_TRUE(streams_->Close().ok());
    }
    std::filesystem::remove_all(dir_);
  }

  void Produce() {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "5"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = 0; i < kRecords; ++i) {
      const std::string key = absl::StrCat("k", i % 10);
      ASSERT_TRUE((*producer)->Send({.topic = in_, .key = key, .value = absl::StrCat(i)}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }

  // /metrics once `family` sums to `count` (or the last answer after 60 s).
  std::string MetricsWhen(const std::string& family, int64_t count) {
    return MetricsUntil([&](const std::string& text) { return SumOf(text, family) >= count; });
  }
  // /metrics once `done` holds for it (or the last answer after 60 s).
  std::string MetricsUntil(const std::function<bool(const std::string&)>& done) {
    std::string text;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      auto response = Get(port_, "/metrics");
      if (response.ok() && response->status == 200) {
        text = response->body;
        if (done(text)) break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return text;
  }

  std::string app_, in_, out_;
  std::filesystem::path dir_;
  std::shared_ptr<const Topology> topology_;
  std::unique_ptr<StreamsConfig> config_;
  std::unique_ptr<KafkaStreams> streams_;
  uint16_t port_ = 0;
};

TEST_F(MetricsEndpointTest, MetricsCountWhatWasProcessedAndPassPromtool) {
  StartInstance();
  auto health = Get(port_, "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);

  // Ready once the tasks are assigned and their stores restored.
  auto ready = WaitUntilReady();
  ASSERT_TRUE(ready.ok()) << ready.status();
  ASSERT_EQ(ready->status, 200) << ready->body;

  Produce();
  // Processed, committed, and the lag of both input partitions back to 0.
  const std::string text = MetricsUntil([&](const std::string& t) {
    const auto lags = SamplesOf(t, "runnel_consumer_lag_records");
    return SumOf(t, "runnel_records_processed_total") >= kRecords && lags.size() == 2 &&
           SumOf(t, "runnel_consumer_lag_records") == 0 && SumOf(t, "runnel_commit_latency_seconds_count") > 0;
  });
  // Each record runs through both sub-topology branches of one task.
  EXPECT_EQ(SumOf(text, "runnel_records_processed_total"), kRecords) << text;
  EXPECT_EQ(SumOf(text, "runnel_task_records_processed_total"), kRecords);
  EXPECT_EQ(SumOf(text, "runnel_task_records_consumed_total"), kRecords);
  EXPECT_EQ(SumOf(text, "runnel_task_records_produced_total"), kRecords);
  EXPECT_EQ(SumOf(text, "runnel_record_e2e_latency_seconds_count"), kRecords);
  EXPECT_EQ(SumOf(text, "runnel_process_latency_seconds_count"), kRecords);
  EXPECT_EQ(SumOf(text, "runnel_tasks"), 2);  // one per input partition, all running
  EXPECT_THAT(text, ::testing::HasSubstr("runnel_instance_state{state=\"RUNNING\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("runnel_store_estimated_keys{role=\"active\",store=\"counts\""));
  EXPECT_THAT(text, ::testing::HasSubstr("runnel_restore_remaining_records{store=\"counts\""));
  EXPECT_GT(SumOf(text, "runnel_rocksdb_block_cache_capacity_bytes"), 0);
  EXPECT_GT(SumOf(text, "runnel_commit_latency_seconds_count"), 0);
  EXPECT_GT(SumOf(text, "runnel_poll_latency_seconds_count"), 0);
  EXPECT_GE(SumOf(text, "runnel_rebalances_total"), 1);
  const auto lags = SamplesOf(text, "runnel_consumer_lag_records");
  for (int partition : {0, 1}) {
    const std::string labels = absl::StrCat("{partition=\"", partition, "\",thread=\"", app_,
                                            "-StreamThread-1\",topic=\"", in_, "\"}");
    ASSERT_TRUE(lags.contains(labels)) << text;
    EXPECT_EQ(lags.at(labels), 0);
  }
  // Nothing restored: the state was empty, its changelog too.
  EXPECT_EQ(SumOf(text, "runnel_store_restored_records_total"), 0);
  // Every family is documented.
  std::set<std::string> families;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, "# TYPE ")) continue;
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
    families.insert(std::string(words[2]));
  }
  EXPECT_GE(families.size(), 15u);
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("(undocumented)")));

  const std::filesystem::path file = dir_ / "metrics.txt";
  std::ofstream(file) << text;
  auto [status, output] = RunCommand(absl::StrCat(RUNNEL_PROMTOOL, " check metrics < ", file.string()));
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool's lint findings";
}

TEST_F(MetricsEndpointTest, UnderExactlyOnceTheLagReachesZeroPastTransactionMarkers) {
  // Input written in transactions: each partition ends with a commit
  // marker, one offset past its last record.
  auto producer = kafka::Producer::Create(
      {{"bootstrap.servers", BootstrapServers()}, {"transactional.id", app_ + "-input-writer"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->InitTransactions(absl::Seconds(30)).ok());
  for (int batch = 0; batch < 10; ++batch) {
    ASSERT_TRUE((*producer)->BeginTransaction().ok());
    for (int i = 0; i < kRecords / 10; ++i) {
      ASSERT_TRUE((*producer)->Send({.topic = in_, .key = absl::StrCat("k", i % 10), .value = "v"}).ok());
    }
    ASSERT_TRUE((*producer)->CommitTransaction(absl::Seconds(30)).ok());
  }

  StartInstance({{"processing.guarantee", "exactly_once_v2"}});
  const std::string text = MetricsUntil([&](const std::string& t) {
    return SumOf(t, "runnel_records_processed_total") >= kRecords &&
           SamplesOf(t, "runnel_consumer_lag_records").size() == 2 && SumOf(t, "runnel_consumer_lag_records") == 0 &&
           SumOf(t, "runnel_transaction_commit_latency_seconds_count") > 0;
  });
  EXPECT_EQ(SumOf(text, "runnel_records_processed_total"), kRecords) << text;
  EXPECT_EQ(SamplesOf(text, "runnel_consumer_lag_records").size(), 2u) << text;
  EXPECT_EQ(SumOf(text, "runnel_consumer_lag_records"), 0) << text;
  EXPECT_GT(SumOf(text, "runnel_transaction_commit_latency_seconds_count"), 0) << text;
  EXPECT_GT(SumOf(text, "runnel_commit_latency_seconds_count"), 0) << text;
}

TEST_F(MetricsEndpointTest, ARevokedPartitionsLagSeriesMovesToItsNewOwner) {
  StartInstance();
  Produce();
  auto lag_series = [](uint16_t port) {
    auto response = Get(port, "/metrics");
    return response.ok() ? SamplesOf(response->body, "runnel_consumer_lag_records")
                         : std::map<std::string, int64_t>{};
  };
  MetricsUntil([&](const std::string& t) { return SamplesOf(t, "runnel_consumer_lag_records").size() == 2; });
  ASSERT_EQ(lag_series(port_).size(), 2u);

  // A second instance joins: each keeps the series of its own partition
  // only, so the two together still have one series per partition.
  std::map<std::string, std::string> second = BaseConfig();
  second["state.dir"] = (dir_ / "state-2").string();
  auto config = StreamsConfig::Create(second);
  ASSERT_TRUE(config.ok()) << config.status();
  auto other = KafkaStreams::Create(topology_, *config);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Start().ok());
  std::map<std::string, int64_t> mine, theirs;
  for (absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(200))) {
    mine = lag_series(port_);
    theirs = lag_series((*other)->metrics_port());
    if (mine.size() == 1 && theirs.size() == 1) break;
  }
  ASSERT_EQ(mine.size(), 1u);
  ASSERT_EQ(theirs.size(), 1u);
  const std::string my_partition = mine.begin()->first.substr(0, mine.begin()->first.find(','));
  const std::string their_partition = theirs.begin()->first.substr(0, theirs.begin()->first.find(','));
  EXPECT_NE(my_partition, their_partition);
  EXPECT_TRUE((*other)->Close().ok());
}

TEST_F(MetricsEndpointTest, NotReadyBeforeTheFirstAssignmentThenReady) {
  // A member of the application's group that holds both partitions and
  // stops polling: the instance's join waits for it (a rebalance waits for
  // every member), so the instance runs without an assignment.
  kafka::ClientConfig blocker_config = config_->ConsumerConfig(absl::StrCat(app_, "-blocker"));
  auto blocker = kafka::Consumer::Create(blocker_config);
  ASSERT_TRUE(blocker.ok()) << blocker.status();
  ASSERT_TRUE((*blocker)->Subscribe({in_}).ok());
  std::vector<kafka::ConsumedRecord> ignored;
  for (absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;) {
    ASSERT_TRUE((*blocker)->Poll(absl::Milliseconds(100), 10, ignored).ok());
    auto assignment = (*blocker)->Assignment();
    ASSERT_TRUE(assignment.ok()) << assignment.status();
    if (assignment->size() == 2) break;
  }

  StartInstance();
  absl::SleepFor(absl::Seconds(2));
  auto waiting = Get(port_, "/readyz");
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(waiting->status, 503);
  EXPECT_THAT(waiting->body, ::testing::HasSubstr("waiting for their first partition assignment"));
  EXPECT_EQ(SumOf(MetricsWhen("runnel_rebalances_total", 0), "runnel_rebalances_total"), 0);

  // The blocker leaves: the rebalance completes with the instance alone.
  ASSERT_TRUE((*blocker)->Close().ok());
  auto ready = WaitUntilReady();
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_GE(SumOf(MetricsWhen("runnel_rebalances_total", 1), "runnel_rebalances_total"), 1);
}

TEST_F(MetricsEndpointTest, AThreadWithoutPartitionsIsReady) {
  // Three threads for two partitions: one of them owns no task.
  StartInstance({{"num.stream.threads", "3"}});
  auto ready = WaitUntilReady();
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, 200) << ready->body;
  const std::string text = MetricsWhen("runnel_rebalances_total", 3);
  EXPECT_GE(SumOf(text, "runnel_rebalances_total"), 3) << text;
  EXPECT_EQ(SumOf(text, "runnel_tasks"), 2);
}

TEST_F(MetricsEndpointTest, RestoredRecordsPerStoreAfterTheStateIsWiped) {
  StartInstance();
  Produce();
  ASSERT_EQ(SumOf(MetricsWhen("runnel_records_processed_total", kRecords), "runnel_records_processed_total"),
            kRecords);
  ASSERT_TRUE(streams_->Close().ok());
  streams_.reset();

  // What the changelog holds (at-least-once: no transaction markers).
  const std::string changelog = ChangelogTopicName(app_, "counts");
  auto reader = kafka::Consumer::Create(
      {{"bootstrap.servers", BootstrapServers()}, {"group.id", UniqueName("metrics-reader")}});
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::map<std::string, int64_t> expected;
  int64_t total = 0;
  for (int partition : {0, 1}) {
    auto marks = (*reader)->Watermarks({changelog, Partition(partition)}, absl::Seconds(10));
    ASSERT_TRUE(marks.ok()) << marks.status();
    const int64_t records = marks->second.value() - marks->first.value();
    expected[absl::StrCat("{store=\"counts\",task=\"0_", partition, "\"}")] = records;
    total += records;
  }
  ASSERT_GT(total, 0);

  std::filesystem::remove_all(dir_ / "state");
  StartInstance();
  auto ready = WaitUntilReady();
  ASSERT_TRUE(ready.ok()) << ready.status();
  ASSERT_EQ(ready->status, 200) << ready->body;
  const std::string text = MetricsWhen("runnel_store_restored_records_total", total);
  EXPECT_EQ(SamplesOf(text, "runnel_store_restored_records_total"), expected) << text;
  EXPECT_EQ(SumOf(text, "runnel_restored_records_total"), total);
}

TEST_F(MetricsEndpointTest, ARealPrometheusScrapesTheInstance) {
  StartInstance();
  Produce();
  ASSERT_EQ(SumOf(MetricsWhen("runnel_records_processed_total", kRecords), "runnel_records_processed_total"),
            kRecords);

  const uint16_t prometheus_port = FreePort();
  const std::filesystem::path config = dir_ / "prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        << "scrape_configs:\n  - job_name: runnel\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << port_ << "']\n";
  const std::string config_flag = absl::StrCat("--config.file=", config.string());
  const std::string storage_flag = absl::StrCat("--storage.tsdb.path=", (dir_ / "tsdb").string());
  const std::string listen_flag = absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port);
  std::vector<const char*> argv = {RUNNEL_PROMETHEUS, config_flag.c_str(), storage_flag.c_str(),
                                   listen_flag.c_str(), "--log.level=warn", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, RUNNEL_PROMETHEUS, nullptr, nullptr, const_cast<char* const*>(argv.data()), environ),
            0);

  std::string last;
  std::string value;
  for (absl::Time deadline = absl::Now() + absl::Seconds(90); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(500))) {
    auto response = Get(prometheus_port, "/api/v1/query?query=sum(runnel_records_processed_total)");
    if (!response.ok()) continue;  // not listening yet
    last = response->body;
    auto json = http::ParseJson(response->body);
    if (!json.ok() || !json->is_object()) continue;
    const auto* data = json->as_object().if_contains("data");
    if (data == nullptr || !data->is_object()) continue;
    const auto* result = data->as_object().if_contains("result");
    if (result == nullptr || !result->is_array() || result->as_array().empty()) continue;
    value = std::string(result->as_array()[0].as_object().at("value").as_array()[1].as_string());
    if (value == absl::StrCat(kRecords)) break;
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(value, absl::StrCat(kRecords)) << "Prometheus answered: " << last;
}

}  // namespace
}  // namespace runnel
