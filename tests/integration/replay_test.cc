// runnel-replay on the fixture's broker: a CSV replayed and consumed back
// equals the CSV (keys, values, timestamps, headers); the retention check
// refuses a 7-day topic for last year's data; --on-error fail sends nothing;
// header columns flow through a DSL topology onto its output records.

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replay.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"
#include "runnel/runnel.h"

namespace runnel::replay {
namespace {

using ::testing::HasSubstr;
using testing_fixtures::BootstrapServers;
using testing_fixtures::ConsumeAll;
using testing_fixtures::CreateTopic;
using testing_fixtures::OutputRecord;
using testing_fixtures::UniqueName;

// 2026-03-02T06:00:00Z
constexpr int64_t kSixAm = 1772431200000;

std::string WriteCsv(const std::string& text) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", UniqueName("replay"), ".csv");
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

absl::StatusOr<ReplaySummary> Replay(CsvOptions options) {
  static RealSleeper sleeper;
  options.bootstrap = BootstrapServers();
  const ReplayEnv env{.clock = Clock::System(), .sleeper = sleeper, .out = stdout, .err = stderr,
                      .terminal = false};
  return ReplayCsv(options, env);
}

ColumnRoles SensorRoles() {
  return {.key_column = "sensor", .time_column = "time", .header_columns = {"location", "firmware"}};
}

// Records in `topic` by its watermarks (no consumer group).
int64_t RecordCount(const std::string& topic) {
  auto consumer = kafka::Consumer::Create({{"bootstrap.servers", BootstrapServers()}, {"group.id", topic}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  auto marks = (*consumer)->Watermarks({topic, Partition(0)}, absl::Seconds(30));
  EXPECT_TRUE(marks.ok()) << marks.status();
  return marks->second.value() - marks->first.value();
}

std::map<std::string, std::string> HeaderMap(const Headers& headers) {
  std::map<std::string, std::string> out;
  for (const Header& h : headers) out[h.key] = h.value.value_or("<null>");
  return out;
}

TEST(ReplayIntegrationTest, ConsumedBackRecordsEqualTheCsv) {
  const std::string topic = UniqueName("replay-roundtrip");
  const std::string path = WriteCsv(
      "time,sensor,location,firmware,temperature_c,note\r\n"
      "2026-03-02T06:00:00Z,s-1,lab,1.2,21.5,ok\r\n"
      "2026-03-02T06:00:00.250Z,s-2,\"hall, north\",1.3,-3,\"said \"\"hi\"\"\"\r\n"
      "2026-03-02T07:00:00+01:00,s-1,lab,1.2,22,\"two\r\nlines\"\r\n"
      "1772431260000,s-2,\"hall, north\",1.3,1e2,x\r\n");
  auto summary = Replay({.file = path, .topic = topic, .roles = SensorRoles(), .partitions = 2});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows_read, 4);
  EXPECT_EQ(summary->sent, 4);
  EXPECT_EQ(summary->skipped, 0);

  // The tool made the topic and, the data being months old, lifted its
  // time retention.
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(admin.ok());
  auto configs = (*admin)->DescribeTopicConfigs(topic, absl::Seconds(30));
  ASSERT_TRUE(configs.ok()) << configs.status();
  EXPECT_EQ(configs->at("retention.ms"), "-1");
  auto description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
  ASSERT_TRUE(description.ok());
  EXPECT_EQ(description->partitions, 2);

  auto records = ConsumeAll(topic, 4, absl::Seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  std::map<std::string, std::vector<OutputRecord>> by_key;  // per key in send order
  for (OutputRecord& r : *records) by_key[r.key.value_or("")].push_back(std::move(r));
  ASSERT_EQ(by_key["s-1"].size(), 2u);
  ASSERT_EQ(by_key["s-2"].size(), 2u);
  const OutputRecord& a = by_key["s-1"][0];
  EXPECT_EQ(a.value, R"({"temperature_c":21.5,"note":"ok"})");
  EXPECT_EQ(a.timestamp.value(), kSixAm);
  EXPECT_EQ(HeaderMap(a.headers), (std::map<std::string, std::string>{{"location", "lab"}, {"firmware", "1.2"}}));
  const OutputRecord& b = by_key["s-2"][0];
  EXPECT_EQ(b.value, R"({"temperature_c":-3,"note":"said \"hi\""})");
  EXPECT_EQ(b.timestamp.value(), kSixAm + 250);
  EXPECT_EQ(HeaderMap(b.headers).at("location"), "hall, north");
  const OutputRecord& c = by_key["s-1"][1];
  EXPECT_EQ(c.value, R"({"temperature_c":22,"note":"two\r\nlines"})");
  EXPECT_EQ(c.timestamp.value(), kSixAm);  // 07:00+01:00
  const OutputRecord& d = by_key["s-2"][1];
  EXPECT_EQ(d.value, R"({"temperature_c":1e2,"note":"x"})");
  EXPECT_EQ(d.timestamp.value(), kSixAm + 60'000);
  std::remove(path.c_str());
}

TEST(ReplayIntegrationTest, RefusesASevenDayTopicForLastYearsData) {
  const std::string topic = UniqueName("replay-retention");
  ASSERT_TRUE(CreateTopic(topic, 1, {{"retention.ms", "604800000"}}).ok());
  const absl::Time last_year = Clock::System().Now() - absl::Hours(24 * 365);
  const std::string t0 = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", last_year, absl::UTCTimeZone());
  const std::string t1 = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", last_year + absl::Minutes(5), absl::UTCTimeZone());
  const std::string path = WriteCsv(absl::StrCat("time,sensor,location,firmware,temperature_c\n", t0,
                                                 ",s-1,lab,1,20\n", t1, ",s-1,lab,1,21\n"));
  // --create-topic on an existing topic keeps it, so it is refused too.
  for (bool create : {false, true}) {
    auto summary = Replay({.file = path, .topic = topic, .roles = SensorRoles(), .create_topic = create});
    ASSERT_FALSE(summary.ok());
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(summary.status().message(), HasSubstr("retention.ms is 604800000 (7.0 days)"));
    EXPECT_THAT(summary.status().message(), HasSubstr("--add-config retention.ms=-1"));
  }
  EXPECT_EQ(RecordCount(topic), 0);

  // Into a new topic the same CSV goes through, with retention lifted.
  const std::string fresh = UniqueName("replay-retention-new");
  auto summary = Replay({.file = path, .topic = fresh, .roles = SensorRoles(), .create_topic = true});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->sent, 2);
  auto records = ConsumeAll(fresh, 2, absl::Seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  std::remove(path.c_str());
}

TEST(ReplayIntegrationTest, OnErrorFailSendsNothingAndNamesTheLine) {
  const std::string topic = UniqueName("replay-fail");
  // Unlimited retention: the rows are from March (see the retention test).
  ASSERT_TRUE(CreateTopic(topic, 1, {{"retention.ms", "-1"}}).ok());
  const std::string path = WriteCsv(
      "time,sensor,location,firmware,temperature_c\n"
      "2026-03-02T06:00:00Z,s-1,lab,1,20\n"
      "2026-03-02T06:01:00Z,s-1,lab,1,21\n"
      "not-a-time,s-1,lab,1,22\n"
      "2026-03-02T06:03:00Z,s-1,lab,1,23\n"
      "2026-03-02T06:04:00Z,s-1,lab,1\n");
  auto summary = Replay({.file = path, .topic = topic, .roles = SensorRoles(), .fail_on_error = true});
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr(":4: column 'time': 'not-a-time'"));
  EXPECT_EQ(RecordCount(topic), 0);

  // Skipping: the good rows go, the two bad ones are counted by reason.
  summary = Replay({.file = path, .topic = topic, .roles = SensorRoles()});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows_read, 5);
  EXPECT_EQ(summary->sent, 3);
  EXPECT_EQ(summary->skipped, 2);
  EXPECT_EQ(RecordCount(topic), 3);
  std::remove(path.c_str());
}

TEST(ReplayIntegrationTest, HeaderColumnsFlowThroughADslTopology) {
  const std::string in = UniqueName("replay-dsl-in"), out = UniqueName("replay-dsl-out");
  const std::string app = UniqueName("replay-dsl-app");
  ASSERT_TRUE(CreateTopic(out, 1, {{"retention.ms", "-1"}}).ok());
  const std::string path = WriteCsv(
      "time,sensor,location,firmware,temperature_c\n"
      "2026-03-02T06:00:00Z,s-1,lab,1.2,20\n"
      "2026-03-02T06:05:00Z,s-2,roof,1.3,21\n"
      "2026-03-02T06:10:00Z,s-1,lab,1.2,22\n");
  auto summary = Replay({.file = path, .topic = in, .roles = SensorRoles()});
  ASSERT_TRUE(summary.ok()) << summary.status();

  StreamsBuilder builder;
  builder.Stream(in, Consumed(serdes::String(), serdes::String()))
      .MapValues([](const std::string& v) { return v + "|seen"; })
      .To(out, Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::Create({{"application.id", app},
                                       {"bootstrap.servers", BootstrapServers()},
                                       {"commit.interval.ms", "200"}});
  ASSERT_TRUE(config.ok()) << config.status();
  auto streams = KafkaStreams::Create(*topology, *config);
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE((*streams)->Start().ok());
  auto records = ConsumeAll(out, 3, absl::Seconds(90));
  ASSERT_TRUE((*streams)->Close().ok());
  ASSERT_TRUE(records.ok()) << records.status();

  ASSERT_EQ(records->size(), 3u);
  const std::vector<std::pair<std::string, std::string>> expected = {{"s-1", "lab"}, {"s-2", "roof"}, {"s-1", "lab"}};
  for (size_t i = 0; i < 3; ++i) {
    const OutputRecord& r = (*records)[i];
    EXPECT_EQ(r.key, expected[i].first);
    EXPECT_EQ(r.timestamp.value(), kSixAm + static_cast<int64_t>(i) * 300'000);
    EXPECT_EQ(r.value, absl::StrCat("{\"temperature_c\":", 20 + i, "}|seen"));
    EXPECT_EQ(HeaderMap(r.headers),
              (std::map<std::string, std::string>{{"location", expected[i].second},
                                                  {"firmware", i == 1 ? "1.3" : "1.2"}}));
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace runnel::replay
