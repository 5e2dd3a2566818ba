#include "runnel/runtime/metrics_server.h"

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/http/client.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DescribeRuntimeMetrics(metrics_);
    auto server = MetricsServer::Start({.host = "127.0.0.1", .port = 0}, &metrics_,
                                       [this] { return Readiness{ready_.load(), "2 tasks restoring"}; }, clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_NE(server_->port(), 0);
    auto client = http::Client::Connect("127.0.0.1", server_->port());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<MetricsServer> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(MetricsServerTest, MetricsAnswersThePrometheusTextOfTheRegistry) {
  metrics_.GetCounter("runnel_records_processed_total", {{"thread", "t-1"}})->Increment(7);
  auto response = client_->Get("/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->Header("Content-Type").value_or(""), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_EQ(response->body, metrics_.ToPrometheusText());
  EXPECT_THAT(response->body, HasSubstr("# HELP runnel_records_processed_total Records processed by each"));
  EXPECT_THAT(response->body, HasSubstr("runnel_records_processed_total{thread=\"t-1\"} 7\n"));
}

TEST_F(MetricsServerTest, HealthzIsUpAndReadyzFollowsTheCheckSayingWhy) {
  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
  auto not_ready = client_->Get("/readyz");
  ASSERT_TRUE(not_ready.ok()) << not_ready.status();
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(not_ready->body, R"({"status":"not ready","reason":"2 tasks restoring"})");
  ready_ = true;
  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, R"({"status":"ready"})");
}

TEST_F(MetricsServerTest, TheThreadsLatenciesRebalancesLagAndPerStoreRestoreAreDocumented) {
  const MetricLabels thread{{"thread", "t-1"}};
  metrics_.GetHistogram("runnel_commit_latency_seconds", thread, CommitLatencyBuckets())->Observe(0.003);
  metrics_.GetHistogram("runnel_transaction_commit_latency_seconds", thread, CommitLatencyBuckets());
  metrics_.GetHistogram("runnel_poll_latency_seconds", thread, CommitLatencyBuckets());
  metrics_.GetCounter("runnel_rebalances_total", thread)->Increment();
  metrics_.GetGauge("runnel_consumer_lag_records", {{"thread", "t-1"}, {"topic", "in"}, {"partition", "0"}});
  metrics_.GetCounter("runnel_store_restored_records_total", {{"store", "counts"}, {"task", "0_0"}});
  auto response = client_->Get("/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->body, ::testing::Not(HasSubstr("(undocumented)")));
  EXPECT_THAT(response->body, HasSubstr("# TYPE runnel_commit_latency_seconds histogram\n"));
  // 3 ms: in the 5 ms bucket, not the 2.5 ms one; buckets end at 30 s.
  EXPECT_THAT(response->body, HasSubstr("runnel_commit_latency_seconds_bucket{thread=\"t-1\",le=\"0.0025\"} 0\n"));
  EXPECT_THAT(response->body, HasSubstr("runnel_commit_latency_seconds_bucket{thread=\"t-1\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(response->body, HasSubstr("runnel_commit_latency_seconds_bucket{thread=\"t-1\",le=\"30\"} 1\n"));
  EXPECT_THAT(response->body, HasSubstr("runnel_commit_latency_seconds_bucket{thread=\"t-1\",le=\"1e-04\"} 0\n"));
}

TEST_F(MetricsServerTest, APortInUseIsUnavailableAndNamesTheKey) {
  auto second = MetricsServer::Start({.host = "127.0.0.1", .port = server_->port()}, &metrics_,
                                     [] { return Readiness{true, ""}; }, clock_);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("metrics.server"));
}

TEST_F(MetricsServerTest, AfterShutdownNothingAnswers) {
  ASSERT_TRUE(server_->Shutdown().ok());
  client_.reset();
  auto client = http::Client::Connect("127.0.0.1", server_->port(), absl::Seconds(2));
  if (client.ok()) {
    EXPECT_FALSE((*client)->Get("/healthz").ok());
  }
}

}  // namespace
}  // namespace runnel
