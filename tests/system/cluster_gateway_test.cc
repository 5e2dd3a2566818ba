// The sensor gateway on the three-broker cluster (the CTest fixture
// "kafka3") while the broker that leads every partition of its topic is
// killed with SIGKILL and, later, started again: clients keep posting; the
// gateway may answer 503 while the cluster elects new leaders, and every
// reading it answered 202 is in the topic exactly once. The topic has 3
// replicas and min.insync.replicas 2; the gateway's producers are
// idempotent with acks=all.

#include <atomic>
#include <map>
#include <thread>

#include <boost/json/parse.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fixtures/broker.h"
#include "gateway.h"
#include "gtest/gtest.h"
#include "reading.h"
#include "runnel/http/client.h"
#include "runnel/kafka/metadata.h"
#include "runnel/kafka/consumer.h"

namespace runnel_apps::gateway {
namespace {

using runnel::testing_fixtures::BootstrapServers3;
using runnel::testing_fixtures::Kafka3Dir;
using runnel::testing_fixtures::KafkaLocal;
using runnel::testing_fixtures::UniqueName;

constexpr int kPartitions = 4;

std::string ReadingJson(const std::string& sensor, int64_t value) {
  return absl::StrCat(R"({"sensor_id":")", sensor, R"(","timestamp":")",
                      FormatTimestampMillis(absl::ToUnixMillis(absl::Now())),
                      R"(","type":"temperature","value":)", value, R"(,"unit":"C","location":"lab"})");
}

// Broker ids leading each partition of `topic`, -1 where none does.
std::vector<int32_t> Leaders(const std::string& topic) {
  auto metadata = runnel::kafka::Metadata::Create({{"bootstrap.servers", BootstrapServers3()}});
  if (!metadata.ok()) return {};
  auto partitions = (*metadata)->Partitions(topic, absl::Seconds(10));
  std::vector<int32_t> out;
  for (const auto& p : partitions.ok() ? *partitions : std::vector<runnel::kafka::PartitionDescription>{}) {
    out.push_back(p.leader);
  }
  return out;
}

// value -> how many times it is in `topic`, read from the start until
// every value of `want` is there (then 3 s more, for late duplicates) or 2
// minutes passed.
absl::StatusOr<std::map<int64_t, int>> ReadValues(const std::string& topic, const std::map<int64_t, int>& want) {
  auto consumer = runnel::kafka::Consumer::Create({{"bootstrap.servers", BootstrapServers3()},
                                                   {"group.id", UniqueName("gw-reader")},
                                                   {"isolation.level", "read_committed"}});
  if (!consumer.ok()) return consumer.status();
  std::vector<std::pair<runnel::TopicPartition, runnel::Offset>> from;
  for (int32_t p = 0; p < kPartitions; ++p) {
    from.emplace_back(runnel::TopicPartition{topic, runnel::Partition(p)}, runnel::Offset(-2));  // beginning
  }
  if (absl::Status s = (*consumer)->AssignAt(from); !s.ok()) return s;
  std::map<int64_t, int> seen;
  size_t found = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  absl::Time all_found_at = absl::InfiniteFuture();
  std::vector<runnel::kafka::ConsumedRecord> batch;
  while (absl::Now() < deadline && absl::Now() < all_found_at + absl::Seconds(3)) {
    batch.clear();
    if (absl::Status s = (*consumer)->Poll(absl::Milliseconds(200), 10000, batch); !s.ok()) return s;
    for (const auto& r : batch) {
      boost::system::error_code ec;
      auto v = boost::json::parse(std::string(r.value().value_or("")), ec);
      if (ec) return absl::DataLossError(absl::StrCat("not JSON at offset ", r.offset().value()));
      const auto value = static_cast<int64_t>(v.at("value").to_number<double>());
      if (++seen[value] == 1 && want.contains(value)) ++found;
    }
    if (found == want.size() && all_found_at == absl::InfiniteFuture()) all_found_at = absl::Now();
  }
  (void)(*consumer)->Close();
  return seen;
}

TEST(ClusterGatewayTest, EveryReadingAnswered202IsInTheTopicOnceThroughTheLossOfItsLeader) {
  const std::string topic = UniqueName("gw-cluster");
  // Every partition led by one broker (the first replica of an assignment
  // is its preferred leader).
  const int leader = static_cast<int>(getpid() % 3);
  std::string assignment;
  for (int p = 0; p < kPartitions; ++p) {
    absl::StrAppend(&assignment, p > 0 ? "," : "", leader, ":", (leader + 1 + p % 2) % 3, ":",
                    (leader + 2 - p % 2) % 3);
  }
  auto created = KafkaLocal({"run-class", "org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
                             BootstrapServers3(), "--create", "--topic", topic, "--replica-assignment", assignment,
                             "--config", "min.insync.replicas=2"});
  ASSERT_TRUE(created.ok()) << created.status();
  for (int i = 0; i < 100 && Leaders(topic) != std::vector<int32_t>(kPartitions, leader); ++i) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(Leaders(topic), std::vector<int32_t>(kPartitions, leader));

  auto config = ParseGatewayConfig({{"bootstrap.servers", BootstrapServers3()},
                                    {"topic", topic},
                                    {"listen.address", "127.0.0.1"},
                                    {"listen.port", "0"},
                                    {"readiness.interval.ms", "200"},
                                    {"delivery.timeout.ms", "10000"}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto gateway = Gateway::Start(*config);
  ASSERT_TRUE(gateway.ok()) << gateway.status();

  enum Phase { kBefore, kDuring, kAfter };
  std::atomic<int> phase{kBefore};
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::map<int64_t, int> accepted;  // values answered 202
  int counts[3][3] = {};            // [phase][202, 503, other]
  std::atomic<int64_t> accepted_after_restart{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      auto client = runnel::http::Client::Connect("127.0.0.1", (*gateway)->port(), absl::Seconds(60));
      ASSERT_TRUE(client.ok()) << client.status();
      for (int64_t i = 0; !stop.load(); ++i) {
        const int64_t value = t * 1'000'000'000LL + i;
        const int p = phase.load();
        auto r = (*client)->PostJson("/sensor", ReadingJson(absl::StrCat("s", t), value));
        absl::MutexLock lock(&mu);
        if (r.ok() && r->status == 202) {
          accepted[value] = 1;
          ++counts[p][0];
          if (p == kAfter) ++accepted_after_restart;
        } else if (r.ok() && r->status == 503) {
          ++counts[p][1];
          absl::SleepFor(absl::Milliseconds(20));
        } else {
          ++counts[p][2];
        }
      }
    });
  }

  absl::SleepFor(absl::Seconds(3));
  phase = kDuring;
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(KafkaLocal({"kill", "--node", absl::StrCat(leader), "--dir", Kafka3Dir()}).ok());
  // New leaders once the controller has fenced the dead broker.
  auto led_by_victim = [&] {
    for (int32_t l : Leaders(topic)) {
      if (l == leader || l < 0) return true;
    }
    return false;
  };
  while (led_by_victim() && absl::Now() - killed < absl::Minutes(2)) absl::SleepFor(absl::Milliseconds(200));
  const absl::Duration elected = absl::Now() - killed;
  absl::SleepFor(absl::Seconds(3));
  const absl::Time restart = absl::Now();
  auto started = KafkaLocal({"start-node", absl::StrCat(leader), "--dir", Kafka3Dir()});
  const absl::Duration restarted = absl::Now() - restart;
  phase = kAfter;
  ASSERT_TRUE(started.ok()) << started.status();
  for (int i = 0; i < 600 && accepted_after_restart.load() < 200; ++i) absl::SleepFor(absl::Milliseconds(100));
  stop = true;
  for (auto& t : posters) t.join();

  std::printf("leader %d killed: new leaders after %s, started again in %s\n", leader,
              absl::FormatDuration(elected).c_str(), absl::FormatDuration(restarted).c_str());
  const char* names[] = {"before", "during", "after"};
  for (int p = 0; p < 3; ++p) {
    std::printf("%s: %d accepted, %d unavailable, %d other\n", names[p], counts[p][0], counts[p][1], counts[p][2]);
  }
  EXPECT_GT(counts[kBefore][0], 0);
  EXPECT_GE(accepted_after_restart.load(), 200) << "the gateway did not recover";
  EXPECT_EQ(counts[kBefore][2] + counts[kDuring][2] + counts[kAfter][2], 0) << "answers other than 202/503";
  EXPECT_EQ((*gateway)->accepted_readings(), static_cast<int64_t>(accepted.size()));
  ASSERT_TRUE((*gateway)->Shutdown().ok());

  auto seen = ReadValues(topic, accepted);
  ASSERT_TRUE(seen.ok()) << seen.status();
  int64_t missing = 0, duplicated = 0, unacknowledged = 0;
  for (const auto& [value, _] : accepted) {
    auto it = seen->find(value);
    if (it == seen->end()) {
      ++missing;
    } else if (it->second > 1) {
      ++duplicated;
    }
  }
  for (const auto& [value, n] : *seen) {
    if (!accepted.contains(value)) ++unacknowledged;
    if (n > 1 && !accepted.contains(value)) ++duplicated;
  }
  std::printf("%zu readings answered 202: %lld missing, %lld duplicated; %lld more in the topic were answered 503\n",
              accepted.size(), static_cast<long long>(missing), static_cast<long long>(duplicated),
              static_cast<long long>(unacknowledged));
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
}

}  // namespace
}  // namespace runnel_apps::gateway
