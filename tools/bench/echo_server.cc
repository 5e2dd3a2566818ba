// echo-server: the bare gRPC service of benchmark W7 (tools/bench/echo.proto,
// runnel.bench.Echo/Echo sends back the bytes it got). It is built like the
// query server (runnel/query/query_server.cc): callback API, gRPC's default
// threads, health checking and reflection on, and (like every Runnel
// process in a release build: KafkaStreams::Create) Abseil's mutex deadlock
// detection off, which gRPC's own locks pay for too; no other tuning, so
// that query-load measures the transport the query service runs on.
//
//   echo-server --listen 127.0.0.1:PORT
//
// Prints one line "{"ready":true,"port":P}" when it serves, and runs until
// SIGTERM or SIGINT.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "echo.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "absl/synchronization/mutex.h"

namespace {

class EchoService final : public runnel::bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const runnel::bench::Blob* req,
                                 runnel::bench::Blob* resp) override {
    resp->set_payload(req->payload());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string listen;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--listen") {
      listen = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (listen.empty()) {
    std::fprintf(stderr, "usage: echo-server --listen HOST:PORT\n");
    return 2;
  }
  // Blocked before gRPC starts its threads, so that they inherit the mask
  // and sigwait below is the only receiver.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "echo-server: cannot listen on '%s'\n", listen.c_str());
    return 1;
  }
  std::printf("{\"ready\":true,\"port\":%d}\n", port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown();
  return 0;
}
