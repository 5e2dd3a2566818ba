// Interactive queries over gRPC on a real broker (see
// interactive_query_fixture.h): no wrong answer (keys, standby reads,
// windows) while instances leave and join, read-your-writes positions, uncommitted reads, bad requests' codes,
// health checking and reflection. The every-key-through-every-instance
// test is in interactive_query_routing_test.cc (labelled slow: it takes
// minutes under the sanitizers).

#include "integration/interactive_query_fixture.h"

namespace runnel::iq_test {
namespace {

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
        } else if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
          ++unavailable;
        } else {
          ++other;
          ADD_FAILURE() << key << ": status " << code;
        }
      }
    }
  };
  // A second querier lets a standby (or a restoring owner) answer when it
  // is 0 changelog records behind: caught up (the input was complete
  // before the churn), it must be right too.
  std::atomic<int64_t> standby_answers{0};
  auto stale_loop = [&](const std::string& endpoint) {
    auto stub = Stub(endpoint);
    while (!stop.load()) {
      for (const auto& [key, n] : counts_) {
        if (stop.load()) break;
        v1::GetRequest req;
        req.set_store("counts");
        req.mutable_key()->set_text(key);
        req.mutable_options()->set_max_lag(0);
        v1::GetResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        grpc::Status s = stub->Get(&ctx, req, &resp);
        if (!s.ok()) continue;
        if (resp.answered_by().standby()) ++standby_answers;
        if (Long(resp.value().raw()) != n) {
          ++wrong;
          ADD_FAILURE() << key << ": answered " << Long(resp.value().raw()) << " by "
                        << (resp.answered_by().standby() ? "a standby" : "the owner") << ", final count " << n;
        }
      }
    }
  };
  // A third fetches the windowed count's windows (each window checked
  // against the input): the window store moves and restores like the
  // key-value one, and must never answer a wrong or partial window either.
  std::atomic<int64_t> windows_ok{0};
  auto window_loop = [&](const std::string& endpoint) {
    auto stub = Stub(endpoint);
    while (!stop.load()) {
      for (const auto& [kw, n] : windows_) {
        if (stop.load()) break;
        v1::WindowFetchRequest req;
        req.set_store("window-counts");
        req.mutable_key()->set_text(kw.first);
        req.set_time_from(kw.second);
        req.set_time_to(kw.second);
        v1::WindowResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        grpc::Status s = stub->WindowFetch(&ctx, req, &resp);
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          continue;
        }
        if (!s.ok()) {
          ++other;
          ADD_FAILURE() << kw.first << "@" << kw.second << ": status " << s.error_code() << " " << s.error_message();
        } else if (resp.windows_size() != 1 || Long(resp.windows(0).value().raw()) != n) {
          ++wrong;
          ADD_FAILURE() << kw.first << "@" << kw.second << ": " << resp.windows_size() << " windows, first "
                        << (resp.windows_size() > 0 ? Long(resp.windows(0).value().raw()) : -1) << ", want " << n;
        } else {
          ++windows_ok;
        }
      }
    }
  };
  std::thread querier(query_loop, endpoints[0]);
  std::thread stale_querier(stale_loop, endpoints[0]);
  std::thread window_querier(window_loop, endpoints[0]);
  absl::SleepFor(absl::Seconds(2));
  instances_[2]->Stop();  // leaves: its tasks move, restore or take over from standbys
  absl::SleepFor(absl::Seconds(8));
  AddInstance();  // joins: tasks move again
  absl::SleepFor(absl::Seconds(8));
  instances_[1]->Stop();
  absl::SleepFor(absl::Seconds(8));
  stop = true;
  querier.join();
  stale_querier.join();
  window_querier.join();
  EXPECT_GT(windows_ok.load(), 100);
  std::cout << "answers allowing staleness given by standbys: " << standby_answers.load() << "\n";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), 1000);
  std::cout << "answers: " << ok.load() << " ok, " << unavailable.load() << " unavailable or past their deadline; "
            << windows_ok.load() << " windows fetched right\n";
  AwaitConverged(instances_[3]->endpoint);
}

TEST_F(InteractiveQueryTest, MinPositionWaitsForTheProducedRecordToBeCommitted) {
  Instance& instance = AddInstance();
  AwaitConverged(instance.endpoint);
  auto stub = Stub(instance.endpoint);
  const std::string key = "sensor-1";
  const int32_t partition = kafka::PartitionForKey(key, kPartitions).value();
  auto get = [&](int64_t min_offset, absl::Duration deadline, v1::GetResponse* resp) {
    v1::GetRequest req;
    req.set_store("counts");
    req.mutable_key()->set_text(key);
    v1::TopicOffset* p = req.mutable_options()->add_min_position();
    p->set_topic(input_);
    p->set_partition(partition);
    p->set_offset(min_offset);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(Clock::System().Now() + deadline));
    return stub->Get(&ctx, req, resp);
  };
  // The answer's position: the input partition's committed offset (all of
  // it, the input being fully processed).
  v1::GetResponse first;
  ASSERT_TRUE(get(0, absl::Seconds(5), &first).ok());
  int64_t end = -1;
  for (const auto& p : first.answered_by().position()) {
    if (p.topic() == input_ && p.partition() == partition) end = p.offset();
  }
  ASSERT_GT(end, 0);
  EXPECT_EQ(Long(first.value().raw()), counts_[key]);
  v1::GetResponse resp;
  EXPECT_EQ(get(end + 1, absl::Milliseconds(500), &resp).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Produce one more record for the key: a query asking for its offset + 1
  // waits until it is committed, and sees it.
  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->Send({.topic = input_, .key = key, .value = "x"}).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  grpc::Status waited = get(end + 1, absl::Seconds(30), &resp);
  ASSERT_TRUE(waited.ok()) << waited.error_code() << ": " << waited.error_message();
  EXPECT_EQ(Long(resp.value().raw()), counts_[key] + 1);
}

TEST_F(InteractiveQueryTest, UncommittedReadsSeeWhatIsProcessedButNotYetCommitted) {
  // Ten minutes between commits: everything processed stays in the record
  // cache, invisible to committed reads.
  Instance& instance = AddInstance("600000");
  const absl::Time deadline = Clock::System().Now() + absl::Seconds(120);
  while (instance.streams->processed() < kRecords && Clock::System().Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(instance.streams->processed(), kRecords);
  auto stub = Stub(instance.endpoint);
  int committed_found = 0;
  for (const auto& [key, n] : counts_) {
    v1::GetRequest req;
    req.set_store("counts");
    req.mutable_key()->set_text(key);
    v1::GetResponse committed, uncommitted;
    grpc::ClientContext c1, c2;
    grpc::Status got_committed = stub->Get(&c1, req, &committed);
    ASSERT_TRUE(got_committed.ok()) << got_committed.error_code() << ": " << got_committed.error_message();
    committed_found += committed.found();
    req.mutable_options()->set_uncommitted(true);
    ASSERT_TRUE(stub->Get(&c2, req, &uncommitted).ok());
    ASSERT_TRUE(uncommitted.found()) << key;
    EXPECT_EQ(Long(uncommitted.value().raw()), n) << key;
  }
  EXPECT_EQ(committed_found, 0);
  v1::MultiGetRequest multi;
  multi.set_store("counts");
  multi.mutable_options()->set_uncommitted(true);
  for (const auto& [key, n] : counts_) multi.add_keys()->set_text(key);
  v1::MultiGetResponse got;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->MultiGet(&ctx, multi, &got).ok());
  std::map<std::string, int64_t> seen;
  for (const auto& kv : got.results()) seen[kv.key().text()] = Long(kv.value().raw());
  EXPECT_EQ(seen, counts_);
  // A range would hold the stream thread: refused.
  v1::AllRequest all;
  all.set_store("counts");
  all.mutable_options()->set_uncommitted(true);
  grpc::ClientContext actx;
  auto reader = stub->All(&actx, all);
  v1::KeyValueBatch batch;
  while (reader->Read(&batch)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Uncommitted reads come from the owner: max_lag (standbys) is refused.
  v1::GetRequest bad;
  bad.set_store("counts");
  bad.mutable_key()->set_text("sensor-1");
  bad.mutable_options()->set_uncommitted(true);
  bad.mutable_options()->set_max_lag(10);
  v1::GetResponse ignored;
  grpc::ClientContext c3;
  EXPECT_EQ(stub->Get(&c3, bad, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
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
}  // namespace runnel::iq_test
