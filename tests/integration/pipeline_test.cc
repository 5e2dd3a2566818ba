// The first pipeline on a real broker: completeness and per-key order at
// scale, clean shutdown without loss or duplicates, the deserialization
// handlers, and a broker restart in the middle of a run.

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fixtures/broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/admin.h"
#include "runnel/runnel.h"
#include "runnel/runtime/dead_letter.h"

namespace runnel {
namespace {

using testing_fixtures::BootstrapServers;
using testing_fixtures::ConsumeAll;
using testing_fixtures::CreateTopic;
using testing_fixtures::OutputRecord;
using testing_fixtures::UniqueName;

std::map<std::string, std::string> AppConfig(const std::string& app, int threads) {
  return {{"application.id", app},
          {"bootstrap.servers", BootstrapServers()},
          {"num.stream.threads", absl::StrCat(threads)},
          {"commit.interval.ms", "500"}};
}

// "key,seq" values: the pipeline keeps records whose seq is not a multiple of
// `drop_every` (0 = keep all) and appends "|ok".
std::shared_ptr<const Topology> PassThrough(const std::string& in, const std::string& out,
                                            int drop_every = 0) {
  StreamsBuilder builder;
  builder.Stream(in, Consumed(serdes::String(), serdes::String()))
      .Filter([drop_every](const std::string&, const std::string& v) {
        if (drop_every == 0) return true;
        int64_t seq = 0;
        (void)absl::SimpleAtoi(v.substr(v.find(',') + 1), &seq);
        return seq % drop_every != 0;
      })
      .MapValues([](const std::string& v) { return v + "|ok"; })
      .To(out, Produced(serdes::String(), serdes::String()));
  return *builder.Build();
}

// Produces `count` records over `keys` keys: key "k<n>", value "k<n>,<seq>"
// where seq counts up per key from `first_seq`.
void ProduceKeyed(const std::string& topic, int keys, int count, std::map<int, int>& next_seq) {
  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()},
                                           {"linger.ms", "20"},
                                           {"batch.num.messages", "10000"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::string key, value;
  for (int i = 0; i < count; ++i) {
    int k = i % keys;
    key = absl::StrCat("k", k);
    value = absl::StrCat(key, ",", next_seq[k]++);
    ASSERT_TRUE((*producer)->Send({.topic = topic, .key = key, .value = value}).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(120)).ok());
}

// Output value "k<n>,<seq>|ok" -> (n, seq).
std::pair<int, int64_t> ParseOutput(const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(value, absl::ByAnyChar(",|"));
  int k = 0;
  int64_t seq = -1;
  EXPECT_EQ(parts.size(), 3u) << value;
  EXPECT_TRUE(absl::SimpleAtoi(parts[0].substr(1), &k)) << value;
  EXPECT_TRUE(absl::SimpleAtoi(parts[1], &seq)) << value;
  return {k, seq};
}

std::unique_ptr<KafkaStreams> StartApp(std::shared_ptr<const Topology> topology,
                                       std::map<std::string, std::string> values) {
  auto config = StreamsConfig::Create(values);
  EXPECT_TRUE(config.ok()) << config.status();
  auto streams = KafkaStreams::Create(std::move(topology), *config);
  EXPECT_TRUE(streams.ok()) << streams.status();
  absl::Status s = (*streams)->Start();
  EXPECT_TRUE(s.ok()) << s;
  return *std::move(streams);
}

void WaitProcessed(KafkaStreams& streams, int64_t count, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (streams.processed() < count && absl::Now() < deadline) {
    ASSERT_NE(streams.state(), KafkaStreams::State::kError);
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(streams.processed(), count);
}

TEST(PipelineTest, MillionRecordsArriveCompleteAndInOrderPerPartition) {
  const std::string in = UniqueName("w-in"), out = UniqueName("w-out"), app = UniqueName("app");
  ASSERT_TRUE(CreateTopic(in, 4).ok());
  ASSERT_TRUE(CreateTopic(out, 4).ok());
  constexpr int kRecords = 1'000'000, kKeys = 1000;
  std::map<int, int> next_seq;
  ProduceKeyed(in, kKeys, kRecords, next_seq);

  auto streams = StartApp(PassThrough(in, out), AppConfig(app, 2));
  auto output = ConsumeAll(out, kRecords, absl::Minutes(5));
  ASSERT_TRUE(output.ok()) << output.status();
  ASSERT_TRUE(streams->Close().ok());

  ASSERT_EQ(output->size(), static_cast<size_t>(kRecords));
  // Same keys, same partition count: each key stays on one output partition,
  // and its records arrive in production order, each exactly once.
  std::map<int, int64_t> last_seq;
  std::map<int, int32_t> key_partition;
  for (const OutputRecord& r : *output) {
    auto [k, seq] = ParseOutput(r.value.value_or(""));
    auto [it, fresh] = key_partition.emplace(k, r.partition);
    ASSERT_EQ(it->second, r.partition) << "key k" << k << " on two partitions";
    int64_t expected = fresh ? 0 : last_seq[k] + 1;
    ASSERT_EQ(seq, expected) << "key k" << k << " out of order or repeated";
    last_seq[k] = seq;
  }
  EXPECT_EQ(key_partition.size(), static_cast<size_t>(kKeys));
  for (const auto& [k, seq] : last_seq) EXPECT_EQ(seq + 1, next_seq[k]);
  // A clean close committed everything it processed.
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(admin.ok());
  auto offsets = (*admin)->ListGroupOffsets(app, absl::Seconds(30));
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  int64_t committed = 0;
  for (const auto& [tp, offset] : *offsets) committed += offset.value();
  EXPECT_EQ(committed, kRecords);
}

TEST(PipelineTest, StopMidStreamAndRestartNeitherLosesNorDuplicates) {
  const std::string in = UniqueName("r-in"), out = UniqueName("r-out"), app = UniqueName("app");
  ASSERT_TRUE(CreateTopic(in, 4).ok());
  ASSERT_TRUE(CreateTopic(out, 4).ok());
  constexpr int kRecords = 200'000;
  std::map<int, int> next_seq;
  ProduceKeyed(in, 100, kRecords, next_seq);

  // Stop while records are still flowing, three times, then let it finish.
  for (int round = 0; round < 3; ++round) {
    auto streams = StartApp(PassThrough(in, out, /*drop_every=*/7), AppConfig(app, 2));
    WaitProcessed(*streams, 20'000, absl::Minutes(2));
    ASSERT_TRUE(streams->Close().ok());
  }
  auto streams = StartApp(PassThrough(in, out, 7), AppConfig(app, 2));
  int expected = 0;
  for (const auto& [k, n] : next_seq) {
    for (int seq = 0; seq < n; ++seq) expected += seq % 7 != 0;
  }
  auto output = ConsumeAll(out, expected, absl::Minutes(3));
  ASSERT_TRUE(output.ok()) << output.status();
  ASSERT_TRUE(streams->Close().ok());
  std::set<std::pair<int, int64_t>> seen;
  for (const auto& r : *output) {
    auto kv = ParseOutput(r.value.value_or(""));
    EXPECT_NE(kv.second % 7, 0);
    EXPECT_TRUE(seen.insert(kv).second) << "duplicate k" << kv.first << "," << kv.second;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(expected));
  // Nothing more arrives: a short wait for stragglers finds none.
  auto again = ConsumeAll(out, expected + 1, absl::Seconds(3));
  EXPECT_FALSE(again.ok());
}

std::shared_ptr<const Topology> Int64Values(const std::string& in, const std::string& out) {
  StreamsBuilder builder;
  builder.Stream(in, Consumed(serdes::String(), serdes::Int64()))
      .MapValues([](int64_t v) { return v * 10; })
      .To(out, Produced(serdes::String(), serdes::Int64()));
  return *builder.Build();
}

void ProduceInt64sWithBadOnes(const std::string& topic, int count, const std::set<int>& bad) {
  auto producer = kafka::Producer::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(producer.ok());
  std::string bytes;
  Headers headers{{"origin", "test"}};
  for (int i = 0; i < count; ++i) {
    if (bad.contains(i)) {
      bytes = "not-8-bytes";
    } else {
      ASSERT_TRUE(serdes::Int64()->Serialize(i, bytes).ok());
    }
    ASSERT_TRUE((*producer)
                    ->Send({.topic = topic,
                            .partition = Partition(0),
                            .key = absl::StrCat("k", i),
                            .value = bytes,
                            .headers = &headers})
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
}

TEST(PipelineTest, MalformedRecordsGoToTheDeadLetterTopicWhileTheRestFlows) {
  const std::string in = UniqueName("d-in"), out = UniqueName("d-out"), app = UniqueName("app");
  const std::string dlq = app + "-dlq";
  ASSERT_TRUE(CreateTopic(in, 1).ok());
  ASSERT_TRUE(CreateTopic(out, 1).ok());
  const std::set<int> bad{3, 500, 999};
  ProduceInt64sWithBadOnes(in, 1000, bad);
  auto values = AppConfig(app, 1);
  values["default.deserialization.exception.handler"] = "dead_letter";
  values["errors.dead.letter.queue.topic.name"] = dlq;
  auto streams = StartApp(Int64Values(in, out), values);

  auto output = ConsumeAll(out, 997, absl::Minutes(2));
  ASSERT_TRUE(output.ok()) << output.status();
  auto dead = ConsumeAll(dlq, 3, absl::Minutes(1));
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_TRUE(streams->Close().ok());
  EXPECT_EQ(streams->metrics().CounterTotal("runnel_deserialization_errors_total"), 3);
  EXPECT_EQ(streams->metrics().CounterTotal("runnel_dead_letter_records_total"), 3);

  std::set<int64_t> dead_offsets;
  for (const auto& r : *dead) {
    EXPECT_EQ(r.value, "not-8-bytes");
    auto envelope = EnvelopeFromDeadLetter(r.key, r.value, r.headers);
    ASSERT_TRUE(envelope.ok()) << envelope.status();
    EXPECT_EQ(envelope->topic(), in);
    EXPECT_EQ(envelope->partition(), 0);
    EXPECT_EQ(envelope->error().part(), "value");
    EXPECT_THAT(envelope->error().message(), ::testing::HasSubstr("expected 8 bytes"));
    ASSERT_EQ(envelope->headers_size(), 1);  // the original header travels along
    EXPECT_EQ(envelope->headers(0).key(), "origin");
    dead_offsets.insert(envelope->offset());
  }
  EXPECT_EQ(dead_offsets, (std::set<int64_t>{3, 500, 999}));
  int64_t sum = 0;
  for (const auto& r : *output) {
    auto v = serdes::Int64()->Deserialize(r.value);
    ASSERT_TRUE(v.ok());
    sum += *v;
  }
  EXPECT_EQ(sum, 10 * (999 * 1000 / 2 - 3 - 500 - 999));
}

TEST(PipelineTest, LogAndContinueSkipsAndCounts) {
  const std::string in = UniqueName("c-in"), out = UniqueName("c-out"), app = UniqueName("app");
  ASSERT_TRUE(CreateTopic(in, 1).ok());
  ASSERT_TRUE(CreateTopic(out, 1).ok());
  ProduceInt64sWithBadOnes(in, 100, {10, 20});
  auto values = AppConfig(app, 1);
  values["default.deserialization.exception.handler"] = "log_and_continue";
  auto streams = StartApp(Int64Values(in, out), values);
  auto output = ConsumeAll(out, 98, absl::Minutes(1));
  ASSERT_TRUE(output.ok()) << output.status();
  WaitProcessed(*streams, 100, absl::Seconds(30));
  ASSERT_TRUE(streams->Close().ok());
  EXPECT_EQ(streams->metrics().CounterTotal("runnel_deserialization_errors_total"), 2);
}

TEST(PipelineTest, LogAndFailStopsBeforeTheBadRecordAndNeverCommitsIt) {
  const std::string in = UniqueName("f-in"), out = UniqueName("f-out"), app = UniqueName("app");
  ASSERT_TRUE(CreateTopic(in, 1).ok());
  ASSERT_TRUE(CreateTopic(out, 1).ok());
  ProduceInt64sWithBadOnes(in, 100, {40});
  auto streams = StartApp(Int64Values(in, out), AppConfig(app, 1));  // log_and_fail is the default
  absl::Status result = streams->Wait();
  EXPECT_EQ(result.code(), absl::StatusCode::kInvalidArgument) << result;
  EXPECT_THAT(result.message(), ::testing::HasSubstr(absl::StrCat(in, "-0@40")));
  EXPECT_EQ(streams->state(), KafkaStreams::State::kError);
  EXPECT_EQ(streams->metrics().CounterTotal("runnel_deserialization_errors_total"), 1);
  auto admin = kafka::Admin::Create({{"bootstrap.servers", BootstrapServers()}});
  ASSERT_TRUE(admin.ok());
  auto offsets = (*admin)->ListGroupOffsets(app, absl::Seconds(30));
  ASSERT_TRUE(offsets.ok());
  for (const auto& [tp, offset] : *offsets) EXPECT_LE(offset.value(), 40);
  auto output = ConsumeAll(out, 40, absl::Seconds(30));
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(output->size(), 40u);
}

TEST(PipelineTest, MissingSourceTopicIsAClearError) {
  auto config = StreamsConfig::Create(AppConfig(UniqueName("app"), 1));
  ASSERT_TRUE(config.ok());
  std::string missing = UniqueName("missing");
  auto streams = KafkaStreams::Create(PassThrough(missing, "whatever"), *config);
  ASSERT_TRUE(streams.ok());
  absl::Status s = (*streams)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("'" + missing + "'"));
}

TEST(PipelineTest, BadLibrdkafkaSettingStopsStartupNamingIt) {
  auto values = AppConfig(UniqueName("app"), 1);
  values["producer.linger.ms"] = "not-a-number";
  auto config = StreamsConfig::Create(values);
  ASSERT_TRUE(config.ok());
  const std::string in = UniqueName("b-in");
  ASSERT_TRUE(CreateTopic(in, 1).ok());
  auto streams = KafkaStreams::Create(PassThrough(in, "x"), *config);
  ASSERT_TRUE(streams.ok());
  absl::Status s = (*streams)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr("linger.ms"));
}

}  // namespace
}  // namespace runnel
