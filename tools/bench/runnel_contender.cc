// The "Runnel" contender: each workload written in the DSL.
//   W1: stream(input).filter(non-empty).mapValues(upper-case first byte).to(output)
//   W2: stream(input).groupByKey().count(store "counts").toStream().to(output)
//   W3: stream(input).groupByKey().windowedBy(60 s tumbling, grace 5 s)
//       .count(store "window-counts") (emit on update, cached)
//       .toStream().map(key -> "<key>@<window start>").to(output)
//   W3m: stream(input).groupByKey().windowedBy(60 s tumbling, grace 5 s)
//       .aggregate(CountMax: records and the largest number their values
//       start with, store "window-count-max", a 16-byte serde; emit on
//       update, cached).toStream().map(key -> "<key>@<window start>")
//       .to(output). Input from produce-bench --value-number 1.
//   W3h: W3m over hopping windows, 10 s advancing by 2 s, grace 5 s: every
//       record updates 5 windows.
//   W4t: table(--table, store "table": RocksDB + changelog + cache);
//        stream(input).join(table, value + "|" + the row's first 8 bytes)
//        .to(output). The table's topic is an input of the same tasks (a
//        task processes its queued records lowest timestamp first), so
//        every input record counts: the run ends after --table-records + N.
//   W4s: stream(input).join(stream(--right), left value's first 13 bytes
//        + "," + right's, JoinWindows 30 s either way, grace 5 s, RocksDB
//        window stores + changelogs).to(output); ends after 2N records.
//   W6: the W2 topology started on an empty state.dir while its changelog
//       (<app-id>-counts-changelog) already holds the state: measures the
//       restore, from Start() until every task has restored and checkpointed.
//
//   runnel-contender --workload W1|W2|W3|W3m|W3h|W4t|W4s|W6 --bootstrap B --input T --output T
//                    --records N --app-id A [--threads K] [--partitions P]
//                    [--table T --table-records M]  (W4t)  [--right T]  (W4s)
//
// W1-W4 run until their input records are processed, then close cleanly
// (final commit). BENCH_LOG=info shows Runnel's log (default: warn). Prints
// one JSON line: records (input records processed), seconds (first
// processed record -> end of the clean close; W6: Start -> restored),
// cpu_seconds, max_rss_kb, dropped (runnel_dropped_records_total: a join's
// late records, among others) and the restore metrics.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runnel/runnel.h"

namespace {

// W3m/W3h's aggregate per (key, window): how many records, and the largest
// number their values start with. max starts below every number, so the
// first record sets it.
struct CountMax {
  int64_t count = 0;
  int64_t max = std::numeric_limits<int64_t>::min();
};

// CountMax as 16 bytes: count then max, each 8 bytes big-endian (the
// count first, so runnel-kafka table-sum adds up the counts). The raw pipe
// writes the same bytes.
class CountMaxSerde final : public runnel::Serde<CountMax> {
 public:
  absl::Status Serialize(const CountMax& value, std::string& out) const override {
    out.clear();
    runnel::serdes::AppendBigEndian64(static_cast<uint64_t>(value.count), out);
    runnel::serdes::AppendBigEndian64(static_cast<uint64_t>(value.max), out);
    return absl::OkStatus();
  }
  absl::StatusOr<CountMax> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() != 16) {
      return absl::InvalidArgumentError(absl::StrCat("count-max: wants 16 bytes, got ", data ? data->size() : 0));
    }
    return CountMax{static_cast<int64_t>(runnel::serdes::ReadBigEndian64(data->data())),
                    static_cast<int64_t>(runnel::serdes::ReadBigEndian64(data->data() + 8))};
  }
  std::string_view Name() const override { return "count-max"; }
};

// The number a value starts with (produce-bench --value-number: 9 decimal
// digits); parsing stops at the first byte that is not a digit. The raw pipe
// parses it the same way.
int64_t ValueNumber(std::string_view value) {
  int64_t n = 0;
  for (size_t i = 0; i < std::min<size_t>(value.size(), 9) && value[i] >= '0' && value[i] <= '9'; ++i) {
    n = n * 10 + (value[i] - '0');
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, input, output, app = "runnel-bench", threads = "1", workload = "W1";
  std::string guarantee = "at_least_once", commit_ms = "1000";
  std::string table, right;
  long long records = 0, table_records = 0;
  int partitions = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--input") input = v;
    else if (f == "--output") output = v;
    else if (f == "--records") records = std::stoll(v);
    else if (f == "--app-id") app = v;
    else if (f == "--threads") threads = v;
    else if (f == "--workload") workload = v;
    else if (f == "--partitions") partitions = std::stoi(v);
    else if (f == "--guarantee") guarantee = v;
    else if (f == "--commit-ms") commit_ms = v;
    else if (f == "--table") table = v;
    else if (f == "--table-records") table_records = std::stoll(v);
    else if (f == "--right") right = v;
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  const bool known = workload == "W1" || workload == "W2" || workload == "W3" || workload == "W3m" ||
                     workload == "W3h" || workload == "W6" ||
                     (workload == "W4t" && !table.empty() && table_records > 0) ||
                     (workload == "W4s" && !right.empty());
  if (bootstrap.empty() || input.empty() || output.empty() || records <= 0 || !known) {
    std::fprintf(stderr,
                 "usage: runnel-contender --workload W1|W2|W3|W3m|W3h|W4t|W4s|W6 --bootstrap B --input T --output T "
                 "--records N [--table T --table-records M (W4t)] [--right T (W4s)]\n");
    return 2;
  }
  // Input records to process before closing.
  const long long inputs = workload == "W4t" ? table_records + records : workload == "W4s" ? 2 * records : records;
  const auto strings = runnel::serdes::String();
  (void)runnel::SetLogLevel(std::getenv("BENCH_LOG") ? std::getenv("BENCH_LOG") : "warn");
  runnel::StreamsBuilder builder;
  auto stream = builder.Stream(input, runnel::Consumed(runnel::serdes::String(), runnel::serdes::String()));
  if (workload == "W1") {
    stream.Filter([](const std::string&, const std::string& v) { return !v.empty(); })
        .MapValues([](std::string v) {
          v[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(v[0])));
          return v;
        })
        .To(output, runnel::Produced(runnel::serdes::String(), runnel::serdes::String()));
  } else if (workload == "W3") {
    stream.GroupByKey()
        .WindowedBy(runnel::TimeWindows::OfSizeAndGrace(absl::Seconds(60), absl::Seconds(5)))
        .Count(runnel::Materialized<std::string, int64_t>::As("window-counts", runnel::serdes::String(),
                                                              runnel::serdes::Int64()))
        .ToStream()
        .Map([](const runnel::Windowed<std::string>& w, const int64_t& n) {
          return runnel::KeyValue<std::string, int64_t>{absl::StrCat(w.key, "@", w.window.start.value()), n};
        })
        .To(output, runnel::Produced(runnel::serdes::String(), runnel::serdes::Int64()));
  } else if (workload == "W3m" || workload == "W3h") {
    const auto windows = workload == "W3m"
                             ? runnel::TimeWindows::OfSizeAndGrace(absl::Seconds(60), absl::Seconds(5))
                             : runnel::TimeWindows::OfSizeAndGrace(absl::Seconds(10), absl::Seconds(5))
                                   .AdvanceBy(absl::Seconds(2));
    const runnel::SerdePtr<CountMax> count_max = std::make_shared<CountMaxSerde>();
    stream.GroupByKey()
        .WindowedBy(windows)
        .Aggregate([] { return CountMax{}; },
                   [](const std::string&, const std::string& value, CountMax agg) {
                     ++agg.count;
                     agg.max = std::max(agg.max, ValueNumber(value));
                     return agg;
                   },
                   runnel::Materialized<std::string, CountMax>::As("window-count-max", strings, count_max))
        .ToStream()
        .Map([](const runnel::Windowed<std::string>& w, const CountMax& agg) {
          return runnel::KeyValue<std::string, CountMax>{absl::StrCat(w.key, "@", w.window.start.value()), agg};
        })
        .To(output, runnel::Produced(strings, count_max));
  } else if (workload == "W4t") {
    auto rows = builder.Table(table, runnel::Consumed(strings, strings),
                              runnel::Materialized<std::string, std::string>::As("table", strings, strings));
    stream
        .Join(rows,
              [](const std::string& value, const std::string& row) {
                std::string out;
                out.reserve(value.size() + 9);
                out.append(value).append(1, '|').append(row, 0, 8);
                return out;
              })
        .To(output, runnel::Produced(strings, strings));
  } else if (workload == "W4s") {
    auto other = builder.Stream(right, runnel::Consumed(strings, strings));
    stream
        .Join(
            other,
            [](const std::string& left, const std::string& right) {
              std::string out;
              out.reserve(27);
              out.append(left, 0, 13).append(1, ',').append(right, 0, 13);
              return out;
            },
            runnel::JoinWindows::OfTimeDifferenceAndGrace(absl::Seconds(30), absl::Seconds(5)),
            runnel::StreamJoined<std::string, std::string, std::string>::With(strings, strings, strings))
        .To(output, runnel::Produced(strings, strings));
  } else {
    stream.GroupByKey()
        .Count(runnel::Materialized<std::string, int64_t>::As("counts", runnel::serdes::String(),
                                                              runnel::serdes::Int64()))
        .ToStream()
        .To(output, runnel::Produced(runnel::serdes::String(), runnel::serdes::Int64()));
  }
  const std::string state_dir = std::filesystem::temp_directory_path() / absl::StrCat("runnel-bench-", app);
  std::filesystem::remove_all(state_dir);
  auto config = runnel::StreamsConfig::Create({{"application.id", app},
                                               {"bootstrap.servers", bootstrap},
                                               {"num.stream.threads", threads},
                                               {"commit.interval.ms", commit_ms},
                                               {"processing.guarantee", guarantee},
                                               {"state.dir", state_dir}});
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 2;
  }
  auto streams = runnel::KafkaStreams::Create(*builder.Build(), *config);
  if (!streams.ok()) {
    std::fprintf(stderr, "%s\n", streams.status().ToString().c_str());
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = (*streams)->Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  auto restored = [&] {
    for (int p = 0; p < partitions; ++p) {
      if (!std::filesystem::exists(absl::StrCat(state_dir, "/", app, "/0_", p, "/.checkpoint"))) return false;
    }
    return true;
  };
  bool started = false;
  while (workload == "W6" ? !restored() : (*streams)->processed() < inputs) {
    if (!started && workload != "W6" && (*streams)->processed() > 0) {
      start = std::chrono::steady_clock::now();
      started = true;
    }
    if ((*streams)->state() == runnel::KafkaStreams::State::kError) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::Status closed = (*streams)->Close();
  if (workload != "W6") seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::filesystem::remove_all(state_dir);
  if (!closed.ok()) {
    std::fprintf(stderr, "%s\n", closed.ToString().c_str());
    return 1;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  const auto& metrics = (*streams)->metrics();
  std::printf("{\"contender\":\"runnel\",\"records\":%lld,\"seconds\":%.3f,\"cpu_seconds\":%.3f,"
              "\"max_rss_kb\":%ld,\"dropped\":%lld,\"restored_records\":%lld,\"restored_bytes\":%lld,"
              "\"restore_seconds\":%.3f}\n",
              workload == "W6" ? records : static_cast<long long>((*streams)->processed()), seconds, cpu,
              usage.ru_maxrss, static_cast<long long>(metrics.CounterTotal("runnel_dropped_records_total")),
              static_cast<long long>(metrics.CounterTotal("runnel_restored_records_total")),
              static_cast<long long>(metrics.CounterTotal("runnel_restored_bytes_total")),
              metrics.CounterTotal("runnel_restore_microseconds_total") / 1e6);
  return 0;
}
