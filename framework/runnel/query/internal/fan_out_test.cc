#include "runnel/query/internal/fan_out.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/common/clock.h"
#include "runnel/query/v1/query.grpc.pb.h"

namespace runnel::query::internal {
namespace {

using ::testing::HasSubstr;

// A stand-in for another instance's Range: after `delay`, `batches` batches
// of `per_batch` keys "<prefix><n>" (n ascending), the first listing
// `partitions`; or `fail` instead.
class FakeInstance final : public v1::QueryService::Service {
 public:
  FakeInstance(std::string prefix, std::vector<int32_t> partitions, absl::Duration delay, int batches = 1,
               int per_batch = 3, size_t value_bytes = 1)
      : prefix_(std::move(prefix)),
        partitions_(std::move(partitions)),
        delay_(delay),
        batches_(batches),
        per_batch_(per_batch),
        value_(value_bytes, 'v') {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeInstance() override { server_->Shutdown(); }

  grpc::Status Range(grpc::ServerContext*, const v1::RangeRequest*, grpc::ServerWriter<v1::KeyValueBatch>* out) override {
    absl::SleepFor(delay_);
    if (!fail_.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(fail_.message()));
    int n = 0;
    for (int b = 0; b < batches_; ++b) {
      v1::KeyValueBatch batch;
      if (b == 0) {
        for (int32_t p : partitions_) batch.add_answered_by()->set_partition(p);
      }
      for (int i = 0; i < per_batch_; ++i) {
        v1::KeyValue* kv = batch.add_entries();
        kv->mutable_key()->set_raw(absl::StrCat(prefix_, 100000 + n++));
        kv->mutable_value()->set_raw(value_);
      }
      if (!out->Write(batch)) break;
      ++written_;
    }
    return grpc::Status::OK;
  }

  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }
  void Fail(absl::Status s) { fail_ = std::move(s); }
  int written() const { return written_.load(); }

 private:
  const std::string prefix_;
  const std::vector<int32_t> partitions_;
  const absl::Duration delay_;
  const int batches_;
  const int per_batch_;
  const std::string value_;
  absl::Status fail_ = absl::OkStatus();
  std::atomic<int> written_{0};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

google::protobuf::RepeatedPtrField<v1::KeyValue>* Entries(v1::KeyValueBatch& b) { return b.mutable_entries(); }

std::unique_ptr<RemoteStream<v1::KeyValueBatch>> Open(const std::string& endpoint, size_t read_ahead = kReadAheadBatches) {
  auto stub = std::shared_ptr<v1::QueryService::Stub>(
      v1::QueryService::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials())));
  auto request = std::make_shared<v1::RangeRequest>();
  return std::make_unique<RemoteStream<v1::KeyValueBatch>>(
      endpoint, Clock::System().Now() + absl::Seconds(30),
      [stub, request](grpc::ClientContext* c, grpc::ClientReadReactor<v1::KeyValueBatch>* r) {
        stub->async()->Range(c, request.get(), r);
      },
      read_ahead);
}

struct KeyOf {
  std::string operator()(const v1::KeyValue& kv) const { return kv.key().raw(); }
};

TEST(FanOutTest, InstancesAreAskedInParallelAndMergedInKeyOrder) {
  const absl::Duration delay = absl::Milliseconds(500);
  std::vector<std::unique_ptr<FakeInstance>> instances;
  std::vector<std::string> endpoints;
  for (int i = 0; i < 3; ++i) {
    instances.push_back(std::make_unique<FakeInstance>(absl::StrCat("k", i, "-"), std::vector<int32_t>{i}, delay));
    endpoints.push_back(instances.back()->endpoint());
  }
  std::map<int32_t, v1::Answer> answered;
  const absl::Time start = Clock::System().Now();
  auto sources = OpenRemoteSources<v1::KeyValueBatch, v1::KeyValue>(
      endpoints, [](const std::string& e) { return Open(e); }, Entries, answered,
      [](const std::string& e, const absl::Status& s) { ADD_FAILURE() << e << ": " << s; });
  const absl::Duration took = Clock::System().Now() - start;
  // Three 500 ms answers one after the other would take 1.5 s.
  EXPECT_LT(took, 2 * delay) << "took " << took;
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_TRUE(CheckCoverage("counts", 3, answered).ok());
  KWayMerge<v1::KeyValue, KeyOf> merge(std::move(sources), 100);
  std::vector<std::string> keys;
  v1::KeyValue kv;
  while (*merge.Next(&kv)) keys.push_back(kv.key().raw());
  EXPECT_EQ(keys.size(), 9u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST(FanOutTest, AnInstanceThatFailsLeavesItsPartitionsMissing) {
  FakeInstance good("a", {0, 1}, absl::ZeroDuration());
  FakeInstance bad("b", {2}, absl::ZeroDuration());
  bad.Fail(absl::UnavailableError("shutting down"));
  std::map<int32_t, v1::Answer> answered;
  std::vector<std::string> failed;
  auto sources = OpenRemoteSources<v1::KeyValueBatch, v1::KeyValue>(
      {good.endpoint(), bad.endpoint()}, [](const std::string& e) { return Open(e); }, Entries, answered,
      [&](const std::string& e, const absl::Status&) { failed.push_back(e); });
  EXPECT_EQ(sources.size(), 1u);
  EXPECT_EQ(failed, std::vector<std::string>{bad.endpoint()});
  absl::Status coverage = CheckCoverage("counts", 3, answered);
  EXPECT_EQ(coverage.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(coverage.message()), HasSubstr("partitions [2]"));
}

TEST(FanOutTest, ARemoteStreamReadsAheadOnlyABoundedNumberOfBatches) {
  // 60 batches of 1,000 entries of 1 KiB (60 MiB) that nobody reads yet.
  FakeInstance big("k", {0}, absl::ZeroDuration(), 60, 1000, 1024);
  auto stream = Open(big.endpoint(), 2);
  absl::SleepFor(absl::Milliseconds(500));
  const int early = big.written();
  // The sender is held back by flow control once the reader stops reading:
  // what is in flight is the read-ahead plus the transport's windows.
  EXPECT_LT(early, 30) << "the sender wrote " << early << " batches before any was read";
  int batches = 0;
  size_t entries = 0;
  while (true) {
    auto batch = stream->NextBatch();
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (!batch->has_value()) break;
    ++batches;
    entries += static_cast<size_t>((*batch)->entries_size());
  }
  EXPECT_EQ(batches, 60);
  EXPECT_EQ(entries, 60'000u);
}

TEST(FanOutTest, ClosingAStreamEarlyCancelsTheCall) {
  FakeInstance big("k", {0}, absl::ZeroDuration(), 60, 1000, 1024);
  {
    auto stream = Open(big.endpoint(), 1);
    auto first = stream->NextBatch();
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(first->has_value());
  }  // destroyed: cancelled, and gRPC is done with it
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_LT(big.written(), 60);
}

}  // namespace
}  // namespace runnel::query::internal
