// query-server-contender: the Runnel side of benchmark W7 (interactive
// queries). Runs W2's keyed count,
//   stream(input).groupByKey().count(Materialized::As("counts", String, Int64)),
// over an input topic until every input record is processed and committed
// (each of the store's local copies reports input positions summing to
// --records), then starts runnel::query::QueryServer at
// application.server=127.0.0.1:PORT and serves until SIGTERM or SIGINT.
// query-load then reads the store through runnel.query.v1.QueryService.
//
//   query-server-contender --bootstrap B --input T --records N --app-id A --port P
//                          [--partitions 4] [--threads 1] [--commit-ms 1000]
//
// One instance holds every partition, so every key is answered locally (no
// forwarding). Prints one JSON line when it serves: {"ready":true, "port",
// "records", "load_seconds" (Start -> committed), "keys" (the store's
// estimate)}, and one on exit with cpu_seconds and max_rss_kb.
// BENCH_LOG=info shows Runnel's log (default: warn).

#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runnel/query/query_server.h"
#include "runnel/runnel.h"

namespace {

// True when every partition's active copy of `store` is ready and the
// input positions it has committed sum to `records`.
bool Committed(const runnel::KafkaStreams& streams, const std::string& store, const std::string& input,
               int partitions, long long records) {
  std::set<int32_t> seen;
  long long committed = 0;
  for (const auto& copy : streams.local_stores().FindCopies(store)) {
    if (copy.status == nullptr || copy.status->standby() || !copy.status->ready()) continue;
    seen.insert(copy.task.partition.value());
    for (const auto& [tp, offset] : copy.status->Positions()) {
      if (tp.topic == input) committed += offset.value();
    }
  }
  return static_cast<int>(seen.size()) == partitions && committed == records;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, input, app = "runnel-bench-w7", threads = "1", commit_ms = "1000";
  long long records = 0;
  int partitions = 4, port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--input") input = v;
    else if (f == "--records") records = std::stoll(v);
    else if (f == "--app-id") app = v;
    else if (f == "--port") port = std::stoi(v);
    else if (f == "--partitions") partitions = std::stoi(v);
    else if (f == "--threads") threads = v;
    else if (f == "--commit-ms") commit_ms = v;
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  if (bootstrap.empty() || input.empty() || records <= 0 || port <= 0) {
    std::fprintf(stderr,
                 "usage: query-server-contender --bootstrap B --input T --records N --app-id A --port P "
                 "[--partitions 4] [--threads 1] [--commit-ms 1000]\n");
    return 2;
  }
  // Blocked before any thread starts (librdkafka's, RocksDB's, gRPC's), so
  // that they inherit the mask and sigwait below receives the stop signal.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  (void)runnel::SetLogLevel(std::getenv("BENCH_LOG") ? std::getenv("BENCH_LOG") : "warn");
  const auto strings = runnel::serdes::String();
  runnel::StreamsBuilder builder;
  builder.Stream(input, runnel::Consumed(strings, strings))
      .GroupByKey()
      .Count(runnel::Materialized<std::string, int64_t>::As("counts", strings, runnel::serdes::Int64()));
  const std::string state_dir = std::filesystem::temp_directory_path() / absl::StrCat("runnel-bench-", app);
  std::filesystem::remove_all(state_dir);
  auto config = runnel::StreamsConfig::Create({{"application.id", app},
                                               {"bootstrap.servers", bootstrap},
                                               {"application.server", absl::StrCat("127.0.0.1:", port)},
                                               {"num.stream.threads", threads},
                                               {"commit.interval.ms", commit_ms},
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
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = (*streams)->Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  while (!Committed(**streams, "counts", input, partitions, records)) {
    if ((*streams)->state() == runnel::KafkaStreams::State::kError) return 1;
    if ((*streams)->processed() > records) {
      std::fprintf(stderr, "processed %lld records, the input has %lld\n",
                   static_cast<long long>((*streams)->processed()), records);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto server = runnel::query::QueryServer::Start(**streams);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  long long keys = -1;
  if (auto view = (*streams)->Store("counts"); view.ok()) {
    if (auto n = (*view)->ApproximateNumEntries(); n.ok()) keys = *n;
  }
  std::printf("{\"ready\":true,\"port\":%d,\"records\":%lld,\"load_seconds\":%.3f,\"keys\":%lld}\n", (*server)->port(),
              records, load_seconds, keys);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->Shutdown();
  server->reset();
  absl::Status closed = (*streams)->Close();
  std::filesystem::remove_all(state_dir);
  if (!closed.ok()) {
    std::fprintf(stderr, "%s\n", closed.ToString().c_str());
    return 1;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                     (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("{\"exit\":true,\"cpu_seconds\":%.3f,\"max_rss_kb\":%ld}\n", cpu, usage.ru_maxrss);
  return 0;
}
