// GlobalKTable on the real broker: two instances of one application in one
// process (own state dirs) split a 2-partition stream between them, and each
// joins its records with a global table read from all 3 partitions of its
// topic, whatever partition held the record or the row. The table follows
// its topic while running; a restarted instance reads only the tail after
// its checkpoint, and rebuilds the table when the topic was recreated
// under it; a missing global topic fails Start and a record the
// global thread cannot read stops the application, both naming the topic.
// The join test runs at_least_once and exactly_once_v2; under the latter the
// table's rows are written in transactions, so bootstrap must end past the
// commit markers (read_committed).

#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/producer.h"
#include "runnel/runnel.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::ConsumeAll;
using testing_fixtures::CreateTopic;
using testing_fixtures::UniqueName;

constexpr int kCustomers = 30;

class GlobalTableIntegrationTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    app_ = UniqueName("global");
    customers_ = app_ + "-customers";
    orders_ = app_ + "-orders";
    out_ = app_ + "-out";
    ASSERT_TRUE(CreateTopic(customers_, 3).ok());
    ASSERT_TRUE(CreateTopic(orders_, 2).ok());
    ASSERT_TRUE(CreateTopic(out_, 2).ok());
    for (int i = 0; i < 2; ++i) {
      state_dirs_[i] = std::filesystem::temp_directory_path() / UniqueName(absl::StrCat("runnel-global-", i));
    }
    auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
    if (eos()) {
      auto txn = kafka::Producer::Create(
          {{"bootstrap.servers", BootstrapServers()}, {"transactional.id", app_ + "-table-writer"}});
      ASSERT_TRUE(txn.ok()) << txn.status();
      table_writer_ = *std::move(txn);
      ASSERT_TRUE(table_writer_->InitTransactions(absl::Seconds(30)).ok());
    }
  }
  bool eos() const { return GetParam(); }

  // Writes rows of the global table: in one committed transaction under
  // exactly_once_v2, plainly otherwise.
  void WriteTable(const std::vector<std::pair<std::string, std::optional<std::string>>>& rows) {
    kafka::Producer& writer = eos() ? *table_writer_ : *producer_;
    if (eos()) {
      ASSERT_TRUE(writer.BeginTransaction().ok());
    }
    for (const auto& [key, value] : rows) {
      ASSERT_TRUE(writer.Send({.topic = customers_, .key = key, .value = value}).ok());
    }
    if (eos()) {
      ASSERT_TRUE(writer.CommitTransaction(absl::Seconds(30)).ok());
    } else {
      ASSERT_TRUE(writer.Flush(absl::Seconds(30)).ok());
    }
  }
  void TearDown() override {
    for (const auto& dir : state_dirs_) std::filesystem::remove_all(dir);
  }

  // orders (value: customer id) joined with the global table of customers.
  std::shared_ptr<const Topology> JoinTopology() {
    StreamsBuilder builder;
    auto customers =
        builder.GlobalTable(customers_, Consumed(serdes::String(), serdes::String()),
                            Materialized<std::string, std::string>::As("customers", serdes::String(), serdes::String()));
    builder.Stream(orders_, Consumed(serdes::String(), serdes::String()))
        .Join(customers, [](const std::string&, const std::string& customer) { return customer; },
              [](const std::string& customer, const std::string& name) { return customer + "=" + name; })
        .To(out_, Produced(serdes::String(), serdes::String()));
    auto topology = builder.Build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    return *topology;
  }

  std::unique_ptr<KafkaStreams> Start(int instance) {
    auto config = StreamsConfig::Create({{"application.id", app_},
                                         {"bootstrap.servers", BootstrapServers()},
                                         {"num.stream.threads", "1"},
                                         {"commit.interval.ms", "200"},
                                         {"processing.guarantee", eos() ? "exactly_once_v2" : "at_least_once"},
                                         {"state.dir", state_dirs_[instance]}});
    EXPECT_TRUE(config.ok()) << config.status();
    auto streams = KafkaStreams::Create(JoinTopology(), *config);
    EXPECT_TRUE(streams.ok()) << streams.status();
    absl::Status started = (*streams)->Start();
    EXPECT_TRUE(started.ok()) << started;
    return *std::move(streams);
  }

  void Produce(const std::string& topic, const std::string& key, std::optional<std::string> value) {
    ASSERT_TRUE(producer_->Send({.topic = topic, .key = key, .value = value}).ok());
  }
  void Flush() { ASSERT_TRUE(producer_->Flush(absl::Seconds(30)).ok()); }

  // Waits (up to a deadline) until `done`, failing early if an instance
  // fails.
  void WaitFor(const std::function<bool()>& done, const std::vector<KafkaStreams*>& instances,
               const std::string& what) {
    const absl::Time deadline = Clock::System().Now() + absl::Seconds(120);
    while (!done()) {
      for (KafkaStreams* s : instances) {
        ASSERT_NE(s->state(), KafkaStreams::State::kError) << what << ": " << s->Wait();
      }
      ASSERT_LT(Clock::System().Now(), deadline) << "timed out waiting for " << what;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // The first `count` records of the output (read_committed), as order ->
  // joined value.
  std::map<std::string, std::string> ReadJoined(size_t count) {
    std::map<std::string, std::string> joined;
    auto output = ConsumeAll(out_, count, absl::Seconds(120));
    EXPECT_TRUE(output.ok()) << output.status();
    if (output.ok()) {
      for (const auto& r : *output) joined[*r.key] = *r.value;
    }
    return joined;
  }

  // The value of `key` in the instance's global store, or nullopt.
  static std::optional<std::string> GlobalValue(KafkaStreams& streams, const std::string& key) {
    auto store = streams.Store("customers");
    if (!store.ok()) return std::nullopt;
    auto value = (*store)->Get(key);
    return value.ok() ? *value : std::nullopt;
  }

  // Waits until the group is stable with two members (stream threads) that
  // both hold partitions.
  void WaitForBothAssigned(const std::vector<KafkaStreams*>& instances) {
    auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
    ASSERT_TRUE(admin.ok()) << admin.status();
    WaitFor(
        [&] {
          auto group = (*admin)->DescribeGroup(app_, absl::Seconds(10));
          if (!group.ok() || group->state != "Stable" || group->members.size() != 2) return false;
          for (const auto& m : group->members) {
            if (m.assignment.empty()) return false;
          }
          return true;
        },
        instances, "a stable group of two members");
  }

  std::string app_, customers_, orders_, out_;
  std::string state_dirs_[2];
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Producer> table_writer_;  // exactly_once_v2 only
};

TEST_P(GlobalTableIntegrationTest, EveryInstanceJoinsWithTheWholeTableAndARestartReadsOnlyTheTail) {
  // The table before the application starts: 30 customers over the 3
  // partitions, one renamed, one deleted (32 records).
  std::map<std::string, std::string> names;
  std::vector<std::pair<std::string, std::optional<std::string>>> rows;
  for (int i = 0; i < kCustomers; ++i) {
    const std::string id = absl::StrCat("c", i);
    names[id] = absl::StrCat("name-", i);
    rows.emplace_back(id, names[id]);
  }
  rows.emplace_back("c1", "renamed-1");
  names["c1"] = "renamed-1";
  rows.emplace_back("c2", std::nullopt);
  names.erase("c2");
  WriteTable(rows);
  const int64_t initial_records = kCustomers + 2;

  auto a = Start(0);
  auto b = Start(1);
  // Bootstrap read everything before the stream threads started.
  EXPECT_EQ(a->metrics().CounterTotal("runnel_global_restored_records_total"), initial_records);
  EXPECT_EQ(b->metrics().CounterTotal("runnel_global_restored_records_total"), initial_records);
  EXPECT_EQ(GlobalValue(*a, "c1"), "renamed-1");
  EXPECT_EQ(GlobalValue(*b, "c29"), "name-29");
  EXPECT_EQ(GlobalValue(*b, "c2"), std::nullopt);
  WaitForBothAssigned({a.get(), b.get()});

  // 200 orders over both stream partitions, for every customer (c2's are
  // dropped by the inner join).
  std::map<std::string, std::string> expected;  // order -> output value
  for (int i = 0; i < 200; ++i) {
    const std::string order = absl::StrCat("o", i), customer = absl::StrCat("c", i % kCustomers);
    Produce(orders_, order, customer);
    if (names.contains(customer)) expected[order] = customer + "=" + names[customer];
  }
  Flush();
  EXPECT_EQ(ReadJoined(expected.size()), expected);
  // Each instance processed its share of the stream.
  EXPECT_GT(a->processed(), 0);
  EXPECT_GT(b->processed(), 0);
  EXPECT_EQ(a->processed() + b->processed(), 200);

  // The table follows its topic while the application runs.
  WriteTable({{"c3", "moved-3"}});
  WaitFor([&] { return GlobalValue(*a, "c3") == "moved-3" && GlobalValue(*b, "c3") == "moved-3"; },
          {a.get(), b.get()}, "the update of c3 on both instances");
  EXPECT_EQ(a->metrics().CounterTotal("runnel_global_records_total"), 1);
  EXPECT_EQ(b->metrics().CounterTotal("runnel_global_records_total"), 1);

  // Instance b stops (its global checkpoint covers all 33 records); 7
  // records arrive while it is down; its restart reads exactly those.
  ASSERT_TRUE(b->Close().ok());
  b.reset();
  EXPECT_TRUE(std::filesystem::exists(absl::StrCat(state_dirs_[1], "/", app_, "/global/.checkpoint")));
  rows.clear();
  for (int i = kCustomers; i < kCustomers + 6; ++i) rows.emplace_back(absl::StrCat("c", i), absl::StrCat("late-", i));
  rows.emplace_back("c4", std::nullopt);
  WriteTable(rows);
  b = Start(1);
  EXPECT_EQ(b->metrics().CounterTotal("runnel_global_restored_records_total"), 7);
  EXPECT_EQ(GlobalValue(*b, "c35"), "late-35");
  EXPECT_EQ(GlobalValue(*b, "c4"), std::nullopt);
  EXPECT_EQ(GlobalValue(*b, "c3"), "moved-3");
  EXPECT_EQ(GlobalValue(*b, "c0"), "name-0");
  WaitFor([&] { return GlobalValue(*a, "c35") == "late-35"; }, {a.get(), b.get()}, "the late rows on a");
  WaitForBothAssigned({a.get(), b.get()});

  // Orders for the late customers join on whichever instance reads them.
  std::map<std::string, std::string> late_expected;
  for (int i = 0; i < 40; ++i) {
    const std::string order = absl::StrCat("late-o", i), customer = absl::StrCat("c", kCustomers + i % 6);
    Produce(orders_, order, customer);
    late_expected[order] = customer + "=late-" + std::to_string(kCustomers + i % 6);
  }
  Flush();
  std::map<std::string, std::string> late_joined;
  for (const auto& [order, value] : ReadJoined(expected.size() + late_expected.size())) {
    if (late_expected.contains(order)) late_joined[order] = value;
  }
  EXPECT_EQ(late_joined, late_expected);
  ASSERT_TRUE(a->Close().ok());
  ASSERT_TRUE(b->Close().ok());
}

TEST_P(GlobalTableIntegrationTest, AStreamThreadAddedWhileRunningReadsTheGlobalTable) {
  WriteTable({{"c0", "zero"}, {"c1", "one"}});
  auto streams = Start(0);
  ASSERT_TRUE(streams->AddStreamThread().ok());
  WaitForBothAssigned({streams.get()});
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 20; ++i) {
    const std::string order = absl::StrCat("o", i), customer = absl::StrCat("c", i % 2);
    Produce(orders_, order, customer);
    expected[order] = customer + (i % 2 == 0 ? "=zero" : "=one");
  }
  Flush();
  EXPECT_EQ(ReadJoined(expected.size()), expected);
  EXPECT_EQ(streams->state(), KafkaStreams::State::kRunning);
  ASSERT_TRUE(streams->Close().ok());
}

TEST_P(GlobalTableIntegrationTest, ARecreatedTopicContradictsTheCheckpointAndTheStoreIsRebuilt) {
  WriteTable({{"c0", "old-0"}, {"c1", "old-1"}, {"c2", "old-2"}});
  auto streams = Start(0);
  EXPECT_EQ(GlobalValue(*streams, "c0"), "old-0");
  ASSERT_TRUE(streams->Close().ok());
  streams.reset();

  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)->DeleteTopics({customers_}, absl::Seconds(30)).ok());
  // The broker may still be deleting it for a moment.
  const absl::Time deadline = Clock::System().Now() + absl::Seconds(60);
  absl::Status created;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    created = CreateTopic(customers_, 3);
  } while (!created.ok() && Clock::System().Now() < deadline);
  ASSERT_TRUE(created.ok()) << created;
  WriteTable({{"c1", "new-1"}});

  // Some partition now ends before its checkpointed offset: the store is
  // wiped and rebuilt from the new topic alone.
  streams = Start(0);
  EXPECT_EQ(streams->metrics().CounterTotal("runnel_global_restored_records_total"), 1);
  EXPECT_EQ(GlobalValue(*streams, "c0"), std::nullopt);
  EXPECT_EQ(GlobalValue(*streams, "c1"), "new-1");
  EXPECT_EQ(GlobalValue(*streams, "c2"), std::nullopt);
  ASSERT_TRUE(streams->Close().ok());
}

TEST_P(GlobalTableIntegrationTest, AMissingGlobalTopicFailsStartNamingIt) {
  StreamsBuilder builder;
  const std::string missing = app_ + "-no-such-topic";
  auto table =
      builder.GlobalTable(missing, Consumed(serdes::String(), serdes::String()),
                          Materialized<std::string, std::string>::As("missing", serdes::String(), serdes::String()));
  builder.Stream(orders_, Consumed(serdes::String(), serdes::String()))
      .Join(table, [](const std::string& k, const std::string&) { return k; },
            [](const std::string& v, const std::string& t) { return v + t; })
      .To(out_, Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::Create({{"application.id", app_},
                                       {"bootstrap.servers", BootstrapServers()},
                                       {"state.dir", state_dirs_[0]}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto streams = KafkaStreams::Create(*topology, *config);
  ASSERT_TRUE(streams.ok()) << streams.status();
  absl::Status started = (*streams)->Start();
  EXPECT_TRUE(absl::IsNotFound(started)) << started;
  EXPECT_NE(started.message().find(absl::StrCat("topic '", missing, "'")), std::string_view::npos) << started;
  EXPECT_EQ((*streams)->state(), KafkaStreams::State::kError);
  EXPECT_EQ((*streams)->Close(), started);
}

TEST_P(GlobalTableIntegrationTest, ARecordTheGlobalThreadCannotReadStopsTheApplication) {
  StreamsBuilder builder;
  auto prices =
      builder.GlobalTable(customers_, Consumed(serdes::String(), serdes::Int64()),
                          Materialized<std::string, int64_t>::As("prices", serdes::String(), serdes::Int64()));
  builder.Stream(orders_, Consumed(serdes::String(), serdes::String()))
      .Join(prices, [](const std::string& k, const std::string&) { return k; },
            [](const std::string& v, int64_t price) { return absl::StrCat(v, price); })
      .To(out_, Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::Create({{"application.id", app_},
                                       {"bootstrap.servers", BootstrapServers()},
                                       {"processing.guarantee", eos() ? "exactly_once_v2" : "at_least_once"},
                                       {"state.dir", state_dirs_[0]}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto streams = KafkaStreams::Create(*topology, *config);
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE((*streams)->Start().ok());
  // Three bytes are no int64 (log_and_fail is the default handler).
  WriteTable({{"k", "bad"}});
  WaitFor([&] { return (*streams)->state() == KafkaStreams::State::kError; }, {}, "the application to fail");
  absl::Status failed = (*streams)->Close();
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("global thread"), std::string_view::npos) << failed;
  EXPECT_NE(failed.message().find(customers_), std::string_view::npos) << failed;
}

INSTANTIATE_TEST_SUITE_P(Guarantees, GlobalTableIntegrationTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "ExactlyOnceV2" : "AtLeastOnce";
                         });

}  // namespace
}  // namespace runnel
