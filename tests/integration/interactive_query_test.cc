// Interactive queries over gRPC on a real broker: three instances of an
// application with a keyed count and a windowed count, each serving the
// query service at its own application.server.
//
// - Every key is answered correctly through every instance (forwarded to
//   its owner when needed), by the routing client, by MultiGet, Range, All,
//   WindowFetch and WindowRange; Metadata names the owners.
// - While instances leave and join (rebalances), no answer is ever wrong:
//   every OK answer equals the final count (the input is complete before
//   the churn); UNAVAILABLE is allowed.
// - Bad requests get INVALID_ARGUMENT or NOT_FOUND naming the problem.
// - Health checking answers SERVING and reflection lists the service.

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "runnel/kafka/producer.h"
#include "runnel/query/client.h"
#include "runnel/query/query_server.h"
#include "runnel/runnel.h"

namespace runnel {
namespace {

namespace v1 = ::runnel::query::v1;
using testing_fixtures::BootstrapServers;
using testing_fixtures::CreateTopic;
using testing_fixtures::UniqueName;

constexpr int kPartitions = 6;  // two tasks per instance: every instance owns keys
constexpr int kKeys = 300;
constexpr int kRecords = 6000;
constexpr int64_t kWindowMs = 60'000;

int FreePort() {
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

std::shared_ptr<const Topology> CountTopology(const std::string& input) {
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

  Instance& AddInstance() {
    auto instance = std::make_unique<Instance>();
    instance->endpoint = absl::StrCat("127.0.0.1:", FreePort());
    instance->state_dir = std::filesystem::temp_directory_path() / UniqueName("iq-state");
    auto config = StreamsConfig::Create({{"application.id", app_},
                                         {"bootstrap.servers", BootstrapServers()},
                                         {"state.dir", instance->state_dir},
                                         {"commit.interval.ms", "200"},
                                         {"num.standby.replicas", "1"},
                                         {"application.server", instance->endpoint}});
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

  static std::unique_ptr<v1::QueryService::Stub> Stub(const std::string& endpoint) {
    return v1::QueryService::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
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
};

TEST_F(InteractiveQueryTest, EveryKeyIsAnsweredCorrectlyThroughEveryInstance) {
  for (int i = 0; i < 3; ++i) AddInstance();
  AwaitConverged(instances_[0]->endpoint);
  for (auto& instance : instances_) {
    SCOPED_TRACE(instance->endpoint);
    auto stub = Stub(instance->endpoint);
    std::set<std::string> answered_by;
    for (const auto& [key, n] : counts_) {
      v1::GetRequest req;
      req.set_store("counts");
      req.mutable_key()->set_text(key);
      v1::GetResponse resp;
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->Get(&ctx, req, &resp).ok());
      ASSERT_TRUE(resp.found()) << key;
      EXPECT_EQ(Long(resp.value().raw()), n) << key;
      EXPECT_EQ(resp.value().json(), absl::StrCat(n));
      EXPECT_FALSE(resp.answered_by().standby());
      EXPECT_FALSE(resp.answered_by().position().empty());
      answered_by.insert(resp.answered_by().endpoint());
    }
    // Keys live on all three instances: most were forwarded.
    EXPECT_EQ(answered_by.size(), 3u);
    // Windowed counts, per key (a sample) and as a range.
    int checked = 0;
    for (const auto& [kw, n] : windows_) {
      if (++checked % 7 != 0) continue;
      v1::WindowFetchRequest req;
      req.set_store("window-counts");
      req.mutable_key()->set_text(kw.first);
      req.set_time_from(kw.second);
      req.set_time_to(kw.second);
      v1::WindowResponse resp;
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->WindowFetch(&ctx, req, &resp).ok());
      ASSERT_EQ(resp.windows_size(), 1) << kw.first << "@" << kw.second;
      EXPECT_EQ(Long(resp.windows(0).value().raw()), n);
      EXPECT_EQ(resp.windows(0).end(), kw.second + kWindowMs);
    }
    v1::AllRequest all;
    all.set_store("counts");
    grpc::ClientContext ctx;
    auto reader = stub->All(&ctx, all);
    std::map<std::string, int64_t> seen;
    v1::KeyValueBatch batch;
    std::set<int32_t> partitions;
    while (reader->Read(&batch)) {
      for (const auto& kv : batch.entries()) seen[kv.key().raw()] = Long(kv.value().raw());
      for (const auto& a : batch.answered_by()) partitions.insert(a.partition());
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(seen, counts_);
    EXPECT_EQ(partitions.size(), static_cast<size_t>(kPartitions));
    v1::WindowRangeRequest wr;
    wr.set_store("window-counts");
    wr.set_time_from(0);
    wr.set_time_to(std::numeric_limits<int64_t>::max());
    grpc::ClientContext wctx;
    auto wreader = stub->WindowRange(&wctx, wr);
    std::map<std::pair<std::string, int64_t>, int64_t> wseen;
    v1::WindowBatch wbatch;
    while (wreader->Read(&wbatch)) {
      for (const auto& w : wbatch.windows()) wseen[{w.key().raw(), w.start()}] = Long(w.value().raw());
    }
    ASSERT_TRUE(wreader->Finish().ok());
    EXPECT_EQ(wseen, windows_);
  }
  // Range with a limit, MultiGet, Metadata and the routing client.
  auto client = query::Client::Connect(instances_[1]->endpoint);
  ASSERT_TRUE(client.ok());
  v1::RangeRequest range;
  range.set_store("counts");
  range.mutable_from()->set_text("sensor-1");
  range.mutable_to()->set_text("sensor-2");
  range.set_limit(5);
  auto ranged = (*client)->Range(range);
  ASSERT_TRUE(ranged.ok()) << ranged.status();
  ASSERT_EQ(ranged->size(), 5u);
  auto expected = counts_.lower_bound("sensor-1");
  for (const auto& kv : *ranged) {
    EXPECT_EQ(kv.key().raw(), expected->first);
    EXPECT_EQ(Long(kv.value().raw()), expected->second);
    ++expected;
  }
  // From a key with no upper bound: the next keys in order, merged over
  // the three instances' partitions (each seeks to `from`).
  v1::RangeRequest open;
  open.set_store("counts");
  open.mutable_from()->set_text("sensor-3");
  open.set_limit(7);
  auto opened = (*client)->Range(open);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_EQ(opened->size(), 7u);
  expected = counts_.lower_bound("sensor-3");
  for (const auto& kv : *opened) {
    EXPECT_EQ(kv.key().raw(), expected->first);
    EXPECT_EQ(Long(kv.value().raw()), expected->second);
    ++expected;
  }
  v1::MultiGetRequest multi;
  multi.set_store("counts");
  for (const auto& [key, n] : counts_) multi.add_keys()->set_text(key);
  multi.add_keys()->set_text("no-such-sensor");
  auto got = (*client)->MultiGet(multi);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->results_size(), static_cast<int>(counts_.size()) + 1);
  int i = 0;
  for (const auto& [key, n] : counts_) EXPECT_EQ(Long(got->results(i++).value().raw()), n) << key;
  EXPECT_FALSE(got->results(i).found());
  for (const auto& [key, n] : counts_) {
    v1::GetRequest req;
    req.set_store("counts");
    req.mutable_key()->set_text(key);
    auto answer = (*client)->Get(req);
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_EQ(Long(answer->value().raw()), n);
    // The client went straight to the owner.
    EXPECT_EQ(answer->answered_by().endpoint(), (*client)->EndpointFor("counts", req.key()));
  }
  v1::MetadataRequest meta;
  meta.set_store("counts");
  meta.mutable_key()->set_text("sensor-7");
  auto metadata = (*client)->Metadata(meta);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_EQ(metadata->instances_size(), 3);
  EXPECT_FALSE(metadata->owner().active_endpoint().empty());
  EXPECT_EQ(metadata->owner().standby_endpoints_size(), 1);
  std::set<std::string> kinds;
  for (const auto& s : metadata->stores()) kinds.insert(absl::StrCat(s.name(), ":", s.kind(), ":", s.partitions()));
  EXPECT_EQ(kinds, (std::set<std::string>{"counts:key_value:6", "window-counts:window:6"}));
}

TEST_F(InteractiveQueryTest, NoAnswerIsWrongWhileInstancesLeaveAndJoin) {
  for (int i = 0; i < 3; ++i) AddInstance();
  AwaitConverged(instances_[0]->endpoint);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, unavailable{0}, wrong{0}, other{0};
  std::vector<std::string> endpoints;
  for (auto& i : instances_) endpoints.push_back(i->endpoint);
  // Queriers through the first instance (which stays) and the routing client.
  auto query_loop = [&](const std::string& endpoint) {
    auto stub = Stub(endpoint);
    while (!stop.load()) {
      for (const auto& [key, n] : counts_) {
        if (stop.load()) break;
        grpc::StatusCode code;
        const int64_t v = Get(*stub, key, &code);
        if (code == grpc::StatusCode::OK) {
          if (v == n) {
            ++ok;
          } else {
            ++wrong;
            ADD_FAILURE() << key << ": answered " << v << ", final count " << n;
          }
        } else if (code == grpc::StatusCode::UNAVAILABLE) {
          ++unavailable;
        } else {
          ++other;
        }
      }
    }
  };
  std::thread querier(query_loop, endpoints[0]);
  absl::SleepFor(absl::Seconds(2));
  instances_[2]->Stop();  // leaves: its tasks move, restore or take over from standbys
  absl::SleepFor(absl::Seconds(8));
  AddInstance();  // joins: tasks move again
  absl::SleepFor(absl::Seconds(8));
  instances_[1]->Stop();
  absl::SleepFor(absl::Seconds(8));
  stop = true;
  querier.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), 1000);
  std::cout << "answers: " << ok.load() << " ok, " << unavailable.load() << " unavailable\n";
  AwaitConverged(instances_[3]->endpoint);
}

TEST_F(InteractiveQueryTest, BadRequestsGetTheRightCodes) {
  AddInstance();
  auto stub = Stub(instances_[0]->endpoint);
  auto get = [&](const std::string& store, const v1::Key& key, v1::ReadOptions options = {}) {
    v1::GetRequest req;
    req.set_store(store);
    *req.mutable_key() = key;
    *req.mutable_options() = options;
    v1::GetResponse resp;
    grpc::ClientContext ctx;
    return stub->Get(&ctx, req, &resp);
  };
  v1::Key key;
  key.set_text("sensor-1");
  grpc::Status s = get("nope", key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("no store 'nope'"), std::string::npos) << s.error_message();
  s = get("counts", v1::Key());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("missing key"), std::string::npos) << s.error_message();
  s = get("window-counts", key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("is a window store"), std::string::npos) << s.error_message();
  v1::ReadOptions negative;
  negative.set_max_lag(-1);
  s = get("counts", key, negative);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    v1::WindowFetchRequest req;
    req.set_store("window-counts");
    *req.mutable_key() = key;
    req.set_time_from(10);
    req.set_time_to(5);
    v1::WindowResponse resp;
    grpc::ClientContext ctx;
    s = stub->WindowFetch(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("time_from (10) is after time_to (5)"), std::string::npos);
  }
  {
    v1::RangeRequest req;
    req.set_store("counts");
    req.set_limit(-3);
    grpc::ClientContext ctx;
    auto reader = stub->Range(&ctx, req);
    v1::KeyValueBatch batch;
    while (reader->Read(&batch)) {
    }
    s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("limit"), std::string::npos);
  }
  {
    v1::RangeRequest req;
    req.set_store("counts");
    req.mutable_from()->set_text("b");
    req.mutable_to()->set_text("a");
    grpc::ClientContext ctx;
    auto reader = stub->Range(&ctx, req);
    v1::KeyValueBatch batch;
    while (reader->Read(&batch)) {
    }
    s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("from is after to"), std::string::npos);
  }
}

// Reads a whole unary or server-streaming generic call's responses.
class GenericCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  GenericCall(grpc::GenericStub& stub, const std::string& method, const std::string& request) {
    grpc::Slice slice(request);
    request_ = grpc::ByteBuffer(&slice, 1);
    stub.PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnWriteDone(bool) override { StartWritesDone(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::vector<grpc::Slice> slices;
    (void)response_.Dump(&slices);
    for (const auto& s : slices) received_ += std::string(reinterpret_cast<const char*>(s.begin()), s.size());
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& s) override { done_.set_value(s); }
  grpc::Status Wait() { return done_.get_future().get(); }
  const std::string& received() const { return received_; }

 private:
  grpc::ClientContext context_;
  grpc::ByteBuffer request_, response_;
  std::string received_;
  std::promise<grpc::Status> done_;
};

TEST_F(InteractiveQueryTest, HealthCheckingAndReflectionAreOn) {
  AddInstance();
  grpc::GenericStub stub(grpc::CreateChannel(instances_[0]->endpoint, grpc::InsecureChannelCredentials()));
  // grpc.health.v1 HealthCheckRequest{} -> HealthCheckResponse{status: SERVING (1)} = 08 01.
  GenericCall health(stub, "/grpc.health.v1.Health/Check", "");
  ASSERT_TRUE(health.Wait().ok());
  EXPECT_EQ(health.received(), std::string("\x08\x01", 2));
  // ServerReflectionRequest{list_services: ""} (field 7, empty string).
  GenericCall reflection(stub, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                         std::string("\x3a\x00", 2));
  ASSERT_TRUE(reflection.Wait().ok());
  EXPECT_NE(reflection.received().find("runnel.query.v1.QueryService"), std::string::npos);
  EXPECT_NE(reflection.received().find("grpc.health.v1.Health"), std::string::npos);
}

}  // namespace
}  // namespace runnel
