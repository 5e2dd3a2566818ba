// runnel-clickstream: clickstream analytics from Kafka into PostgreSQL
// (README.md).
//
//   runnel-clickstream generate --bootstrap B [--topic clickstream-events] [--rate N] [--count N]
//                               [--users U] [--malformed-share S] [--seed S] [--start-time ISO]
//   runnel-clickstream run [--config file] [--set key=value ...] [--log-level info]
//   runnel-clickstream oracle [generator flags] [--check-postgres conninfo]
//
// Exit codes: 0 done (run: after SIGINT/SIGTERM), 1 failed while running (or
// oracle --check found differences), 2 bad flags or config (named).

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/cli.h"
#include "generator.h"
#include "oracle.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/producer.h"
#include "runnel/runnel.h"
#include "tables.h"
#include "topology.h"

namespace {

namespace cs = runnel_apps::clickstream;
using runnel::ConfigKey;
using runnel::ConfigType;

constexpr char kUsage[] =
    "usage: runnel-clickstream generate|run|oracle ...\n"
    "  generate --bootstrap host:port [--command-config client.properties] [--topic clickstream-events]\n"
    "           [--rate N/s, 0 = fast] [--count N]\n"
    "           [--users U] [--malformed-share 0.02] [--seed S] [--start-time 2026-12-07T12:00:00Z]\n"
    "           [--max-delay-ms 20000] [--partitions 4]\n"
    "  run      [--config file] [--set key=value ...] [--log-level level]\n"
    "  oracle   [--seed S --count N --users U --malformed-share S --start-time ISO --max-delay-ms D]\n"
    "           [--check-postgres conninfo]\n";

int Fail(const absl::Status& s, int code) {
  std::fprintf(stderr, "runnel-clickstream: %s\n", std::string(s.message()).c_str());
  return code;
}

// --flag value pairs after the subcommand; InvalidArgument naming a flag
// that is not in `known` or has no value.
absl::StatusOr<std::map<std::string, std::string>> Flags(int argc, char** argv,
                                                         const std::vector<std::string>& known) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (std::find(known.begin(), known.end(), flag) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", flag, "'\n", kUsage));
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("flag '", flag, "' needs a value"));
    flags[flag] = argv[i + 1];
  }
  return flags;
}

template <typename T>
absl::Status ParseFlag(const std::map<std::string, std::string>& flags, const std::string& name, T& out) {
  auto it = flags.find(name);
  if (it == flags.end()) return absl::OkStatus();
  bool ok;
  if constexpr (std::is_same_v<T, double>) {
    ok = absl::SimpleAtod(it->second, &out);
  } else {
    ok = absl::SimpleAtoi(it->second, &out);
  }
  return ok ? absl::OkStatus() : absl::InvalidArgumentError(absl::StrCat(name, ": not a number: '", it->second, "'"));
}

const std::vector<std::string> kGeneratorFlags = {"--seed",       "--count",        "--users", "--malformed-share",
                                                  "--start-time", "--max-delay-ms"};

absl::StatusOr<cs::GeneratorOptions> GeneratorOptionsFrom(const std::map<std::string, std::string>& flags) {
  cs::GeneratorOptions o;
  o.start_ms = absl::ToUnixMillis(absl::Now());
  RUNNEL_RETURN_IF_ERROR(ParseFlag(flags, "--seed", o.seed));
  RUNNEL_RETURN_IF_ERROR(ParseFlag(flags, "--count", o.count));
  RUNNEL_RETURN_IF_ERROR(ParseFlag(flags, "--users", o.users));
  RUNNEL_RETURN_IF_ERROR(ParseFlag(flags, "--malformed-share", o.malformed_share));
  RUNNEL_RETURN_IF_ERROR(ParseFlag(flags, "--max-delay-ms", o.max_delay_ms));
  if (auto it = flags.find("--start-time"); it != flags.end()) {
    absl::Time t;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, it->second, &t, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--start-time: not an RFC 3339 time ('", it->second, "'): ", error));
    }
    o.start_ms = absl::ToUnixMillis(t);
  }
  RUNNEL_RETURN_IF_ERROR(cs::ValidateGeneratorOptions(o));
  return o;
}

int Generate(int argc, char** argv) {
  std::vector<std::string> known = kGeneratorFlags;
  known.insert(known.end(), {"--bootstrap", "--command-config", "--topic", "--rate", "--partitions"});
  auto flags = Flags(argc, argv, known);
  if (!flags.ok()) return Fail(flags.status(), 2);
  auto options = GeneratorOptionsFrom(*flags);
  if (!options.ok()) return Fail(options.status(), 2);
  const std::string topic = flags->contains("--topic") ? flags->at("--topic") : "clickstream-events";
  if (!flags->contains("--bootstrap")) return Fail(absl::InvalidArgumentError("--bootstrap is required"), 2);
  double rate = 0;
  int32_t partitions = 4;
  if (absl::Status s = ParseFlag(*flags, "--rate", rate); !s.ok()) return Fail(s, 2);
  if (absl::Status s = ParseFlag(*flags, "--partitions", partitions); !s.ok()) return Fail(s, 2);
  auto kafka = runnel::kafka::ToolConnection(
      flags->at("--bootstrap"), flags->contains("--command-config") ? flags->at("--command-config") : "");
  if (!kafka.ok()) return Fail(kafka.status(), 2);

  auto admin = runnel::kafka::Admin::Create(*kafka);
  if (!admin.ok()) return Fail(admin.status(), 1);
  absl::Status created = (*admin)->CreateTopics({{.name = topic, .partitions = partitions}}, absl::Seconds(30));
  if (!created.ok() && !absl::IsAlreadyExists(created)) return Fail(created, 1);
  auto producer = runnel::kafka::Producer::Create(runnel::kafka::ClientConfigFor(
      *kafka, {{"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "10"}}));
  if (!producer.ok()) return Fail(producer.status(), 1);

  cs::EventGenerator generator(*options);
  std::map<std::string, int64_t> counts;
  int64_t sent = 0;
  const absl::Time begin = absl::Now();
  while (auto e = generator.Next()) {
    if (rate > 0) {
      const absl::Time due = begin + absl::Seconds(static_cast<double>(sent) / rate);
      if (const absl::Time now = absl::Now(); due > now) absl::SleepFor(due - now);
    }
    const runnel::kafka::OutgoingRecord record{.topic = topic,
                                               .key = e->key,
                                               .value = e->value,
                                               .timestamp = runnel::Timestamp(e->timestamp_ms)};
    if (absl::Status s = (*producer)->Send(record); !s.ok()) return Fail(s, 1);
    ++counts[e->event ? std::string(cs::EventTypeName(e->event->type)) : "malformed"];
    ++sent;
  }
  if (absl::Status s = (*producer)->Flush(absl::Minutes(2)); !s.ok()) return Fail(s, 1);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  std::printf("generated %lld events to '%s' in %.1f s (%.0f/s):", static_cast<long long>(sent), topic.c_str(),
              seconds, seconds > 0 ? static_cast<double>(sent) / seconds : 0.0);
  for (const auto& [type, n] : counts) std::printf(" %s=%lld", type.c_str(), static_cast<long long>(n));
  std::printf("\n");
  return 0;
}

int Oracle(int argc, char** argv) {
  std::vector<std::string> known = kGeneratorFlags;
  known.push_back("--check-postgres");
  auto flags = Flags(argc, argv, known);
  if (!flags.ok()) return Fail(flags.status(), 2);
  if (!flags->contains("--start-time")) {
    return Fail(absl::InvalidArgumentError("--start-time is required (the generator's default is 'now')"), 2);
  }
  auto options = GeneratorOptionsFrom(*flags);
  if (!options.ok()) return Fail(options.status(), 2);
  const cs::Tables expected = cs::ComputeOracle(cs::WellFormed(cs::GenerateAll(*options)));
  std::printf("expected: events_per_minute %zu rows, revenue_per_minute %zu, active_users_5m %zu, user_sessions %zu\n",
              expected.events_per_minute.size(), expected.revenue_per_minute.size(),
              expected.active_users_5m.size(), expected.user_sessions.size());
  if (!flags->contains("--check-postgres")) return 0;
  auto actual = cs::ReadTables(flags->at("--check-postgres"));
  if (!actual.ok()) return Fail(actual.status(), 1);
  const std::string diff = cs::DescribeDifferences(expected, *actual);
  if (!diff.empty()) {
    std::printf("PostgreSQL differs from the oracle:\n%s", diff.c_str());
    return 1;
  }
  std::printf("PostgreSQL equals the oracle\n");
  return 0;
}

ConfigKey StringKey(std::string name, std::string def, std::string doc) {
  return ConfigKey{.name = std::move(name), .type = ConfigType::kString, .default_value = std::move(def),
                   .doc = std::move(doc)};
}

const runnel::ConfigDef& AppConfigDef() {
  static const runnel::ConfigDef* def = [] {
    auto* d = new runnel::ConfigDef();
    const cs::TopologyOptions t;
    d->Define(StringKey("input.topic", t.input, "the generator's topic"))
        .Define(StringKey("topic.events.per.minute", t.events_per_minute, "output topic"))
        .Define(StringKey("topic.revenue.per.minute", t.revenue_per_minute, "output topic"))
        .Define(StringKey("topic.active.users.5m", t.active_users_5m, "output topic"))
        .Define(StringKey("topic.user.sessions", t.user_sessions, "output topic"))
        .Define(ConfigKey{.name = "topics.partitions", .type = ConfigType::kInt, .default_value = "4", .min = 1,
                          .max = 1024, .doc = "partitions of the topics the app creates when missing"})
        .Define(ConfigKey{.name = "windows.grace.ms", .type = ConfigType::kInt, .default_value = "60000", .min = 0,
                          .max = 86'400'000, .doc = "how late (event time) an event may be and still count"})
        .Define(StringKey("postgres.conninfo", "", "libpq connection string of the tables' database (required)"))
        .Define(StringKey("sink.name", "",
                          "the sink's consumer group and metrics label (default: <application.id>-postgres; "
                          "it must differ from application.id, whose group is the streams instance's)"));
    return d;
  }();
  return *def;
}

absl::Status EnsureTopics(const runnel::StreamsConfig& streams, const cs::TopologyOptions& t, int32_t partitions) {
  auto admin = runnel::kafka::Admin::Create(streams.AdminConfig());
  if (!admin.ok()) return admin.status();
  std::vector<runnel::kafka::NewTopic> topics;
  for (const std::string& name : {t.input, t.events_per_minute, t.revenue_per_minute, t.active_users_5m, t.user_sessions}) {
    if (absl::IsNotFound((*admin)->DescribeTopic(name, absl::Seconds(30)).status())) {
      topics.push_back({.name = name, .partitions = partitions});
    }
  }
  if (topics.empty()) return absl::OkStatus();
  absl::Status s = (*admin)->CreateTopics(topics, absl::Seconds(30));
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

// Watches the sink from after start to before close: a failed sink shuts
// the instance down (the app then exits 1 with the sink's error).
class SinkWatch {
 public:
  SinkWatch(runnel::sink::PostgresSink& sink, runnel::KafkaStreams& streams)
      : thread_([this, &sink, &streams] {
          while (!stop_.load()) {
            if (sink.state() == runnel::sink::PostgresSink::State::kFailed) {
              runnel::Logger("runnel-clickstream")->error("PostgreSQL sink failed: {}", sink.error().ToString());
              streams.RequestShutdown();
              return;
            }
            absl::SleepFor(absl::Milliseconds(200));
          }
        }) {}
  ~SinkWatch() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int Run(int argc, char** argv) {
  // Blocked before any thread starts, so every thread inherits the mask and
  // RunUntilShutdownSignal takes SIGINT/SIGTERM.
  sigset_t signals;
  runnel_apps::BlockShutdownSignals(&signals);
  auto values = runnel_apps::LoadCommandLineConfig(
      argc - 1, argv + 1, absl::StrCat(kUsage, "\napp keys (every other key configures the streams instance):\n",
                                      AppConfigDef().Describe()));
  if (!values.ok()) return Fail(values.status(), 2);
  std::map<std::string, std::string> own_values;
  std::map<std::string, std::string> streams_values = {
      {"application.id", "clickstream"},
      {"processing.guarantee", "exactly_once_v2"},
      {"default.deserialization.exception.handler", "dead_letter"},
      {"errors.dead.letter.queue.topic.name", "clickstream-dead-letter"},
  };
  for (const auto& [key, value] : *values) (AppConfigDef().Find(key) ? own_values : streams_values)[key] = value;
  auto own = runnel::Config::Parse(AppConfigDef(), own_values);
  if (!own.ok()) return Fail(own.status(), 2);
  if (own->GetString("postgres.conninfo").empty()) {
    return Fail(absl::InvalidArgumentError("config key 'postgres.conninfo' is required (a libpq connection string)"), 2);
  }
  auto config = runnel::StreamsConfig::Create(streams_values);
  if (!config.ok()) return Fail(config.status(), 2);
  const cs::TopologyOptions topics{.input = own->GetString("input.topic"),
                                   .events_per_minute = own->GetString("topic.events.per.minute"),
                                   .revenue_per_minute = own->GetString("topic.revenue.per.minute"),
                                   .active_users_5m = own->GetString("topic.active.users.5m"),
                                   .user_sessions = own->GetString("topic.user.sessions"),
                                   .grace_ms = own->GetInt("windows.grace.ms")};
  auto topology = cs::BuildTopology(topics);
  if (!topology.ok()) return Fail(topology.status(), 2);
  auto log = runnel::Logger("runnel-clickstream");
  log->info("topology:\n{}", (*topology)->Describe());

  const std::string conninfo = own->GetString("postgres.conninfo");
  for (int attempt = 1;; ++attempt) {
    absl::Status s = cs::CreateSchema(conninfo);
    if (s.ok()) break;
    if (!absl::IsUnavailable(s) || attempt == 30) return Fail(s, 1);
    log->warn("PostgreSQL not reachable yet (attempt {} of 30), retrying in 2 s: {}", attempt, s.ToString());
    absl::SleepFor(absl::Seconds(2));
  }
  if (absl::Status s = EnsureTopics(*config, topics, static_cast<int32_t>(own->GetInt("topics.partitions")));
      !s.ok()) {
    return Fail(s, 1);
  }
  std::string sink_name = own->GetString("sink.name");
  if (sink_name.empty()) sink_name = config->application_id() + "-postgres";
  if (sink_name == config->application_id()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("config key 'sink.name' ('", sink_name,
                                                        "') must differ from 'application.id': the sink's consumer "
                                                        "group would join the streams instance's")),
                2);
  }
  auto streams = runnel::KafkaStreams::Create(*topology, *config);
  if (!streams.ok()) return Fail(streams.status(), 2);

  runnel::sink::PostgresSinkOptions sink_options{
      .name = sink_name,
      .conninfo = conninfo,
      .kafka = config->ConnectionConfig(),
      .routes = cs::SinkRoutes(topics),
      .create_tables = false,
      .clock = &(*streams)->clock(),
      .metrics = &(*streams)->metrics()};
  auto sink = runnel::sink::PostgresSink::Create(std::move(sink_options));
  if (!sink.ok()) return Fail(sink.status(), 2);
  std::unique_ptr<SinkWatch> watch;
  absl::Status s = runnel::RunUntilShutdownSignal(
      **streams,
      [&]() -> absl::Status {
        RUNNEL_RETURN_IF_ERROR((*sink)->Start());
        watch = std::make_unique<SinkWatch>(**sink, **streams);
        log->info("running: /metrics on port {}", (*streams)->metrics_port());
        return absl::OkStatus();
      },
      [&] {
        watch.reset();
        if (absl::Status closed = (*sink)->Close(); !closed.ok()) log->warn("closing the sink: {}", closed.ToString());
      });
  log->info("processed {} records; {} well-formed events, {} malformed", (*streams)->processed(),
            (*streams)->metrics().CounterTotal("clickstream_events_total"),
            (*streams)->metrics().CounterTotal("runnel_deserialization_errors_total"));
  if (s.ok() && (*sink)->state() == runnel::sink::PostgresSink::State::kFailed) s = (*sink)->error();
  if (!s.ok()) return Fail(s, 1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "generate") return Generate(argc, argv);
  if (command == "run") return Run(argc, argv);
  if (command == "oracle") return Oracle(argc, argv);
  std::fputs(kUsage, command == "--help" || command == "-h" ? stdout : stderr);
  return command == "--help" || command == "-h" ? 0 : 2;
}
