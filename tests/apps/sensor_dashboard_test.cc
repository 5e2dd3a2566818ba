// The sensor dashboard on the real broker, fed through the real gateway:
// readings posted over HTTP become REST answers equal to what the posted
// data implies (per sensor: count, mean, min, max, last value; per 1- and
// 5-minute window; per location; top-n), unknown sensors are 404, bad
// parameters 400 naming them, closed windows reach the output topic once
// (emit-final), and bad configuration is refused naming the key.

#include <cmath>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "runnel/http/json.h"
#include "sensor_dashboard_fixture.h"
#include "sensor_gateway_fixture.h"
#include "stats.h"

namespace runnel_apps::dashboard {
namespace {

namespace json = boost::json;
using gateway::testing::ReadingJson;
using runnel::testing_fixtures::CreateTopic;
using runnel::testing_fixtures::UniqueName;

struct Expected {
  WindowStats all;
  double last = 0;
  std::string location;
  std::map<int64_t, WindowStats> one_minute;   // by window start
  std::map<int64_t, WindowStats> five_minute;  // by window start
};

json::value GetJson(runnel::http::Client& client, const std::string& target, int want_status) {
  auto r = client.Get(target);
  EXPECT_TRUE(r.ok()) << target << ": " << r.status();
  if (!r.ok()) return nullptr;
  EXPECT_EQ(r->status, want_status) << target << ": " << r->body;
  auto v = runnel::http::ParseJson(r->body);
  EXPECT_TRUE(v.ok()) << target << ": " << r->body;
  return v.ok() ? *v : json::value(nullptr);
}

void ExpectStats(const json::value& got, const WindowStats& want, const std::string& what) {
  ASSERT_TRUE(got.is_object()) << what;
  const json::object& o = got.get_object();
  EXPECT_EQ(o.at("count").to_number<int64_t>(), want.count) << what;
  EXPECT_NEAR(o.at("mean").to_number<double>(), want.mean(), 1e-9) << what;
  EXPECT_EQ(o.at("min").to_number<double>(), want.min) << what;
  EXPECT_EQ(o.at("max").to_number<double>(), want.max) << what;
}

class SensorDashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = UniqueName("dash-in");
    output_ = UniqueName("dash-out");
    state_dir_ = std::filesystem::temp_directory_path() / UniqueName("dash-state");
    ASSERT_TRUE(CreateTopic(input_, 4).ok());
    gateway_ = gateway::testing::StartGateway(input_);
    ASSERT_NE(gateway_, nullptr);
    dashboard_ = testing::StartDashboard(testing::DashboardValues(input_, output_, state_dir_));
    ASSERT_NE(dashboard_, nullptr);
    post_ = gateway::testing::ConnectTo(*gateway_);
    auto api = runnel::http::Client::Connect("127.0.0.1", dashboard_->port(), absl::Seconds(30));
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = *std::move(api);
  }
  void TearDown() override {
    if (dashboard_) {
      EXPECT_TRUE(dashboard_->Shutdown().ok());
    }
    if (gateway_) (void)gateway_->Shutdown();
    std::filesystem::remove_all(state_dir_);
  }

  void Post(const std::string& sensor, double value, int64_t ms, const std::string& location) {
    auto r = post_->PostJson("/sensor", ReadingJson(sensor, value, ms, location));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 202) << r->body;
    Expected& e = expected_[sensor];
    e.all = FoldWindow(e.all, value);
    e.last = value;
    e.location = location;
    e.one_minute[ms / 60'000 * 60'000] = FoldWindow(e.one_minute[ms / 60'000 * 60'000], value);
    for (int64_t start : runnel::TimeWindows::OfSizeWithNoGrace(absl::Minutes(5))
                             .AdvanceBy(absl::Minutes(1))
                             .WindowStartsFor(ms)) {
      e.five_minute[start] = FoldWindow(e.five_minute[start], value);
    }
  }

  // Polls /api/sensors until every sensor's count is what was posted.
  void AwaitCounts() {
    int64_t want = 0;
    for (auto& [id, e] : expected_) want += e.all.count;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int64_t got = -1;
    while (absl::Now() < deadline) {
      auto r = api_->Get("/api/sensors");
      if (r.ok() && r->status == 200) {
        auto v = runnel::http::ParseJson(r->body);
        got = 0;
        for (const json::value& s : v->at("sensors").as_array()) got += s.at("count").to_number<int64_t>();
        if (got == want) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    FAIL() << "the dashboard counted " << got << " readings, " << want << " were posted";
  }

  std::string input_, output_, state_dir_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<runnel::http::Client> post_, api_;
  std::map<std::string, Expected> expected_;
};

TEST_F(SensorDashboardTest, RestAnswersEqualWhatThePostedReadingsImply) {
  // 3 sensors in 2 locations, 60 readings over the last 6 minutes.
  const int64_t base = (runnel::Clock::System().NowMillis().value() - 6 * 60'000) / 60'000 * 60'000;
  const std::vector<std::pair<std::string, std::string>> sensors = {
      {"dash-s1", "lab"}, {"dash-s2", "lab"}, {"dash-s3", "roof"}};
  for (int i = 0; i < 60; ++i) {
    const auto& [id, location] = sensors[i % 3];
    const double value = std::round((20 + 7 * std::sin(i * 0.7) + (i % 3) * 5) * 100) / 100;
    Post(id, value, base + i * 6'000, location);
  }
  AwaitCounts();

  auto all = GetJson(*api_, "/api/sensors", 200);
  ASSERT_EQ(all.at("sensors").as_array().size(), 3u);
  for (const json::value& s : all.at("sensors").as_array()) {
    const std::string id(s.at("sensor_id").as_string());
    ASSERT_TRUE(expected_.count(id)) << id;
    const Expected& e = expected_[id];
    ExpectStats(s, e.all, id);
    EXPECT_EQ(s.at("last_value").to_number<double>(), e.last) << id;
    EXPECT_EQ(s.at("location").as_string(), e.location) << id;
    EXPECT_EQ(s.at("unit").as_string(), "C") << id;
    // The single-sensor answer is the same object.
    EXPECT_EQ(GetJson(*api_, "/api/sensors/" + id, 200), s) << id;

    auto windows = GetJson(*api_, absl::StrCat("/api/sensors/", id, "/windows"), 200);
    EXPECT_EQ(windows.at("window").as_string(), "1m");
    ASSERT_EQ(windows.at("windows").as_array().size(), e.one_minute.size()) << id;
    for (const json::value& w : windows.at("windows").as_array()) {
      const int64_t start = w.at("start_ms").to_number<int64_t>();
      ASSERT_TRUE(e.one_minute.count(start)) << id << " " << start;
      ExpectStats(w, e.one_minute.at(start), absl::StrCat(id, " 1m@", start));
      EXPECT_EQ(w.at("end_ms").to_number<int64_t>(), start + 60'000);
    }
    auto five = GetJson(*api_, absl::StrCat("/api/sensors/", id, "/windows?window=5m&from=0"), 200);
    ASSERT_EQ(five.at("windows").as_array().size(), e.five_minute.size()) << id;
    for (const json::value& w : five.at("windows").as_array()) {
      const int64_t start = w.at("start_ms").to_number<int64_t>();
      ASSERT_TRUE(e.five_minute.count(start)) << id << " " << start;
      ExpectStats(w, e.five_minute.at(start), absl::StrCat(id, " 5m@", start));
    }
    // from/to as ISO-8601 and epoch ms select by window start.
    const int64_t first = e.one_minute.begin()->first;
    auto one = GetJson(*api_,
                       absl::StrCat("/api/sensors/", id, "/windows?from=",
                                    gateway::FormatTimestampMillis(first), "&to=", first), 200);
    ASSERT_EQ(one.at("windows").as_array().size(), 1u) << id;
    ExpectStats(one.at("windows").as_array()[0], e.one_minute.begin()->second, id);
  }

  // Top by max and by count.
  std::vector<std::pair<double, std::string>> by_max;
  for (auto& [id, e] : expected_) by_max.push_back({e.all.max, id});
  std::sort(by_max.rbegin(), by_max.rend());
  auto top = GetJson(*api_, "/api/top?by=max&n=2", 200);
  ASSERT_EQ(top.at("sensors").as_array().size(), 2u);
  EXPECT_EQ(top.at("sensors").as_array()[0].at("sensor_id").as_string(), by_max[0].second);
  EXPECT_EQ(top.at("sensors").as_array()[1].at("sensor_id").as_string(), by_max[1].second);
  EXPECT_EQ(GetJson(*api_, "/api/top?by=count", 200).at("sensors").as_array().size(), 3u);

  // Per location: its sensors, and its newest windows over all of them.
  // The location windows are one repartition hop behind the per-sensor
  // stores AwaitCounts waited for: wait until the newest lab window holds
  // every lab reading of its minute.
  const auto lab_expected = [&](int64_t start) {
    WindowStats w;
    for (const char* id : {"dash-s1", "dash-s2"}) {
      auto it = expected_[id].one_minute.find(start);
      if (it == expected_[id].one_minute.end()) continue;
      w.count += it->second.count;
      w.sum += it->second.sum;
    }
    return w;
  };
  json::value lab;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;) {
    lab = GetJson(*api_, "/api/locations/lab", 200);
    if (lab.is_object() && lab.at("latest_1m").is_object() &&
        lab.at("latest_1m").at("count").to_number<int64_t>() ==
            lab_expected(lab.at("latest_1m").at("start_ms").to_number<int64_t>()).count) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(lab.is_object() && lab.at("latest_1m").is_object()) << json::serialize(lab);
  EXPECT_EQ(lab.at("sensors").as_array().size(), 2u);
  const int64_t lab_start = lab.at("latest_1m").at("start_ms").to_number<int64_t>();
  const WindowStats lab_latest = lab_expected(lab_start);
  EXPECT_EQ(lab.at("latest_1m").at("count").to_number<int64_t>(), lab_latest.count);
  EXPECT_NEAR(lab.at("latest_1m").at("sum").to_number<double>(), lab_latest.sum, 1e-9);
  EXPECT_EQ(GetJson(*api_, "/api/locations/roof", 200).at("sensors").as_array().size(), 1u);

  // 404 and 400, as JSON naming what is wrong.
  EXPECT_TRUE(GetJson(*api_, "/api/sensors/no-such-sensor", 404).at("error").as_string().find("no-such-sensor") !=
              json::string::npos);
  GetJson(*api_, "/api/sensors/no-such-sensor/windows", 404);
  GetJson(*api_, "/api/locations/atlantis", 404);
  for (auto [target, param] : std::vector<std::pair<std::string, std::string>>{
           {"/api/sensors/dash-s1/windows?from=yesterday", "from"},
           {"/api/sensors/dash-s1/windows?to=12:00", "to"},
           {"/api/sensors/dash-s1/windows?from=2000&to=1000", "from"},
           {"/api/sensors/dash-s1/windows?window=7m", "window"},
           {"/api/top?by=median", "by"},
           {"/api/top?n=0", "n"},
           {"/api/top?n=abc", "n"}}) {
    EXPECT_EQ(GetJson(*api_, target, 400).at("parameter").as_string(), param) << target;
  }

  // Emit-final: a reading 10 minutes later per sensor moves stream time past
  // the windows of every sensor's partition; each closed 1-minute window of
  // dash-s1 reaches the output topic once, with its final statistics.
  const Expected s1 = expected_["dash-s1"];
  for (const auto& [id, location] : sensors) Post(id, 0, base + 16 * 60'000, location);
  auto records = runnel::testing_fixtures::ConsumeUntil(
      output_,
      [&](const std::vector<runnel::testing_fixtures::OutputRecord>& rs) {
        size_t n = 0;
        for (const auto& r : rs) n += r.key == "dash-s1" && r.value->find(R"("window":"1m")") != std::string::npos;
        return n >= s1.one_minute.size();
      },
      absl::Seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  std::map<int64_t, int> seen;
  for (const auto& r : *records) {
    auto v = runnel::http::ParseJson(*r.value);
    ASSERT_TRUE(v.ok());
    if (r.key != "dash-s1" || v->at("window").as_string() != "1m" || v->at("scope").as_string() != "sensor") continue;
    const int64_t start = v->at("start_ms").to_number<int64_t>();
    ++seen[start];
    ASSERT_TRUE(s1.one_minute.count(start)) << *r.value;
    ExpectStats(*v, s1.one_minute.at(start), *r.value);
  }
  for (auto& [start, n] : seen) EXPECT_EQ(n, 1) << "window " << start << " emitted " << n << " times";
  EXPECT_EQ(seen.size(), s1.one_minute.size());
}

TEST(SensorDashboardConfigTest, BadKeysAndValuesAreRefusedNamingThem) {
  const std::string dir = std::filesystem::temp_directory_path() / UniqueName("dash-cfg");
  auto base = testing::DashboardValues("in", "out", dir);
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"no.such.key", "1"},
           {"http.port", "70000"},
           {"windows.retention.ms", "60000"},
           {"processing.guarantee", "twice"},
           {"chartjs.path", "/nonexistent/chart.js"},
           {"web.dir", "/nonexistent"},
           {"application.server", ""}}) {
    auto values = base;
    values[key] = value;
    auto config = ParseDashboardConfig(values);
    ASSERT_FALSE(config.ok()) << key;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_NE(config.status().message().find(key), std::string_view::npos) << config.status();
  }
  auto config = ParseDashboardConfig(base);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->own.GetInt("http.port"), 0);
  EXPECT_EQ(ParseDashboardConfig({}).value().own.GetInt("http.port"), 8050);
  EXPECT_EQ(ParseDashboardConfig({}).value().own.GetString("input.topic"), "sensor_data");
}

}  // namespace
}  // namespace runnel_apps::dashboard
