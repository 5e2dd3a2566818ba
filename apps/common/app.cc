#include "common/app.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "runnel/query/query_server.h"

namespace runnel_apps {
namespace {

absl::Status ParseArgs(int argc, char** argv, AppArgs& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("unknown flag or missing value: '", flag, "'"));
    const std::string value = argv[++i];
    if (flag == "--config") {
      args.config_file = value;
    } else if (flag == "--set") {
      auto eq = value.find('=');
      if (eq == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("--set wants key=value, got '", value, "'"));
      args.overrides[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (flag == "--input") {
      args.input = value;
    } else if (flag == "--output") {
      args.output = value;
    } else if (flag == "--log-level") {
      args.log_level = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", flag, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunApp(const std::string& name, int argc, char** argv, AppArgs args, const TopologyFactory& build) {
  auto fail = [&](const absl::Status& s, int code) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), std::string(s.message()).c_str());
    return code;
  };
  if (absl::Status s = ParseArgs(argc, argv, args); !s.ok()) return fail(s, 2);
  if (absl::Status s = runnel::SetLogLevel(args.log_level); !s.ok()) return fail(s, 2);
  runnel::ConfigLoader loader;
  if (!args.config_file.empty()) {
    if (absl::Status s = loader.AddFile(args.config_file); !s.ok()) return fail(s, 2);
  }
  loader.AddEnvironment().Add(args.overrides);
  auto config = runnel::StreamsConfig::Create(loader.values());
  if (!config.ok()) return fail(config.status(), 2);
  auto topology = build(args);
  if (!topology.ok()) return fail(topology.status(), 2);
  std::printf("%s topology:\n%s", name.c_str(), (*topology)->Describe().c_str());
  std::fflush(stdout);
  auto streams = runnel::KafkaStreams::Create(*topology, *config);
  if (!streams.ok()) return fail(streams.status(), 2);
  // With application.server set, the instance serves interactive queries.
  std::unique_ptr<runnel::query::QueryServer> queries;
  absl::Status s = runnel::RunUntilShutdownSignal(
      **streams,
      [&]() -> absl::Status {
        if ((*streams)->config().application_server().empty()) return absl::OkStatus();
        auto server = runnel::query::QueryServer::Start(**streams);
        if (!server.ok()) return server.status();
        queries = *std::move(server);
        return absl::OkStatus();
      },
      [&] {
        if (queries != nullptr) queries->Shutdown();
      });
  runnel::Logger(name)->info("processed {} records; deserialization errors {}", (*streams)->processed(),
                             (*streams)->metrics().CounterTotal("runnel_deserialization_errors_total"));
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), s.ToString().c_str());
    return absl::IsInvalidArgument(s) || absl::IsNotFound(s) ? 2 : 1;
  }
  return 0;
}

}  // namespace runnel_apps
