// Interactive queries over gRPC on a real broker (see
// interactive_query_fixture.h): every key is answered correctly through
// every instance, by Get (forwarded when needed), the routing client,
// MultiGet, Range, All, WindowFetch and WindowRange; Metadata names the
// owners. And an All over three instances, fanned out in parallel by the
// server, timed against the same three answers asked one after the other.

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "integration/interactive_query_fixture.h"

namespace runnel::iq_test {
namespace {

TEST_F(InteractiveQueryTest, EveryKeyIsAnsweredCorrectlyThroughEveryInstance) {
  for (int i = 0; i < 3; ++i) AddInstance();
  AwaitActiveProcesses(3);
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
  for (const auto& [key, n] : counts_) {
    EXPECT_EQ(got->results(i).key().text(), key);
    EXPECT_EQ(Long(got->results(i++).value().raw()), n) << key;
  }
  EXPECT_FALSE(got->results(i).found());
  // The keys' owners each answered their share (one forward per owner),
  // and each listed the partitions it answered from.
  std::set<std::string> owners;
  std::set<std::pair<std::string, int32_t>> answers;
  for (const auto& by : got->answered_by()) {
    owners.insert(by.endpoint());
    EXPECT_TRUE(answers.insert({by.endpoint(), by.partition()}).second) << "listed twice: " << by.endpoint();
  }
  EXPECT_GE(owners.size(), 2u);
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

// Reads a whole KeyValueBatch stream into `seen`; its status.
template <typename Reader>
grpc::Status ReadAll(Reader& reader, std::map<std::string, int64_t>& seen, std::set<int32_t>* partitions = nullptr) {
  v1::KeyValueBatch batch;
  while (reader->Read(&batch)) {
    for (const auto& kv : batch.entries()) {
      auto n = serdes::Int64()->Deserialize(kv.value().raw());
      seen[kv.key().raw()] = n.ok() ? *n : -1;
    }
    if (partitions != nullptr) {
      for (const auto& a : batch.answered_by()) partitions->insert(a.partition());
    }
  }
  return reader->Finish();
}

TEST_F(InteractiveQueryTest, AllOverThreeInstancesIsOneParallelFanOut) {
  for (int i = 0; i < 3; ++i) AddInstance();
  AwaitActiveProcesses(3);
  AwaitConverged(instances_[0]->endpoint);
  std::vector<std::unique_ptr<v1::QueryService::Stub>> stubs;
  for (auto& instance : instances_) stubs.push_back(Stub(instance->endpoint));
  constexpr int kRounds = 30;
  std::vector<double> fanned, sequential;
  for (int round = 0; round < kRounds; ++round) {
    // The server's fan-out: one All through instance 0.
    absl::Time start = Clock::System().Now();
    {
      v1::AllRequest all;
      all.set_store("counts");
      grpc::ClientContext ctx;
      auto reader = stubs[0]->All(&ctx, all);
      std::map<std::string, int64_t> seen;
      std::set<int32_t> partitions;
      ASSERT_TRUE(ReadAll(reader, seen, &partitions).ok());
      ASSERT_EQ(seen, counts_);
      ASSERT_EQ(partitions.size(), static_cast<size_t>(kPartitions));
    }
    fanned.push_back(absl::ToDoubleMilliseconds(Clock::System().Now() - start));
    // The same three answers asked one after the other (what the server
    // did before its fan-out ran in parallel), merged here.
    start = Clock::System().Now();
    {
      std::map<std::string, int64_t> seen;
      for (auto& stub : stubs) {
        v1::RangeRequest range;
        range.set_store("counts");
        range.mutable_options()->set_no_forward(true);
        grpc::ClientContext ctx;
        auto reader = stub->Range(&ctx, range);
        ASSERT_TRUE(ReadAll(reader, seen).ok());
      }
      ASSERT_EQ(seen, counts_);
    }
    sequential.push_back(absl::ToDoubleMilliseconds(Clock::System().Now() - start));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("All over 3 instances (%zu keys), median of %d: server fan-out %.2f ms, one instance after another %.2f ms\n",
              counts_.size(), kRounds, median(fanned), median(sequential));
  // A limit across instances: the first keys in order, from all three.
  v1::AllRequest limited;
  limited.set_store("counts");
  limited.set_limit(25);
  grpc::ClientContext ctx;
  auto reader = stubs[2]->All(&ctx, limited);
  std::vector<std::string> keys;
  v1::KeyValueBatch batch;
  while (reader->Read(&batch)) {
    for (const auto& kv : batch.entries()) keys.push_back(kv.key().raw());
  }
  ASSERT_TRUE(reader->Finish().ok());
  std::vector<std::string> expected;
  for (const auto& [key, n] : counts_) {
    if (expected.size() < 25) expected.push_back(key);
  }
  EXPECT_EQ(keys, expected);
}

}  // namespace
}  // namespace runnel::iq_test
