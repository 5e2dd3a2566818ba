// soak-query: the interactive-query side of tools/soak. Calls
// runnel.query.v1.QueryService/Get on --store at a steady --rate (fixed
// schedule: call i is due at start + i / rate; one call at a time, so a slow
// answer delays the next ones and the latency of those counts from when they
// were due, not from when they could start), key "<prefix>%04d" of a random
// index below --keys, raw bytes (the apps' stores have string keys).
//
//   soak-query --target HOST:PORT --store S --key-prefix P --rate R [--keys 1000]
//              [--report-seconds 10] [--deadline-ms 5000]
//
// Runs until SIGTERM or SIGINT (then the unfinished windows' lines). Every
// --report-seconds, and every minute, one
// JSON line (latency_windows.h): latency percentiles of the window's calls,
// `errors` = calls that failed (any gRPC status but OK and UNAVAILABLE;
// counted and kept going), `unavailable` = UNAVAILABLE answers (a rebalance
// or a restore: "retry", as documented), `other` = OK answers without
// the key (not written yet), and `calls` since the start.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "latency_windows.h"
#include "runnel/query/v1/query.grpc.pb.h"

namespace {

std::atomic<bool> stop{false};

void OnSignal(int) { stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  std::string target, store, prefix;
  double rate = 0, report_seconds = 10;
  long long keys = 1000, deadline_ms = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--target") target = v;
    else if (f == "--store") store = v;
    else if (f == "--key-prefix") prefix = v;
    else if (f == "--rate") rate = std::atof(v.c_str());
    else if (f == "--keys") keys = std::atoll(v.c_str());
    else if (f == "--report-seconds") report_seconds = std::atof(v.c_str());
    else if (f == "--deadline-ms") deadline_ms = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "soak-query: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (target.empty() || store.empty() || prefix.empty() || !(rate > 0) || keys <= 0 || !(report_seconds > 0) ||
      deadline_ms <= 0) {
    std::fprintf(stderr,
                 "usage: soak-query --target HOST:PORT --store S --key-prefix P --rate R (> 0) [--keys K (> 0)] "
                 "[--report-seconds S (> 0)] [--deadline-ms MS (> 0)]\n");
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = runnel::query::v1::QueryService::NewStub(channel);
  runnel_soak::LatencyWindow short_window("short", static_cast<int64_t>(report_seconds * 1000));
  runnel_soak::LatencyWindow minute_window("minute", 60'000);
  std::mt19937_64 rng(7);
  const auto t0 = std::chrono::steady_clock::now();
  long long calls = 0;
  char key[64];
  while (!stop.load()) {
    const auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(static_cast<double>(calls) / rate));
    // Sleep in short steps so that a signal ends the run promptly.
    while (!stop.load() && std::chrono::steady_clock::now() < due) {
      std::this_thread::sleep_until(std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    }
    if (stop.load()) break;
    const int n = std::snprintf(key, sizeof key, "%s%04lld", prefix.c_str(), static_cast<long long>(rng() % keys));
    runnel::query::v1::GetRequest req;
    req.set_store(store);
    req.mutable_key()->set_raw(std::string(key, static_cast<size_t>(n)));
    runnel::query::v1::GetResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    const grpc::Status status = stub->Get(&ctx, req, &resp);
    const auto latency_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - due).count();
    ++calls;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      // The documented answer while the key's partition is moving or
      // restoring: the client retries. Counted apart from errors.
      short_window.CountUnavailable();
      minute_window.CountUnavailable();
      std::fprintf(stderr, "soak-query: %s: %s\n", key, status.error_message().c_str());
    } else if (!status.ok()) {
      short_window.CountError();
      minute_window.CountError();
      std::fprintf(stderr, "soak-query: %s: %s\n", key, status.error_message().c_str());
    } else {
      short_window.Add(latency_us);
      minute_window.Add(latency_us);
      if (!resp.found()) {
        short_window.CountOther();
        minute_window.CountOther();
      }
    }
    const std::string extra = ",\"calls\":" + std::to_string(calls);
    const int64_t now = runnel_soak::WallMs();
    short_window.MaybeReport(now, extra);
    minute_window.MaybeReport(now, extra);
  }
  const std::string extra = ",\"calls\":" + std::to_string(calls);
  short_window.Flush(runnel_soak::WallMs(), extra);
  minute_window.Flush(runnel_soak::WallMs(), extra);
  std::printf("{\"window\":\"total\",\"calls\":%lld}\n", calls);
  return 0;
}
