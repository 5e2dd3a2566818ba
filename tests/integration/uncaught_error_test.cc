// The uncaught-error policy on the real broker: a stream thread that fails
// is replaced (replace_thread), stops its instance (shutdown_client), or
// stops every instance of the application (shutdown_application).

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/producer.h"
#include "runnel/runnel.h"
#include "runnel/runtime/internal/shutdown_request.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::UniqueName;

// Set when the poison record threw once: a transient failure.
std::atomic<bool> thrown_once{false};

class UncaughtErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = UniqueName("uncaught");
    in_ = UniqueName("uncaught-in");
    out_ = UniqueName("uncaught-out");
    ASSERT_TRUE(testing_fixtures::CreateTopic(in_, 2).ok());
    ASSERT_TRUE(testing_fixtures::CreateTopic(out_, 2).ok());
    thrown_once = false;
  }
  void TearDown() override {
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir);
  }

  // in -> mapValues -> out; "poison" throws: always, or only the first time.
  std::shared_ptr<const Topology> Build(bool transient) {
    StreamsBuilder builder;
    builder.Stream(in_, Consumed(serdes::String(), serdes::String()))
        .MapValues(
            [transient](const std::string& v) {
              if (v == "poison" && (!transient || !thrown_once.exchange(true))) {
                throw std::runtime_error("poisoned");
              }
              return v + "!";
            },
            Named("exclaim"))
        .To(out_, Produced(serdes::String(), serdes::String()));
    auto topology = builder.Build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    return *topology;
  }

  std::unique_ptr<KafkaStreams> Start(bool transient, const std::string& policy) {
    dirs_.push_back(std::filesystem::temp_directory_path() / UniqueName("runnel-uncaught"));
    auto config = StreamsConfig::Create({{"application.id", app_},
                                         {"bootstrap.servers", BootstrapServers()},
                                         {"processing.guarantee", "exactly_once_v2"},
                                         {"uncaught.error.policy", policy},
                                         {"state.dir", dirs_.back()}});
    EXPECT_TRUE(config.ok()) << config.status();
    auto streams = KafkaStreams::Create(Build(transient), *config);
    EXPECT_TRUE(streams.ok()) << streams.status();
    absl::Status started = (*streams)->Start();
    EXPECT_TRUE(started.ok()) << started;
    return *std::move(streams);
  }

  // Sends "v<i>" for i in [from, to) to both partitions by key, and
  // "poison" to partition 0 when asked.
  void Produce(int from, int to, bool poison) {
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = from; i < to; ++i) {
      const std::string key = absl::StrCat("k", i), value = absl::StrCat("v", i);
      ASSERT_TRUE((*producer)->Send({.topic = in_, .partition = Partition(i % 2), .key = key, .value = value}).ok());
    }
    if (poison) {
      ASSERT_TRUE((*producer)->Send({.topic = in_, .partition = Partition(0), .key = "p", .value = "poison"}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }

  static bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  std::string app_, in_, out_;
  std::vector<std::string> dirs_;
};

TEST_F(UncaughtErrorTest, ReplaceThreadGoesOnWithANewThreadAndLosesNothing) {
  auto streams = Start(/*transient=*/true, "replace_thread");
  Produce(0, 50, /*poison=*/true);
  Produce(50, 100, /*poison=*/false);
  // 100 records and the poison, each exactly once (exactly-once: the failed
  // thread's transaction was aborted, the new thread redid it).
  auto out = testing_fixtures::ConsumeAll(out_, 101, absl::Seconds(120));
  ASSERT_TRUE(out.ok()) << out.status();
  std::multiset<std::string> values;
  for (const auto& r : *out) values.insert(*r.value);
  EXPECT_EQ(values.size(), 101u);
  EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), 101u);
  EXPECT_EQ(values.count("poison!"), 1u);
  EXPECT_TRUE(thrown_once.load());
  EXPECT_EQ(streams->metrics().CounterTotal("runnel_stream_threads_replaced_total"), 1);
  EXPECT_EQ(streams->state(), KafkaStreams::State::kRunning);
  EXPECT_EQ(streams->num_stream_threads(), 1);
  EXPECT_TRUE(streams->Close().ok());
}

TEST_F(UncaughtErrorTest, ShutdownClientStopsTheInstanceInErrorNamingTheRecord) {
  auto streams = Start(/*transient=*/false, "shutdown_client");
  Produce(0, 10, /*poison=*/true);
  ASSERT_TRUE(WaitFor([&] { return streams->state() == KafkaStreams::State::kError; }, absl::Seconds(120)));
  absl::Status s = streams->Wait();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(absl::StrCat(in_, "-0@")));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("node 'exclaim'"));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("poisoned"));
}

TEST_F(UncaughtErrorTest, ShutdownApplicationStopsEveryInstance) {
  auto a = Start(/*transient=*/false, "shutdown_application");
  auto b = Start(/*transient=*/false, "shutdown_application");
  // Both instances own a task (bounded load: one each) and processed: the
  // second one joins a few seconds after the first, so keep producing.
  int produced = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        Produce(produced, produced + 10, /*poison=*/false);
        produced += 10;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return a->metrics().CounterTotal("runnel_records_processed_total") > 0 &&
               b->metrics().CounterTotal("runnel_records_processed_total") > 0;
      },
      absl::Seconds(120)));
  Produce(produced, produced + 2, /*poison=*/true);
  ASSERT_TRUE(WaitFor(
      [&] {
        return a->state() == KafkaStreams::State::kError && b->state() == KafkaStreams::State::kError;
      },
      absl::Seconds(120)))
      << "a " << KafkaStreams::StateName(a->state()) << ", b " << KafkaStreams::StateName(b->state());
  absl::Status sa = a->Wait(), sb = b->Wait();
  // One failed on the poison, the other was asked to stop.
  const bool a_poisoned = absl::StrContains(sa.message(), "poisoned");
  const absl::Status& asked = a_poisoned ? sb : sa;
  EXPECT_TRUE(absl::StrContains((a_poisoned ? sa : sb).message(), "poisoned"));
  EXPECT_TRUE(runtime::internal::IsApplicationShutdown(asked)) << asked;
}

}  // namespace
}  // namespace runnel
