// PostgresSink against the real broker and the real PostgreSQL server (the
// CTest fixtures "kafka" and "postgres"): exact tables after upserts and
// tombstones, a replay, a restart, a kill -9, a PostgreSQL outage, rejected
// rows under both policies, and read_committed.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fixtures/broker.h"
#include "fixtures/postgres.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/dead_letter_headers.h"
#include "runnel/kafka/producer.h"
#include "runnel/serde/serdes.h"
#include "runnel/sink/postgres_sink.h"

extern char** environ;

namespace runnel::sink {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::CreateTopic;
using testing_fixtures::ExecPostgres;
using testing_fixtures::PostgresConninfo;
using testing_fixtures::QueryPostgres;
using testing_fixtures::UniqueName;
using ::testing::HasSubstr;

// key -> value; a tombstone erases.
using Table = std::map<std::string, std::string>;

std::string SqlName(std::string_view prefix) {
  return absl::StrReplaceAll(UniqueName(prefix), {{"-", "_"}});
}

struct Input {
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
};

// `count` records over `keys` keys, about one in eight a tombstone.
std::vector<Input> RandomInputs(size_t count, int keys, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Input> out;
  for (size_t i = 0; i < count; ++i) {
    std::string key = absl::StrCat("k", rng() % keys);
    if (rng() % 8 == 0) {
      out.push_back({key, std::nullopt});
    } else {
      out.push_back({key, absl::StrCat(rng() % 1'000'000)});
    }
  }
  return out;
}

void Apply(const std::vector<Input>& inputs, Table& table) {
  for (const auto& in : inputs) {
    if (in.value) {
      table[in.key] = *in.value;
    } else {
      table.erase(in.key);
    }
  }
}

absl::Status Produce(const std::string& topic, const std::vector<Input>& inputs) {
  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}, {"linger.ms", "5"}});
  if (!producer.ok()) return producer.status();
  for (const auto& in : inputs) {
    absl::Status s = (*producer)->Send({.topic = topic,
                                        .key = std::string_view(in.key),
                                        .value = in.value ? std::optional<std::string_view>(*in.value)
                                                          : std::nullopt});
    if (!s.ok()) return s;
  }
  return (*producer)->Flush(absl::Seconds(60));
}

absl::StatusOr<Table> ReadTable(const std::string& table) {
  auto rows = QueryPostgres(absl::StrCat("SELECT id, v::text FROM ", table, " ORDER BY id"));
  if (!rows.ok()) return rows.status();
  Table out;
  for (const auto& row : *rows) out[*row[0]] = *row[1];
  return out;
}

absl::StatusOr<std::map<int32_t, int64_t>> StoredOffsets(const std::string& sink, const std::string& topic) {
  auto rows = QueryPostgres(absl::StrCat("SELECT partition, next_offset FROM runnel_sink_offsets WHERE sink = '",
                                         sink, "' AND topic = '", topic, "'"));
  if (!rows.ok()) return rows.status();
  std::map<int32_t, int64_t> out;
  for (const auto& row : *rows) {
    int32_t p;
    int64_t o;
    if (!absl::SimpleAtoi(*row[0], &p) || !absl::SimpleAtoi(*row[1], &o)) return absl::InternalError("bad row");
    out[p] = o;
  }
  return out;
}

absl::StatusOr<std::map<int32_t, int64_t>> EndOffsets(const std::string& topic, int32_t partitions) {
  auto consumer = kafka::Consumer::Create({{"bootstrap.servers", BootstrapServers()}, {"group.id", UniqueName("ends")}});
  if (!consumer.ok()) return consumer.status();
  std::map<int32_t, int64_t> out;
  for (int32_t p = 0; p < partitions; ++p) {
    auto marks = (*consumer)->Watermarks({topic, Partition(p)}, absl::Seconds(30));
    if (!marks.ok()) return marks.status();
    if (marks->second.value() > 0) out[p] = marks->second.value();
  }
  (void)(*consumer)->Close();
  return out;
}

RowMapper KeyValueMapper() {
  return MapRecords<std::string, std::string>(
      serdes::String(), serdes::String(), [](const std::string& k) { return std::vector<SqlValue>{k}; },
      [](const std::string&, const std::string& v) { return std::vector<SqlValue>{v}; });
}

class PostgresSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topic_ = UniqueName("sink-in");
    table_ = SqlName("sink_t");
    ASSERT_TRUE(CreateTopic(topic_, kPartitions).ok());
  }

  PostgresSinkOptions Options(const std::string& name, MetricsRegistry* metrics) {
    PostgresSinkOptions o;
    o.name = name;
    o.conninfo = PostgresConninfo();
    o.kafka = {{"bootstrap.servers", BootstrapServers()}};
    o.routes.push_back({.topic = topic_,
                        .mapping = {.table = table_, .key_columns = {{"id", "text"}}, .value_columns = {{"v", "bigint"}}},
                        .mapper = KeyValueMapper()});
    o.max_batch_delay = absl::Milliseconds(50);
    o.initial_backoff = absl::Milliseconds(100);
    o.max_backoff = absl::Seconds(2);
    o.clock = &Clock::System();
    o.metrics = metrics;
    return o;
  }

  // Starts a sink, waits until it caught up, closes it.
  void RunToEnd(PostgresSinkOptions options) {
    auto sink = PostgresSink::Create(std::move(options));
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Start().ok());
    absl::Status caught_up = (*sink)->WaitCaughtUp(absl::Seconds(120));
    EXPECT_TRUE(caught_up.ok()) << caught_up;
    EXPECT_TRUE((*sink)->Close().ok());
  }

  void ExpectExact(const Table& expected, const std::string& sink_name) {
    auto table = ReadTable(table_);
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_EQ(table->size(), expected.size());
    EXPECT_TRUE(*table == expected) << "the table differs from the oracle";
    auto stored = StoredOffsets(sink_name, topic_);
    auto ends = EndOffsets(topic_, kPartitions);
    ASSERT_TRUE(stored.ok() && ends.ok());
    EXPECT_EQ(*stored, *ends) << "offsets table != topic ends";
  }

  static constexpr int32_t kPartitions = 3;
  std::string topic_;
  std::string table_;
};

TEST_F(PostgresSinkTest, UpsertsAndTombstonesLandExactlyAndAReplayRewritesTheSameRows) {
  auto inputs = RandomInputs(6000, 700, 1);
  ASSERT_TRUE(Produce(topic_, inputs).ok());
  Table expected;
  Apply(inputs, expected);
  MetricsRegistry metrics;
  const std::string name = UniqueName("sink");
  RunToEnd(Options(name, &metrics));
  ExpectExact(expected, name);
  EXPECT_GT(metrics.CounterTotal("runnel_sink_batches_total"), 0);
  EXPECT_GT(metrics.CounterTotal("runnel_sink_records_total"), 0);
  const std::string text = metrics.ToPrometheusText();
  EXPECT_THAT(text, HasSubstr("runnel_sink_records_total{op=\"delete\""));
  EXPECT_THAT(text, HasSubstr("runnel_sink_e2e_latency_seconds_bucket"));

  // A replay under another name over the same table: the same rows again.
  MetricsRegistry replay_metrics;
  const std::string replay = UniqueName("sink-replay");
  RunToEnd(Options(replay, &replay_metrics));
  ExpectExact(expected, replay);
  EXPECT_GT(replay_metrics.CounterTotal("runnel_sink_records_total"), 0);
}

TEST_F(PostgresSinkTest, ARestartResumesFromTheOffsetsInPostgres) {
  auto first = RandomInputs(3000, 400, 2);
  ASSERT_TRUE(Produce(topic_, first).ok());
  const std::string name = UniqueName("sink");
  MetricsRegistry metrics;
  RunToEnd(Options(name, &metrics));
  auto second = RandomInputs(500, 400, 3);
  ASSERT_TRUE(Produce(topic_, second).ok());
  Table expected;
  Apply(first, expected);
  Apply(second, expected);
  MetricsRegistry restarted;
  RunToEnd(Options(name, &restarted));
  ExpectExact(expected, name);
  // It read only what came after the restart (rows after the batch dedupe).
  EXPECT_GT(restarted.CounterTotal("runnel_sink_records_total"), 0);
  EXPECT_LE(restarted.CounterTotal("runnel_sink_records_total"), 500);
}

TEST_F(PostgresSinkTest, ATombstoneForAKeyNeverWrittenIsHarmlessAndAReinsertAfterADeleteLands) {
  std::vector<Input> inputs{{"a", "1"}, {"ghost", std::nullopt}, {"a", std::nullopt}, {"a", "3"},
                            {"b", "2"}, {"b", std::nullopt}};
  ASSERT_TRUE(Produce(topic_, inputs).ok());
  MetricsRegistry metrics;
  const std::string name = UniqueName("sink");
  RunToEnd(Options(name, &metrics));
  ExpectExact(Table{{"a", "3"}}, name);
}

// The child of the crash test: runs a sink until it is killed.
TEST(PostgresSinkCrashChild, RunsUntilKilled) {
  const char* spec = std::getenv("RUNNEL_SINK_CHILD");
  if (spec == nullptr) GTEST_SKIP() << "only run as the crash test's child";
  std::vector<std::string> parts = absl::StrSplit(spec, ',');
  ASSERT_EQ(parts.size(), 3u);
  MetricsRegistry metrics;
  PostgresSinkOptions o;
  o.name = parts[0];
  o.conninfo = PostgresConninfo();
  // A killed member leaves the group after its session timeout: keep that short.
  o.kafka = {{"bootstrap.servers", BootstrapServers()}, {"session.timeout.ms", "6000"}};
  o.routes.push_back({.topic = parts[1],
                      .mapping = {.table = parts[2], .key_columns = {{"id", "text"}}, .value_columns = {{"v", "bigint"}}},
                      .mapper = KeyValueMapper()});
  o.max_batch_records = 200;
  o.max_batch_delay = absl::Milliseconds(20);
  o.clock = &Clock::System();
  o.metrics = &metrics;
  auto sink = PostgresSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Start().ok());
  absl::SleepFor(absl::Minutes(10));
}

TEST_F(PostgresSinkTest, AKillDashNineMidRunThenARestartLeavesTheTableExact) {
  auto inputs = RandomInputs(60000, 5000, 4);
  ASSERT_TRUE(Produce(topic_, inputs).ok());
  Table expected;
  Apply(inputs, expected);
  const std::string name = UniqueName("sink");
  const std::string spec = absl::StrCat("RUNNEL_SINK_CHILD=", name, ",", topic_, ",", table_);
  std::vector<std::string> env_strings{spec};
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  std::string filter = "--gtest_filter=PostgresSinkCrashChild.RunsUntilKilled";
  char* argv[] = {self.data(), filter.data(), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  // Kill it once some but not all of the input is committed.
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  int64_t committed = 0;
  while (absl::Now() < deadline) {
    auto stored = StoredOffsets(name, topic_);
    committed = 0;
    if (stored.ok()) {
      for (const auto& [p, o] : *stored) committed += o;
    }
    if (committed > 5000) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_GT(committed, 5000) << "the child sink made no progress";
  EXPECT_LT(committed, 60000) << "the child finished before the kill: not a mid-run crash";
  MetricsRegistry metrics;
  RunToEnd(Options(name, &metrics));
  ExpectExact(expected, name);
}

TEST_F(PostgresSinkTest, ReadCommittedKeepsAbortedTransactionsOutOfTheTable) {
  auto producer = kafka::Producer::Create(
      {{"bootstrap.servers", BootstrapServers()}, {"transactional.id", UniqueName("sink-tx")}});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->InitTransactions(absl::Seconds(30)).ok());
  auto send_all = [&](const std::string& prefix) {
    for (int i = 0; i < 20; ++i) {
      std::string key = absl::StrCat(prefix, i);
      std::string value = absl::StrCat(i);
      ASSERT_TRUE((*producer)->Send({.topic = topic_, .key = std::string_view(key), .value = std::string_view(value)}).ok());
    }
  };
  ASSERT_TRUE((*producer)->BeginTransaction().ok());
  send_all("aborted-");
  ASSERT_TRUE((*producer)->AbortTransaction(absl::Seconds(30)).ok());
  ASSERT_TRUE((*producer)->BeginTransaction().ok());
  send_all("committed-");
  ASSERT_TRUE((*producer)->CommitTransaction(absl::Seconds(30)).ok());
  Table expected;
  for (int i = 0; i < 20; ++i) expected[absl::StrCat("committed-", i)] = absl::StrCat(i);
  MetricsRegistry metrics;
  const std::string name = UniqueName("sink");
  RunToEnd(Options(name, &metrics));
  ExpectExact(expected, name);
}

// A quick throughput measurement, not run by ctest:
//   postgres_sink_integration_test --gtest_also_run_disabled_tests
//       --gtest_filter='*DISABLED_Throughput*'
TEST_F(PostgresSinkTest, DISABLED_Throughput) {
  const size_t n = 200'000;
  std::vector<Input> inputs;
  for (size_t i = 0; i < n; ++i) inputs.push_back({absl::StrCat("k", i), absl::StrCat(i)});
  ASSERT_TRUE(Produce(topic_, inputs).ok());
  MetricsRegistry metrics;
  PostgresSinkOptions o = Options(UniqueName("sink"), &metrics);
  o.max_batch_records = 5000;
  auto sink = PostgresSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok());
  const absl::Time start = absl::Now();
  ASSERT_TRUE((*sink)->Start().ok());
  ASSERT_TRUE((*sink)->WaitCaughtUp(absl::Minutes(10)).ok());
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE((*sink)->Close().ok());
  auto count = QueryPostgres(absl::StrCat("SELECT count(*) FROM ", table_));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)[0][0], absl::StrCat(n));
  std::printf("%zu upserts in %.2f s: %.0f rows/s, %ld batches\n", n, absl::ToDoubleSeconds(took),
              n / absl::ToDoubleSeconds(took), static_cast<long>(metrics.CounterTotal("runnel_sink_batches_total")));
}

class PostgresSinkRejectTest : public PostgresSinkTest {
 protected:
  void SetUp() override {
    PostgresSinkTest::SetUp();
    ASSERT_TRUE(ExecPostgres(absl::StrCat("CREATE TABLE ", table_,
                                          " (id text PRIMARY KEY, v bigint CHECK (v >= 0))"))
                    .ok());
    // Mapped rows: "neg" breaks the CHECK, "abc" is no bigint, "unmappable"
    // fails the mapper; the rest are fine.
    inputs_ = {{"a", "1"}, {"b", "-5"}, {"c", "abc"}, {"d", "4"}, {"e", "unmappable"}, {"f", "6"}};
  }

  PostgresSinkOptions RejectOptions(const std::string& name, MetricsRegistry* metrics) {
    PostgresSinkOptions o = Options(name, metrics);
    o.routes[0].mapper = [inner = KeyValueMapper()](const kafka::ConsumedRecord& r) -> absl::StatusOr<Row> {
      if (r.value() == "unmappable") return absl::InvalidArgumentError("value: not a number");
      return inner(r);
    };
    return o;
  }

  std::vector<Input> inputs_;
};

TEST_F(PostgresSinkRejectTest, ARejectedRowGoesToTheDeadLetterTopicAndTheRestOfItsBatchIsWritten) {
  const std::string dlq = UniqueName("sink-dlq");
  ASSERT_TRUE(CreateTopic(dlq, 1).ok());
  ASSERT_TRUE(Produce(topic_, {inputs_.begin(), inputs_.end()}).ok());
  MetricsRegistry metrics;
  const std::string name = UniqueName("sink");
  PostgresSinkOptions o = RejectOptions(name, &metrics);
  o.on_error = SinkErrorPolicy::kDeadLetter;
  o.dead_letter_topic = dlq;
  RunToEnd(std::move(o));
  ExpectExact(Table{{"a", "1"}, {"d", "4"}, {"f", "6"}}, name);
  auto dead = testing_fixtures::ConsumeAll(dlq, 3, absl::Seconds(30));
  ASSERT_TRUE(dead.ok()) << dead.status();
  std::map<std::string, std::string> messages;
  for (const auto& r : *dead) {
    const Header* message = LastHeader(r.headers, kafka::DeadLetterHeaderName("message"));
    const Header* node = LastHeader(r.headers, kafka::DeadLetterHeaderName("node"));
    const Header* topic = LastHeader(r.headers, kafka::DeadLetterHeaderName("topic"));
    ASSERT_TRUE(message && node && topic);
    EXPECT_EQ(*node->value, table_);
    EXPECT_EQ(*topic->value, topic_);
    messages[*r.key] = *message->value;
  }
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_THAT(messages["b"], HasSubstr("check constraint"));
  EXPECT_THAT(messages["c"], HasSubstr("bigint"));
  EXPECT_THAT(messages["e"], HasSubstr("not a number"));
  EXPECT_EQ(metrics.CounterTotal("runnel_sink_dead_letter_records_total"), 3);
  EXPECT_EQ(metrics.CounterTotal("runnel_sink_errors_total"), 3);
}

TEST_F(PostgresSinkRejectTest, WithFailARejectedRowFailsTheSinkNamingTableAndOffset) {
  ASSERT_TRUE(Produce(topic_, {{"a", "1"}, {"b", "-5"}}).ok());
  MetricsRegistry metrics;
  auto sink = PostgresSink::Create(RejectOptions(UniqueName("sink"), &metrics));
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Start().ok());
  absl::Status s = (*sink)->WaitCaughtUp(absl::Seconds(60));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ((*sink)->state(), PostgresSink::State::kFailed);
  EXPECT_THAT(s.message(), HasSubstr(table_));
  EXPECT_THAT(s.message(), HasSubstr("@"));
  EXPECT_THAT(s.message(), HasSubstr("check constraint"));
  EXPECT_EQ((*sink)->error(), s);
  EXPECT_FALSE((*sink)->Close().ok());
  auto table = ReadTable(table_);
  ASSERT_TRUE(table.ok());
  EXPECT_FALSE(table->contains("b"));
}

TEST_F(PostgresSinkTest, APostgresOutageIsRetriedAndTheTableIsExactAfterwards) {
  auto first = RandomInputs(20000, 3000, 5);
  ASSERT_TRUE(Produce(topic_, first).ok());
  MetricsRegistry metrics;
  const std::string name = UniqueName("sink");
  PostgresSinkOptions o = Options(name, &metrics);
  o.max_batch_records = 500;
  auto sink = PostgresSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Start().ok());
  // Stop PostgreSQL once the sink has written something.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && metrics.CounterTotal("runnel_sink_batches_total") < 2) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(testing_fixtures::StopPostgres().ok());
  auto second = RandomInputs(5000, 3000, 6);
  ASSERT_TRUE(Produce(topic_, second).ok());
  absl::SleepFor(absl::Seconds(10));
  EXPECT_EQ((*sink)->state(), PostgresSink::State::kRunning);
  ASSERT_TRUE(testing_fixtures::StartPostgres().ok());
  absl::Status caught_up = (*sink)->WaitCaughtUp(absl::Seconds(120));
  EXPECT_TRUE(caught_up.ok()) << caught_up;
  EXPECT_TRUE((*sink)->Close().ok());
  EXPECT_GT(metrics.CounterTotal("runnel_sink_retries_total"), 0);
  Table expected;
  Apply(first, expected);
  Apply(second, expected);
  ExpectExact(expected, name);
}

}  // namespace
}  // namespace runnel::sink
