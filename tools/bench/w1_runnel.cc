// W1 contender "Runnel": the same pass-through in the DSL:
//   stream(input).filter(non-empty).mapValues(upper-case first byte).to(output)
//
//   w1-runnel --bootstrap B --input T --output T --records N --app-id A [--threads K]
//
// Runs until N records are processed, then closes cleanly (final commit =
// producer flush). Prints the same JSON line as w1-raw-pipe; seconds run from
// the first processed record to the end of the clean close.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "runnel/runnel.h"

int main(int argc, char** argv) {
  std::string bootstrap, input, output, app = "w1-runnel", threads = "1";
  long long records = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--input") input = v;
    else if (f == "--output") output = v;
    else if (f == "--records") records = std::stoll(v);
    else if (f == "--app-id") app = v;
    else if (f == "--threads") threads = v;
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  if (bootstrap.empty() || input.empty() || output.empty() || records <= 0) {
    std::fprintf(stderr, "usage: w1-runnel --bootstrap B --input T --output T --records N\n");
    return 2;
  }
  (void)runnel::SetLogLevel("warn");
  runnel::StreamsBuilder builder;
  builder.Stream(input, runnel::Consumed(runnel::serdes::String(), runnel::serdes::String()))
      .Filter([](const std::string&, const std::string& v) { return !v.empty(); })
      .MapValues([](std::string v) {
        v[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(v[0])));
        return v;
      })
      .To(output, runnel::Produced(runnel::serdes::String(), runnel::serdes::String()));
  auto config = runnel::StreamsConfig::Create({{"application.id", app},
                                               {"bootstrap.servers", bootstrap},
                                               {"num.stream.threads", threads},
                                               {"commit.interval.ms", "1000"}});
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 2;
  }
  auto streams = runnel::KafkaStreams::Create(*builder.Build(), *config);
  if (!streams.ok() || !(*streams)->Start().ok()) {
    std::fprintf(stderr, "cannot start\n");
    return 1;
  }
  std::chrono::steady_clock::time_point start;
  bool started = false;
  while ((*streams)->processed() < records) {
    if (!started && (*streams)->processed() > 0) {
      start = std::chrono::steady_clock::now();
      started = true;
    }
    if ((*streams)->state() == runnel::KafkaStreams::State::kError) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double processing_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::Status closed = (*streams)->Close();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!closed.ok()) {
    std::fprintf(stderr, "%s\n", closed.ToString().c_str());
    return 1;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("{\"contender\":\"runnel\",\"records\":%lld,\"seconds\":%.3f,\"cpu_seconds\":%.3f,"
              "\"max_rss_kb\":%ld,\"processing_seconds\":%.3f}\n",
              static_cast<long long>((*streams)->processed()), seconds, cpu, usage.ru_maxrss,
              processing_seconds);
  return 0;
}
