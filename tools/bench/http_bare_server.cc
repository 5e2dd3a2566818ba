// W8's bare contender: the same HTTP module as the sensor gateway, answering
// POST /sensor with the gateway's 202 body, without Kafka (and, unless
// --validate 1, without parsing the body). GET /healthz and /readyz answer
// 200 so the harness waits for it as for the gateway.
//
//   http-bare-server --port P [--threads 2] [--validate 0|1]
//   http-bare-server --measure-parse N   (ns per ParseReading of a seed reading, then exit)
//
// Prints one JSON line {"ready": true, "port": P} once it serves; SIGTERM stops it.

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "reading.h"
#include "runnel/http/json.h"
#include "runnel/http/server.h"

namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr, "http-bare-server: %s\nusage: http-bare-server --port P [--threads N] [--validate 0|1] | "
                       "--measure-parse N\n", why.c_str());
  return 2;
}

runnel::http::Response Accepted() {
  runnel::http::Response r;
  r.status = 202;
  r.content_type = "application/json";
  r.body = R"({"status":"accepted","count":1})";
  return r;
}

int MeasureParse(int64_t n) {
  const std::string body =
      R"({"sensor_id":"w8-0-17","timestamp":"2026-11-17T14:20:00.123Z","type":"temperature","value":1234,)"
      R"("unit":"C","location":"lab-3"})";
  size_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    runnel_apps::gateway::ReadingError error;
    auto record = runnel_apps::gateway::ParseReading(body, error);
    if (!record) return Usage(error.message);
    bytes += record->value.size();
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"parse_ns\": %.1f, \"readings\": %lld, \"value_bytes\": %zu}\n", ns / static_cast<double>(n),
              static_cast<long long>(n), bytes / static_cast<size_t>(n));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  if (argc % 2 == 0) return Usage("flags come in pairs");
  int64_t n = 0;
  if (args.count("--measure-parse")) {
    if (!absl::SimpleAtoi(args["--measure-parse"], &n) || n <= 0) return Usage("--measure-parse wants N > 0");
    return MeasureParse(n);
  }
  int64_t port = 0, threads = 2, validate = 0;
  if (!absl::SimpleAtoi(args["--port"], &port) || port < 0 || port > 65535) return Usage("--port is required");
  if (args.count("--threads") && !absl::SimpleAtoi(args["--threads"], &threads)) return Usage("bad --threads");
  if (args.count("--validate") && !absl::SimpleAtoi(args["--validate"], &validate)) return Usage("bad --validate");

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  runnel::http::Router router;
  router.Post("/sensor", [validate](runnel::http::Request request, runnel::http::Responder responder) {
    if (validate != 0) {
      runnel_apps::gateway::ReadingError error;
      if (!runnel_apps::gateway::ParseReading(request.body(), error)) {
        std::move(responder).Respond(runnel::http::JsonError(400, error.message));
        return;
      }
    }
    std::move(responder).Respond(Accepted());
  });
  auto ok = runnel::http::Sync([](const runnel::http::Request&) { return runnel::http::Response::Text(200, "ok"); });
  router.Get("/healthz", ok).Get("/readyz", ok);
  runnel::http::ServerOptions options;
  options.port = static_cast<uint16_t>(port);
  options.threads = static_cast<int>(threads);
  auto server = runnel::http::Server::Start(options, std::move(router));
  if (!server.ok()) {
    std::fprintf(stderr, "http-bare-server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::printf("{\"ready\": true, \"port\": %d}\n", (*server)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  const auto stats = (*server)->stats();
  absl::Status s = (*server)->Shutdown(absl::Seconds(5));
  std::printf("{\"requests\": %lld}\n", static_cast<long long>(stats.requests));
  return s.ok() ? 0 : 1;
}
