// W8's reader: tails the gateway's topic from the beginning while wrk posts,
// measuring how long each reading took to become visible to a consumer
// (receive time minus the record timestamp, which is the reading's timestamp,
// which w8_post_sensor.lua stamps with the wall clock when it builds the
// request; ms resolution). On SIGTERM it reads on to the end of every
// partition, checks every record and prints one JSON line:
//   {"records": N, "distinct": D, "duplicates": N-D, "bad": B,
//    "visible_p50_ms": .., "visible_p99_ms": .., "visible_max_ms": ..}
// A record is bad unless its value is the gateway's JSON for a reading that
// the Lua script could have sent: sensor_id == key == "w8-<thread>-<value % 100>",
// the timestamp field == the record timestamp, type/unit/location as sent.
//
//   w8-check --bootstrap HOST:PORT --topic T

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/str_cat.h"
#include "reading.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"

namespace {

std::atomic<bool> stop_requested{false};
void OnSignal(int) { stop_requested = true; }

int Fail(const std::string& why) {
  std::fprintf(stderr, "w8-check: %s\n", why.c_str());
  return 1;
}

bool GoodRecord(const runnel::kafka::ConsumedRecord& r, std::pair<std::string, int64_t>* id) {
  if (!r.key() || !r.value()) return false;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(r.value()->data(), r.value()->size()), ec);
  if (ec || !v.is_object()) return false;
  const auto& o = v.as_object();
  auto str = [&](const char* name) -> std::string {
    const auto* f = o.if_contains(name);
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string("\x01");
  };
  const auto* value = o.if_contains("value");
  if (value == nullptr || !value->is_int64() || o.size() != 6) return false;
  const int64_t seq = value->as_int64();
  const std::string sensor = str("sensor_id");
  if (sensor != *r.key() || sensor.rfind("w8-", 0) != 0) return false;
  const size_t dash = sensor.rfind('-');
  if (sensor.substr(dash + 1) != absl::StrCat(seq % 100)) return false;
  if (str("timestamp") != runnel_apps::gateway::FormatTimestampMillis(r.timestamp().value())) return false;
  if (str("type") != "temperature" || str("unit") != "C" || str("location") != absl::StrCat("lab-", seq % 7)) {
    return false;
  }
  *id = {sensor.substr(0, dash), seq};
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  const std::string bootstrap = args["--bootstrap"], topic = args["--topic"];
  if (bootstrap.empty() || topic.empty()) return Fail("usage: w8-check --bootstrap HOST:PORT --topic T");
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);

  auto admin = runnel::kafka::Admin::Create({{"bootstrap.servers", bootstrap}});
  if (!admin.ok()) return Fail(std::string(admin.status().message()));
  auto description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
  if (!description.ok()) return Fail(std::string(description.status().message()));
  auto consumer = runnel::kafka::Consumer::Create({{"bootstrap.servers", bootstrap},
                                                   {"group.id", absl::StrCat("w8-check-", topic)},
                                                   {"fetch.wait.max.ms", "10"}});
  if (!consumer.ok()) return Fail(std::string(consumer.status().message()));
  std::vector<std::pair<runnel::TopicPartition, runnel::Offset>> from;
  for (int32_t p = 0; p < description->partitions; ++p) {
    from.emplace_back(runnel::TopicPartition{topic, runnel::Partition(p)}, runnel::Offset(-2));
  }
  if (absl::Status s = (*consumer)->AssignAt(from); !s.ok()) return Fail(std::string(s.message()));
  std::printf("{\"ready\": true}\n");
  std::fflush(stdout);

  const runnel::Clock& clock = runnel::Clock::System();
  std::vector<int64_t> visible_ms;
  std::set<std::pair<std::string, int64_t>> ids;
  int64_t records = 0, bad = 0;
  std::map<int32_t, int64_t> next_offset;  // per partition: last offset read + 1
  std::map<int32_t, int64_t> end;          // filled once stopping
  std::vector<runnel::kafka::ConsumedRecord> batch;
  absl::Time stop_deadline = absl::InfiniteFuture();
  while (true) {
    if (stop_requested && end.empty()) {
      for (int32_t p = 0; p < description->partitions; ++p) {
        auto marks = (*consumer)->Watermarks({topic, runnel::Partition(p)}, absl::Seconds(30));
        if (!marks.ok()) return Fail(std::string(marks.status().message()));
        end[p] = marks->second.value();
      }
      stop_deadline = clock.Now() + absl::Minutes(2);
    }
    if (!end.empty()) {
      bool done = true;
      for (const auto& [p, e] : end) done = done && next_offset[p] >= e;
      if (done) break;
      if (clock.Now() > stop_deadline) return Fail("could not read to the end of the topic within 2 minutes");
    }
    batch.clear();
    if (absl::Status s = (*consumer)->Poll(absl::Milliseconds(50), 10000, batch); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    const int64_t now = clock.NowMillis().value();
    for (const auto& r : batch) {
      ++records;
      next_offset[r.partition().value()] = r.offset().value() + 1;
      if (end.empty()) visible_ms.push_back(now - r.timestamp().value());
      std::pair<std::string, int64_t> id;
      if (GoodRecord(r, &id)) {
        ids.insert(std::move(id));
      } else {
        ++bad;
      }
    }
  }
  (void)(*consumer)->Close();
  std::sort(visible_ms.begin(), visible_ms.end());
  auto pct = [&](double q) -> int64_t {
    if (visible_ms.empty()) return -1;
    return visible_ms[std::min(visible_ms.size() - 1, static_cast<size_t>(q * static_cast<double>(visible_ms.size())))];
  };
  std::printf(
      "{\"records\": %lld, \"distinct\": %zu, \"duplicates\": %lld, \"bad\": %lld, \"visible_measured\": %zu, "
      "\"visible_p50_ms\": %lld, \"visible_p99_ms\": %lld, \"visible_max_ms\": %lld}\n",
      static_cast<long long>(records), ids.size(), static_cast<long long>(records - bad - static_cast<int64_t>(ids.size())),
      static_cast<long long>(bad), visible_ms.size(), static_cast<long long>(pct(0.5)),
      static_cast<long long>(pct(0.99)), static_cast<long long>(visible_ms.empty() ? -1 : visible_ms.back()));
  return 0;
}
