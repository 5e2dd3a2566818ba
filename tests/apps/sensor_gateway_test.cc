// The sensor gateway on the real broker: what is answered 202 is in the
// topic with the right key, timestamp and value; what is refused names the
// field (and index) and leaves nothing in the topic; readiness follows the
// topic; N readings answered 202 are N records.

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "runnel/http/json.h"
#include "sensor_gateway_fixture.h"

namespace runnel_apps::gateway {
namespace {

using runnel::testing_fixtures::ConsumeAll;
using runnel::testing_fixtures::CreateTopic;
using runnel::testing_fixtures::UniqueName;
using testing::ConnectTo;
using testing::ReadingJson;
using testing::StartGateway;

boost::json::value Json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

TEST(SensorGatewayTest, ASingleReadingLandsKeyedBySensorWithItsTimestamp) {
  const std::string topic = UniqueName("gw-single");
  auto gateway = StartGateway(topic);
  ASSERT_NE(gateway, nullptr);
  ASSERT_TRUE(gateway->ready());
  auto client = ConnectTo(*gateway);
  const int64_t ts = runnel::Clock::System().NowMillis().value() - 1234;
  auto r = client->PostJson("/sensor", ReadingJson("sensor01", 25.3, ts));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(Json(r->body), Json(R"({"status":"accepted","count":1})"));
  auto records = ConsumeAll(topic, 1, absl::Seconds(30));
  ASSERT_TRUE(records.ok()) << records.status();
  const auto& rec = records->front();
  EXPECT_EQ(rec.key, "sensor01");
  EXPECT_EQ(rec.timestamp.value(), ts);
  EXPECT_EQ(*rec.value, absl::StrCat(R"({"sensor_id":"sensor01","timestamp":")", FormatTimestampMillis(ts),
                                     R"(","type":"temperature","value":25.3,"unit":"C","location":"lab"})"));
  EXPECT_EQ(gateway->accepted_requests(), 1);
}

TEST(SensorGatewayTest, ABatchLandsWholeInOrderPerSensor) {
  const std::string topic = UniqueName("gw-batch");
  auto gateway = StartGateway(topic);
  ASSERT_NE(gateway, nullptr);
  auto client = ConnectTo(*gateway);
  const int64_t base = runnel::Clock::System().NowMillis().value() - 100'000;
  std::string body = "[";
  constexpr int kReadings = 60;
  for (int i = 0; i < kReadings; ++i) {
    if (i > 0) body += ",";
    body += ReadingJson(absl::StrCat("s-", i % 6), i, base + i);
  }
  body += "]";
  auto r = client->PostJson("/sensors", body);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(Json(r->body).at("count").as_int64(), kReadings);
  auto records = ConsumeAll(topic, kReadings, absl::Seconds(30));
  ASSERT_TRUE(records.ok()) << records.status();
  // Records come in partition order, offset order within: per sensor, the
  // readings are in the order of the array.
  std::map<std::string, std::vector<int>> per_sensor;
  for (const auto& rec : *records) {
    boost::json::value v = Json(*rec.value);
    const int i = static_cast<int>(v.at("value").as_int64());
    EXPECT_EQ(*rec.key, absl::StrCat("s-", i % 6));
    EXPECT_EQ(v.at("sensor_id").as_string(), rec.key->c_str());
    EXPECT_EQ(rec.timestamp.value(), base + i);
    EXPECT_EQ(v.at("timestamp").as_string(), FormatTimestampMillis(base + i).c_str());
    per_sensor[*rec.key].push_back(i);
  }
  ASSERT_EQ(per_sensor.size(), 6u);
  for (const auto& [sensor, values] : per_sensor) {
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end())) << sensor;
    EXPECT_EQ(values.size(), 10u) << sensor;
  }
}

struct BadRequest {
  std::string name;
  std::string target;
  std::string body;
  std::string content_type;  // empty: none sent
  int status;
  std::string field;  // expected "field", empty: none
  int index;          // expected "index", -1: none
};

TEST(SensorGatewayTest, BadInputIsRefusedNamingTheFieldAndIndexAndNothingIsWritten) {
  const std::string topic = UniqueName("gw-bad");
  auto gateway = StartGateway(topic, {{"batch.max.readings", "10"}, {"http.max.body.bytes", "65536"}});
  ASSERT_NE(gateway, nullptr);
  const std::string ok = ReadingJson("s1", 1.5);
  auto with = [&](std::string_view field, std::string_view json_value) {
    auto v = Json(ok);
    if (json_value.empty()) {
      v.as_object().erase(field);
    } else {
      v.as_object()[field] = Json(json_value);
    }
    return runnel::http::SerializeJson(v);
  };
  std::string array_bad_3 = "[";
  for (int i = 0; i < 5; ++i) absl::StrAppend(&array_bad_3, i > 0 ? "," : "", i == 3 ? with("timestamp", "\"2025-11-17 14:20\"") : ok);
  array_bad_3 += "]";
  std::string array_11 = "[";
  for (int i = 0; i < 11; ++i) absl::StrAppend(&array_11, i > 0 ? "," : "", ok);
  array_11 += "]";
  const std::vector<BadRequest> cases = {
      {"missing sensor_id", "/sensor", with("sensor_id", ""), "application/json", 400, "sensor_id", -1},
      {"numeric sensor_id", "/sensor", with("sensor_id", "17"), "application/json", 400, "sensor_id", -1},
      {"missing timestamp", "/sensor", with("timestamp", ""), "application/json", 400, "timestamp", -1},
      {"unparsable timestamp", "/sensor", with("timestamp", "\"17/11/2025\""), "application/json", 400, "timestamp", -1},
      {"timestamp without zone", "/sensor", with("timestamp", "\"2025-11-17T14:20:00\""), "application/json", 400,
       "timestamp", -1},
      {"missing type", "/sensor", with("type", ""), "application/json", 400, "type", -1},
      {"string value", "/sensor", with("value", "\"25.3\""), "application/json", 400, "value", -1},
      {"null value", "/sensor", with("value", "null"), "application/json", 400, "value", -1},
      {"infinite value", "/sensor", absl::StrReplaceAll(ok, {{"\"value\":1.5", "\"value\":1e999"}}),
       "application/json", 400, "value", -1},
      {"missing unit", "/sensor", with("unit", ""), "application/json", 400, "unit", -1},
      {"array location", "/sensor", with("location", "[1]"), "application/json", 400, "location", -1},
      {"not JSON", "/sensor", "sensor01,25.3", "application/json", 400, "", -1},
      {"array to /sensor", "/sensor", absl::StrCat("[", ok, "]"), "application/json", 400, "", -1},
      {"object to /sensors", "/sensors", ok, "application/json", 400, "", -1},
      {"empty array", "/sensors", "[]", "application/json", 400, "", -1},
      {"bad element 3", "/sensors", array_bad_3, "application/json", 400, "timestamp", 3},
      {"11 readings, max 10", "/sensors", array_11, "application/json", 400, "", 10},
      {"text/plain", "/sensor", ok, "text/plain", 415, "Content-Type", -1},
      {"no content type", "/sensors", absl::StrCat("[", ok, "]"), "", 415, "Content-Type", -1},
      {"body over the limit", "/sensor", std::string(65537, ' '), "application/json", 413, "", -1},
  };
  for (const BadRequest& c : cases) {
    auto client = ConnectTo(*gateway);
    runnel::http::Fields headers;
    if (!c.content_type.empty()) headers.emplace_back("Content-Type", c.content_type);
    auto r = client->Send(runnel::http::Method::kPost, c.target, c.body, headers);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status();
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    boost::json::value v = Json(r->body);
    ASSERT_TRUE(v.is_object()) << c.name;
    EXPECT_TRUE(v.as_object().contains("error")) << c.name;
    if (c.field.empty()) {
      EXPECT_FALSE(v.as_object().contains("field")) << c.name << ": " << r->body;
    } else {
      EXPECT_EQ(v.as_object().contains("field") ? std::string(v.at("field").as_string()) : "", c.field)
          << c.name << ": " << r->body;
    }
    if (c.index < 0) {
      EXPECT_FALSE(v.as_object().contains("index")) << c.name << ": " << r->body;
    } else {
      EXPECT_EQ(v.as_object().contains("index") ? v.at("index").as_int64() : -1, c.index) << c.name << ": " << r->body;
    }
  }
  EXPECT_EQ(gateway->accepted_requests(), 0);
  // Nothing of those reached the topic: after one good reading, the topic
  // holds exactly that one.
  auto client = ConnectTo(*gateway);
  auto marker = client->PostJson("/sensor", ReadingJson("marker", 0));
  ASSERT_TRUE(marker.ok());
  ASSERT_EQ(marker->status, 202);
  auto records = ConsumeAll(topic, 1, absl::Seconds(30));
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->front().key, "marker");
  EXPECT_FALSE(ConsumeAll(topic, 2, absl::Seconds(3)).ok()) << "a refused request was written";
}

TEST(SensorGatewayTest, HealthzIsUpAndReadyzFollowsTheTopic) {
  const std::string topic = UniqueName("gw-ready");
  auto gateway = StartGateway(topic, {{"topic.create", "false"}, {"retry.after.seconds", "3"}});
  ASSERT_NE(gateway, nullptr);
  auto client = ConnectTo(*gateway);
  auto health = client->Get("/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  auto ready = client->Get("/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find(absl::StrCat("topic '", topic, "' does not exist")), std::string::npos) << ready->body;
  auto post = client->PostJson("/sensor", ReadingJson("s1", 1));
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 503) << post->body;
  EXPECT_EQ(post->Header("Retry-After"), "3");

  ASSERT_TRUE(CreateTopic(topic, 2).ok());
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    status = client->Get("/readyz")->status;
  }
  EXPECT_EQ(status, 200);
  post = client->PostJson("/sensor", ReadingJson("s1", 1));
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 202) << post->body;
  // The 503 before wrote nothing: exactly one record.
  EXPECT_TRUE(ConsumeAll(topic, 1, absl::Seconds(30)).ok());
  EXPECT_FALSE(ConsumeAll(topic, 2, absl::Seconds(3)).ok());
}

// For a shortfall: reads the topic until it stops growing and says which
// accepted readings are missing and whether a partition's offsets have a
// hole (the reader skipped a record) or not (it was never written).
std::string DescribeShortfall(const std::string& topic, const std::set<int64_t>& accepted) {
  size_t last_size = 0;
  absl::Time last_growth = absl::Now();
  auto read = runnel::testing_fixtures::ConsumeUntil(
      topic,
      [&](const std::vector<runnel::testing_fixtures::OutputRecord>& records) {
        if (records.size() != last_size) {
          last_size = records.size();
          last_growth = absl::Now();
        }
        return absl::Now() - last_growth > absl::Seconds(5);
      },
      absl::Seconds(60));
  if (!read.ok()) return absl::StrCat("re-reading failed: ", read.status().ToString());
  std::set<int64_t> found;
  std::map<int32_t, std::pair<int64_t, int64_t>> range;  // partition -> (count, max offset)
  for (const auto& rec : *read) {
    found.insert(Json(*rec.value).at("value").as_int64());
    auto& [count, max_offset] = range[rec.partition];
    ++count;
    max_offset = std::max(max_offset, rec.offset);
  }
  std::string out = absl::StrCat("re-read ", read->size(), " records; missing values:");
  for (int64_t v : accepted) {
    if (!found.count(v)) absl::StrAppend(&out, " ", v);
  }
  for (const auto& [partition, cr] : range) {
    absl::StrAppend(&out, "; partition ", partition, ": ", cr.first, " records, last offset ", cr.second);
  }
  return out;
}

// 8 clients, 3,200 requests (every fourth a batch of 3): every 202'd
// reading is in the topic exactly once.
void PostManyAndFindEveryAcceptedReadingOnce(std::map<std::string, std::string> overrides) {
  const std::string topic = UniqueName("gw-noloss");
  auto gateway = StartGateway(topic, std::move(overrides));
  ASSERT_NE(gateway, nullptr);
  constexpr int kThreads = 8, kPerThread = 400;
  std::atomic<int> accepted{0}, other{0};
  std::mutex values_mu;
  std::set<int64_t> accepted_values;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = ConnectTo(*gateway);
      for (int i = 0; i < kPerThread; ++i) {
        // Every fourth request is a batch of 3.
        const int id = t * kPerThread + i;
        absl::StatusOr<runnel::http::ClientResponse> r;
        if (i % 4 == 3) {
          r = client->PostJson("/sensors", absl::StrCat("[", ReadingJson(absl::StrCat("t", t), id * 10 + 0), ",",
                                                        ReadingJson(absl::StrCat("t", t), id * 10 + 1), ",",
                                                        ReadingJson(absl::StrCat("t", t), id * 10 + 2), "]"));
        } else {
          r = client->PostJson("/sensor", ReadingJson(absl::StrCat("t", t), id * 10));
        }
        if (r.ok() && r->status == 202) {
          accepted += i % 4 == 3 ? 3 : 1;
          std::lock_guard<std::mutex> lock(values_mu);
          for (int k = 0; k < (i % 4 == 3 ? 3 : 1); ++k) accepted_values.insert(id * 10 + k);
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  const int expected = kThreads * kPerThread / 4 * 3 + kThreads * kPerThread * 3 / 4;
  EXPECT_EQ(accepted.load(), expected);
  EXPECT_EQ(gateway->accepted_readings(), accepted.load());
  auto records = ConsumeAll(topic, accepted.load(), absl::Seconds(60));
  if (!records.ok()) {
    std::string metrics;
    if (auto m = ConnectTo(*gateway)->Get("/metrics"); m.ok()) {
      for (absl::string_view line : absl::StrSplit(m->body, '\n')) {
        if (absl::StartsWith(line, "sensor_gateway_")) absl::StrAppend(&metrics, line, "\n");
      }
    }
    FAIL() << records.status() << "\n" << DescribeShortfall(topic, accepted_values) << "\n" << metrics;
  }
  std::set<int64_t> distinct;
  for (const auto& rec : *records) distinct.insert(Json(*rec.value).at("value").as_int64());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(accepted.load()));
  EXPECT_FALSE(ConsumeAll(topic, accepted.load() + 1, absl::Seconds(3)).ok()) << "more records than 202s";
}

// The default: delivery reports served on the HTTP I/O threads.
TEST(SensorGatewayTest, EveryReadingAnswered202IsInTheTopicOnce) { PostManyAndFindEveryAcceptedReadingOnce({}); }

TEST(SensorGatewayTest, EveryReadingAnswered202IsInTheTopicOnceWithReportsOnTheProducersThreads) {
  PostManyAndFindEveryAcceptedReadingOnce({{"deliveries.on.io.threads", "false"}});
}

TEST(SensorGatewayConfigTest, BadKeysAndValuesStopStartUpNamingThem) {
  auto unknown = ParseGatewayConfig({{"listen.prot", "5000"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'listen.prot'"), std::string::npos) << unknown.status();
  EXPECT_NE(unknown.status().message().find("listen.port"), std::string::npos) << unknown.status();
  auto range = ParseGatewayConfig({{"listen.port", "70000"}});
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("listen.port"), std::string::npos) << range.status();
  auto acks = ParseGatewayConfig({{"producer.acks", "1"}});
  ASSERT_FALSE(acks.ok());
  EXPECT_NE(acks.status().message().find("producer.acks"), std::string::npos) << acks.status();
  auto defaults = ParseGatewayConfig({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->GetString("topic"), "sensor_data");
  EXPECT_EQ(defaults->GetInt("listen.port"), 5000);
  // A librdkafka setting passes through and is checked by librdkafka.
  auto bad_rdkafka = ParseGatewayConfig({{"bootstrap.servers", runnel::testing_fixtures::BootstrapServers()},
                                         {"producer.no.such.property", "1"},
                                         {"listen.port", "0"}});
  ASSERT_TRUE(bad_rdkafka.ok());
  auto gateway = Gateway::Start(*bad_rdkafka);
  ASSERT_FALSE(gateway.ok());
  EXPECT_NE(gateway.status().message().find("no.such.property"), std::string::npos) << gateway.status();
}

}  // namespace
}  // namespace runnel_apps::gateway
