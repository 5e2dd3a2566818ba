// The broker goes away while clients keep posting: the gateway answers 503
// with Retry-After (and /readyz says not ready) instead of hanging or
// claiming success, comes back by itself when the broker does, and every
// reading it answered 202 is in the topic. Registered EXCLUSIVE: it stops
// the fixture's broker.

#include <atomic>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>

#include "absl/synchronization/mutex.h"
#include "sensor_gateway_fixture.h"

namespace runnel_apps::gateway {
namespace {

using runnel::testing_fixtures::ConsumeUntil;
using runnel::testing_fixtures::RestartBroker;
using runnel::testing_fixtures::UniqueName;
using testing::ConnectTo;
using testing::ReadingJson;
using testing::StartGateway;

TEST(SensorGatewayOutageTest, AnswersUnavailableWhileTheBrokerIsDownRecoversAndLosesNothing) {
  const std::string topic = UniqueName("gw-outage");
  auto gateway = StartGateway(topic, {{"delivery.timeout.ms", "2000"}, {"retry.after.seconds", "2"}});
  ASSERT_NE(gateway, nullptr);
  ASSERT_TRUE(gateway->ready());

  enum Phase { kBefore, kDuring, kAfter };
  std::atomic<int> phase{kBefore};
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::set<int64_t> accepted;         // values answered 202
  int counts[3][3] = {};              // [phase][202, 503, other]
  int unavailable_without_retry_after = 0;
  std::atomic<int64_t> accepted_after_restart{0};

  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      auto client = ConnectTo(*gateway);
      for (int64_t i = 0; !stop.load(); ++i) {
        const int64_t value = t * 1'000'000'000LL + i;
        const int p = phase.load();
        auto r = client->PostJson("/sensor", ReadingJson(absl::StrCat("s", t), value));
        absl::MutexLock lock(&mu);
        if (r.ok() && r->status == 202) {
          accepted.insert(value);
          ++counts[p][0];
          if (p == kAfter) ++accepted_after_restart;
        } else if (r.ok() && r->status == 503) {
          ++counts[p][1];
          if (r->Header("Retry-After") != "2") ++unavailable_without_retry_after;
          absl::SleepFor(absl::Milliseconds(20));
        } else {
          ++counts[p][2];
        }
      }
    });
  }
  std::atomic<bool> saw_not_ready{false};
  std::thread prober([&] {
    auto client = ConnectTo(*gateway);
    while (!stop.load()) {
      auto r = client->Get("/readyz");
      if (r.ok() && r->status == 503) saw_not_ready = true;
      absl::SleepFor(absl::Milliseconds(100));
    }
  });

  absl::SleepFor(absl::Seconds(2));
  phase = kDuring;
  ASSERT_TRUE(RestartBroker(absl::Seconds(8)).ok());
  phase = kAfter;
  // Back to 202 within a minute of the broker's return, and some time of
  // normal service after that.
  for (int i = 0; i < 600 && accepted_after_restart.load() < 200; ++i) absl::SleepFor(absl::Milliseconds(100));
  absl::SleepFor(absl::Seconds(1));
  stop = true;
  for (auto& t : posters) t.join();
  prober.join();

  std::printf("before: %d accepted, %d unavailable, %d other\n", counts[kBefore][0], counts[kBefore][1],
              counts[kBefore][2]);
  std::printf("during: %d accepted, %d unavailable, %d other\n", counts[kDuring][0], counts[kDuring][1],
              counts[kDuring][2]);
  std::printf("after:  %d accepted, %d unavailable, %d other\n", counts[kAfter][0], counts[kAfter][1],
              counts[kAfter][2]);
  EXPECT_GT(counts[kBefore][0], 0);
  EXPECT_GT(counts[kDuring][1], 0) << "no 503 while the broker was down";
  EXPECT_GE(accepted_after_restart.load(), 200) << "the gateway did not recover";
  EXPECT_EQ(counts[kBefore][2] + counts[kDuring][2] + counts[kAfter][2], 0) << "answers other than 202/503";
  EXPECT_EQ(unavailable_without_retry_after, 0);
  EXPECT_TRUE(saw_not_ready.load());
  EXPECT_EQ(gateway->accepted_readings(), static_cast<int64_t>(accepted.size()));

  // Every 202 is in the topic. A 503'd reading may be there too (stored
  // after its deadline): allowed, reported.
  std::set<int64_t> found;
  size_t scanned = 0;
  auto all_found = [&](const std::vector<runnel::testing_fixtures::OutputRecord>& records) {
    for (; scanned < records.size(); ++scanned) {
      boost::system::error_code ec;
      auto v = boost::json::parse(*records[scanned].value, ec);
      if (!ec) found.insert(static_cast<int64_t>(v.at("value").to_number<double>()));
    }
    for (int64_t a : accepted) {
      if (!found.count(a)) return false;
    }
    return true;
  };
  auto records = ConsumeUntil(topic, all_found, absl::Minutes(2));
  ASSERT_TRUE(records.ok()) << records.status();
  size_t extra = found.size() - accepted.size();
  std::printf("%zu readings answered 202, all in the topic; %zu more in the topic were answered 503\n",
              accepted.size(), extra);
  ASSERT_TRUE(gateway->Shutdown().ok());
}

}  // namespace
}  // namespace runnel_apps::gateway
