// runnel-replay: replays a CSV file into a Kafka topic row by row, and plots
// a numeric field of a CSV or a topic over event time. See docs/replay.md.
//
//   runnel-replay csv FILE --bootstrap B --topic T [--key-column C] [--time-column C]
//       [--time-format iso|epoch-ms|epoch-s|auto] [--header-columns a,b] [--value-column C]
//       [--speed asap|original|N] [--on-error skip|fail] [--partitions N] [--create-topic]
//       [--plot OUT.png --plot-field F [--title T] [--unit U]]
//   runnel-replay plot --bootstrap B --topic T --field F --out OUT.png [--title T] [--unit U]
//
// Exit codes: 0 done; 1 a Kafka error, a refused replay or a malformed row
// under --on-error fail; 2 bad arguments.

#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "replay.h"
#include "runnel/common/clock.h"

namespace {

using runnel::replay::CsvOptions;
using runnel::replay::PlotTopicOptions;

constexpr const char* kUsage =
    "usage: runnel-replay csv FILE --bootstrap B [--command-config F] --topic T [--key-column C] [--time-column C]\n"
    "           [--time-format iso|epoch-ms|epoch-s|auto] [--header-columns a,b] [--value-column C]\n"
    "           [--speed asap|original|N] [--on-error skip|fail] [--partitions N] [--create-topic]\n"
    "           [--plot OUT.png --plot-field F [--title T] [--unit U]]\n"
    "       runnel-replay plot --bootstrap B [--command-config F] --topic T --field F --out OUT.png [--title T] [--unit U]\n";

int Usage(const std::string& why) {
  std::fprintf(stderr, "runnel-replay: %s\n%s", why.c_str(), kUsage);
  return 2;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "runnel-replay: %.*s\n", static_cast<int>(s.message().size()), s.message().data());
  // Errors about a flag start with its name: bad arguments.
  return absl::IsInvalidArgument(s) && absl::StartsWith(s.message(), "--") ? 2 : 1;
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  std::set<std::string> switches;  // bare flags that were given
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
};

// --name value pairs (and the bare switches in `switches`); an unknown flag
// or a missing value is an error naming it.
absl::StatusOr<Args> ParseArgs(int argc, char** argv, const std::set<std::string>& known,
                               const std::set<std::string>& switches) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, "--")) {
      args.positional.emplace_back(arg);
      continue;
    }
    const std::string name(arg.data() + 2, arg.size() - 2);
    if (switches.contains(name)) {
      args.switches.insert(name);
    } else if (!known.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    } else if (i + 1 >= argc) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    } else {
      args.flags[name] = argv[++i];
    }
  }
  return args;
}

int Csv(int argc, char** argv, const runnel::replay::ReplayEnv& env) {
  auto args = ParseArgs(argc, argv,
                        {"bootstrap", "command-config", "topic", "key-column", "time-column", "time-format", "header-columns",
                         "value-column", "speed", "on-error", "partitions", "plot", "plot-field", "title", "unit"},
                        {"create-topic"});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (args->positional.size() != 1) return Usage("csv wants exactly one FILE");
  CsvOptions o{.file = args->positional[0],
               .bootstrap = args->Get("bootstrap"),
               .command_config = args->Get("command-config"),
               .topic = args->Get("topic")};
  o.plot_path = args->Get("plot");
  o.plot_field = args->Get("plot-field");
  o.plot_title = args->Get("title");
  o.plot_unit = args->Get("unit");
  if (o.topic.empty() && o.plot_path.empty()) return Usage("--topic is required (or --plot alone, to only plot)");
  if (!o.topic.empty() && o.bootstrap.empty()) return Usage("--bootstrap is required with --topic");
  o.roles.key_column = args->Get("key-column");
  o.roles.time_column = args->Get("time-column");
  o.roles.value_column = args->Get("value-column");
  if (std::string h = args->Get("header-columns"); !h.empty()) {
    o.roles.header_columns = absl::StrSplit(h, ',');
  }
  auto format = runnel::replay::ParseTimeFormat(args->Get("time-format", "auto"));
  if (!format.ok()) return Usage(std::string(format.status().message()));
  o.roles.time_format = *format;
  auto speed = runnel::replay::ParseSpeed(args->Get("speed", "asap"));
  if (!speed.ok()) return Usage(std::string(speed.status().message()));
  o.speed = *speed;
  const std::string on_error = args->Get("on-error", "skip");
  if (on_error != "skip" && on_error != "fail") return Usage("--on-error must be skip or fail");
  o.fail_on_error = on_error == "fail";
  if (!absl::SimpleAtoi(args->Get("partitions", "1"), &o.partitions) || o.partitions < 1) {
    return Usage("--partitions must be a positive integer");
  }
  o.create_topic = args->switches.contains("create-topic");
  auto summary = runnel::replay::ReplayCsv(o, env);
  return summary.ok() ? 0 : Fail(summary.status());
}

int Plot(int argc, char** argv, const runnel::replay::ReplayEnv& env) {
  auto args = ParseArgs(argc, argv, {"bootstrap", "command-config", "topic", "field", "out", "title", "unit"}, {});
  if (!args.ok()) return Usage(std::string(args.status().message()));
  PlotTopicOptions o{.bootstrap = args->Get("bootstrap"), .command_config = args->Get("command-config"), .topic = args->Get("topic"), .field = args->Get("field"),
                     .out = args->Get("out"), .title = args->Get("title"), .unit = args->Get("unit")};
  if (o.bootstrap.empty() || o.topic.empty() || o.field.empty() || o.out.empty()) {
    return Usage("plot needs --bootstrap, --topic, --field and --out");
  }
  absl::Status s = runnel::replay::PlotTopic(o, env);
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("no command");
  runnel::replay::RealSleeper sleeper;
  const runnel::replay::ReplayEnv env{.clock = runnel::Clock::System(), .sleeper = sleeper, .out = stdout,
                                      .err = stderr, .terminal = isatty(fileno(stderr)) == 1};
  const std::string command = argv[1];
  if (command == "csv") return Csv(argc, argv, env);
  if (command == "plot") return Plot(argc, argv, env);
  if (command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return Usage(absl::StrCat("unknown command '", command, "'"));
}
