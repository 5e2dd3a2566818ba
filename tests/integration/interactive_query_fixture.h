#ifndef RUNNEL_TESTS_INTEGRATION_INTERACTIVE_QUERY_FIXTURE_H_
#define RUNNEL_TESTS_INTEGRATION_INTERACTIVE_QUERY_FIXTURE_H_

// The fixture of the interactive-query broker tests: an application with a
// keyed count ("counts") and a windowed count ("window-counts") over a
// 6-partition input filled with kRecords records over kKeys keys (the
// expected counts in counts_ and windows_), and instances of it, each
// serving the query service at its own application.server, added with
// AddInstance. Helpers: stubs, Get, and AwaitConverged (every key reads
// its final count through an endpoint).

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/kafka/producer.h"
#include "runnel/query/client.h"
#include "runnel/query/query_server.h"
#include "runnel/runnel.h"

namespace runnel::iq_test {

namespace v1 = ::runnel::query::v1;
using testing_fixtures::BootstrapServers;
using testing_fixtures::CreateTopic;
using testing_fixtures::UniqueName;

constexpr int kPartitions = 6;  // two tasks per instance: every instance owns keys
constexpr int kKeys = 300;
constexpr int kRecords = 6000;
constexpr int64_t kWindowMs = 60'000;

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

inline std::shared_ptr<const Topology> CountTopology(const std::string& input) {
  StreamsBuilder builder;
  auto grouped = builder.Stream(input, Consumed(serdes::String(), serdes::String())).GroupByKey();
  grouped.Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
  grouped.WindowedBy(TimeWindows::OfSizeAndGrace(absl::Milliseconds(kWindowMs), absl::Hours(1)))
      .Count(Materialized<std::string, int64_t>::As("window-counts", serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

// One instance: KafkaStreams + its query server.
struct Instance {
  std::string endpoint;
  std::string state_dir;
  std::unique_ptr<KafkaStreams> streams;
  std::unique_ptr<query::QueryServer> server;

  void Stop() {
    if (server) server->Shutdown();
    server.reset();
    if (streams) {
      EXPECT_TRUE(streams->Close(absl::Seconds(60)).ok());
    }
    streams.reset();
  }
};

class InteractiveQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = UniqueName("iq-app");
    input_ = UniqueName("iq-in");
    ASSERT_TRUE(CreateTopic(input_, kPartitions).ok());
    Produce();
  }
  void TearDown() override {
    for (auto& i : instances_) i->Stop();
    for (auto& i : instances_) std::filesystem::remove_all(i->state_dir);
  }

  // kRecords records over kKeys keys, timestamps over 5 minutes ending now.
  void Produce() {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "10"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::mt19937 rng(11);
    const int64_t base = Clock::System().NowMillis().value() - 5 * kWindowMs;
    for (int i = 0; i < kRecords; ++i) {
      const std::string key = absl::StrCat("sensor-", rng() % kKeys);
      const int64_t ts = base + static_cast<int64_t>(i) * (5 * kWindowMs) / kRecords;
      ++counts_[key];
      ++windows_[{key, ts / kWindowMs * kWindowMs}];
      ASSERT_TRUE((*producer)->Send({.topic = input_, .key = key, .value = "x", .timestamp = Timestamp(ts)}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }

  // `extra`: more config keys (query.tls.* in the TLS tests).
  Instance& AddInstance(const std::string& commit_interval_ms = "200",
                        const std::map<std::string, std::string>& extra = {}) {
    auto instance = std::make_unique<Instance>();
    instance->endpoint = absl::StrCat("127.0.0.1:", FreePort());
    instance->state_dir = std::filesystem::temp_directory_path() / UniqueName("iq-state");
    std::map<std::string, std::string> values = {{"application.id", app_},
                                                 {"bootstrap.servers", BootstrapServers()},
                                                 {"state.dir", instance->state_dir},
                                                 {"commit.interval.ms", commit_interval_ms},
                                                 {"num.standby.replicas", "1"},
                                                 {"application.server", instance->endpoint}};
    values.insert(extra.begin(), extra.end());
    auto config = StreamsConfig::Create(values);
    EXPECT_TRUE(config.ok()) << config.status();
    auto streams = KafkaStreams::Create(CountTopology(input_), *config);
    EXPECT_TRUE(streams.ok()) << streams.status();
    instance->streams = *std::move(streams);
    EXPECT_TRUE(instance->streams->Start().ok());
    auto server = query::QueryServer::Start(*instance->streams);
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) instance->server = *std::move(server);
    instances_.push_back(std::move(instance));
    return *instances_.back();
  }

  // A stub with channel_credentials_ (plaintext unless a test sets TLS).
  std::unique_ptr<v1::QueryService::Stub> Stub(const std::string& endpoint) const {
    return v1::QueryService::NewStub(grpc::CreateChannel(endpoint, channel_credentials_));
  }

  static int64_t Long(const std::string& bytes) {
    auto v = serdes::Int64()->Deserialize(bytes);
    return v.ok() ? *v : -1;
  }

  // Get through `stub`; -2 for a non-OK status (its code in `code`).
  static int64_t Get(v1::QueryService::Stub& stub, const std::string& key, grpc::StatusCode* code = nullptr) {
    v1::GetRequest req;
    req.set_store("counts");
    req.mutable_key()->set_text(key);
    v1::GetResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = stub.Get(&ctx, req, &resp);
    if (code != nullptr) *code = s.error_code();
    if (!s.ok()) return -2;
    return resp.found() ? Long(resp.value().raw()) : 0;
  }

  // Waits until every key reads its final count through `endpoint`.
  // Waits until the group's assignment gives active tasks to `processes`
  // instances: the later instances join a few seconds after the first,
  // which meanwhile owns (and answers) every task.
  void AwaitActiveProcesses(size_t processes) {
    const absl::Time deadline = Clock::System().Now() + absl::Seconds(120);
    size_t seen = 0;
    do {
      auto metadata = instances_[0]->streams->Metadata();
      if (metadata.ok()) {
        std::set<std::string> owners;
        for (const auto& [task, process] : metadata->active) owners.insert(process);
        seen = owners.size();
        if (seen == processes) return;
      }
      absl::SleepFor(absl::Milliseconds(200));
    } while (Clock::System().Now() < deadline);
    FAIL() << "active tasks on " << seen << " instances after 120 s, expected " << processes;
  }

  void AwaitConverged(const std::string& endpoint) {
    auto stub = Stub(endpoint);
    const absl::Time deadline = Clock::System().Now() + absl::Seconds(120);
    int wrong = 0;
    do {
      wrong = 0;
      for (const auto& [key, n] : counts_) wrong += Get(*stub, key) != n;
      if (wrong == 0) return;
      absl::SleepFor(absl::Milliseconds(500));
    } while (Clock::System().Now() < deadline);
    FAIL() << wrong << " keys still differ from their final count after 120 s";
  }

  std::string app_, input_;
  std::map<std::string, int64_t> counts_;
  std::map<std::pair<std::string, int64_t>, int64_t> windows_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials_ = grpc::InsecureChannelCredentials();
};

}  // namespace runnel::iq_test

#endif  // RUNNEL_TESTS_INTEGRATION_INTERACTIVE_QUERY_FIXTURE_H_
