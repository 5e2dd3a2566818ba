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
// Records are only copied while tailing and checked after the run, so that
// the reader takes as little CPU as it can from what it measures.
//
//   w8-check --bootstrap HOST:PORT --topic T [--slow FILE]

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

// A record as read, checked after the run (checking while tailing would
// compete for the CPU with what is measured).
struct Seen {
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp;
};

bool GoodRecord(const Seen& r, std::pair<std::string, int64_t>* id) {
  if (!r.key || !r.value) return false;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(r.value->data(), r.value->size()), ec);
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
  if (sensor != *r.key || sensor.rfind("w8-", 0) != 0) return false;
  const size_t dash = sensor.rfind('-');
  if (sensor.substr(dash + 1) != absl::StrCat(seq % 100)) return false;
  if (str("timestamp") != runnel_apps::gateway::FormatTimestampMillis(r.timestamp)) return false;
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
  // A topic created a moment ago may not be in the broker's metadata yet
  // (a loaded machine): ask again for up to a minute.
  auto description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
  for (int i = 0; i < 60 && absl::IsNotFound(description.status()); ++i) {
    absl::SleepFor(absl::Seconds(1));
    description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
  }
  if (!description.ok()) return Fail(std::string(description.status().message()));
  // Fetches are held by the broker for up to 5 ms (or 1 MiB): tailing with
  // fetch.min.bytes=1 sent the broker a fetch per produce request, on the
  // core it shares with wrk, and at 8 connections that cut the gateway's
  // rate by 3-6x (docs/benchmarks.md, W8). Visibility is measured in ms and
  // may read up to 5 ms late.
  auto consumer = runnel::kafka::Consumer::Create({{"bootstrap.servers", bootstrap},
                                                   {"group.id", absl::StrCat("w8-check-", topic)},
                                                   {"fetch.wait.max.ms", "5"},
                                                   {"fetch.min.bytes", "1048576"}});
  if (!consumer.ok()) return Fail(std::string(consumer.status().message()));
  std::vector<std::pair<runnel::TopicPartition, runnel::Offset>> from;
  for (int32_t p = 0; p < description->partitions; ++p) {
    from.emplace_back(runnel::TopicPartition{topic, runnel::Partition(p)}, runnel::Offset(-2));
  }
  if (absl::Status s = (*consumer)->AssignAt(from); !s.ok()) return Fail(std::string(s.message()));
  // Ready once every partition has been fetched to its end: before that
  // the consumer may still be in a fetch back-off (a topic created a moment
  // ago answers the first fetch with an error, and librdkafka then waits
  // fetch.error.backoff.ms), which would count as HTTP -> visible latency.
  std::set<int32_t> at_end;
  std::vector<runnel::kafka::ConsumedRecord> warmup;
  std::vector<std::pair<runnel::TopicPartition, runnel::Offset>> eof;
  const absl::Time ready_deadline = runnel::Clock::System().Now() + absl::Seconds(60);
  while (static_cast<int32_t>(at_end.size()) < description->partitions) {
    if (runnel::Clock::System().Now() > ready_deadline) return Fail("partitions did not reach their end in 60 s");
    warmup.clear();
    eof.clear();
    if (absl::Status s = (*consumer)->Poll(absl::Milliseconds(100), 10000, warmup, &eof); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    if (!warmup.empty()) return Fail("the topic is not empty: w8-check wants a fresh topic");
    for (const auto& [tp, offset] : eof) at_end.insert(tp.partition.value());
  }
  std::printf("{\"ready\": true}\n");
  std::fflush(stdout);

  const runnel::Clock& clock = runnel::Clock::System();
  // --slow FILE: one line per record seen 50 ms or more after its
  // timestamp (receive ms, partition, offset, ms late, batch size), to
  // find where late records come from.
  FILE* slow = args.count("--slow") ? std::fopen(args["--slow"].c_str(), "w") : nullptr;
  std::vector<int64_t> visible_ms;
  std::vector<Seen> seen;
  seen.reserve(1 << 20);
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
      next_offset[r.partition().value()] = r.offset().value() + 1;
      if (end.empty()) {
        visible_ms.push_back(now - r.timestamp().value());
        if (slow != nullptr && visible_ms.back() >= 50) {
          std::fprintf(slow, "%lld %d %lld %lld %zu\n", static_cast<long long>(now), r.partition().value(),
                       static_cast<long long>(r.offset().value()), static_cast<long long>(visible_ms.back()),
                       batch.size());
        }
      }
      seen.push_back({r.key() ? std::optional<std::string>(*r.key()) : std::nullopt,
                      r.value() ? std::optional<std::string>(*r.value()) : std::nullopt, r.timestamp().value()});
    }
  }
  (void)(*consumer)->Close();
  if (slow != nullptr) std::fclose(slow);
  const int64_t records = static_cast<int64_t>(seen.size());
  int64_t bad = 0;
  std::set<std::pair<std::string, int64_t>> ids;
  for (const Seen& r : seen) {
    std::pair<std::string, int64_t> id;
    if (GoodRecord(r, &id)) {
      ids.insert(std::move(id));
    } else {
      ++bad;
    }
  }
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
