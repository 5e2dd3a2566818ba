// runnel-chaos: the input and the verdict of the chaos suite (run,
// partition_test.sh, disk_full_test.sh). The application under test is
// runnel-keyed-count run-windowed (60 s tumbling windows, 5 s grace,
// emit-final count, "<key>@<start>" -> count).
//
//   runnel-chaos produce --bootstrap B --topic T --count N --keys K --seed S
//       --base-ms M [--span-ms 3600000] [--rate R records/s]
//       Writes record 0..N-1 of chaos_input.h (idempotent, acks=all: a
//       broker lost mid-run makes it retry, never write twice), then one
//       close record per partition far past the end. Prints one line per
//       10% with the rate so far.
//   runnel-chaos verify --bootstrap B --output O --count N --keys K --seed S
//       --base-ms M [--span-ms ..] [--input T] [--at-least-once 0]
//       [--timeout-s 600] [--quiet-s 30]
//       The oracle is recomputed from the seed (no broker, no framework
//       code). Reads O read_committed from the start until every window is
//       right (or nothing new came for quiet-s, or timeout-s passed) and
//       prints one JSON line: missing, wrong, duplicate windows
//       (window_check.h). With --input T, also counts T's records
//       (read_committed, close records aside): a producer that lost or
//       doubled input shows there, not as a stream-processing fault.
//       Exits 0 only if the check of the guarantee passed.
//   runnel-chaos windows --count N --keys K --seed S --base-ms M
//       The oracle's window and record counts, no broker.

#include <cstdio>
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chaos_input.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"
#include "window_check.h"

namespace {

using runnel::Clock;
using runnel::Offset;
using runnel::Partition;
using runnel::TopicPartition;
using runnel_chaos::InputSpec;

using Flags = std::map<std::string, std::string>;

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) {
      std::fprintf(stderr, "expected --flag value, got '%s'\n", argv[i]);
      std::exit(2);
    }
    flags[name.substr(2)] = argv[i + 1];
  }
  if (argc > 2 && argc % 2 != 0) {
    std::fprintf(stderr, "flag '%s' has no value\n", argv[argc - 1]);
    std::exit(2);
  }
  return flags;
}

const std::string& Required(const Flags& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end()) {
    std::fprintf(stderr, "--%s is required\n", name.c_str());
    std::exit(2);
  }
  return it->second;
}

int64_t IntFlag(const Flags& flags, const std::string& name, std::optional<int64_t> fallback = std::nullopt) {
  auto it = flags.find(name);
  if (it == flags.end()) {
    if (fallback.has_value()) return *fallback;
    std::fprintf(stderr, "--%s is required\n", name.c_str());
    std::exit(2);
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    std::fprintf(stderr, "--%s must be an integer, got '%s'\n", name.c_str(), it->second.c_str());
    std::exit(2);
  }
  return v;
}

InputSpec Spec(const Flags& flags) {
  InputSpec spec{.seed = static_cast<uint64_t>(IntFlag(flags, "seed")),
                 .count = IntFlag(flags, "count"),
                 .keys = IntFlag(flags, "keys"),
                 .base_ms = IntFlag(flags, "base-ms"),
                 .span_ms = IntFlag(flags, "span-ms", 3'600'000)};
  if (spec.count <= 0 || spec.keys <= 0 || spec.span_ms <= 0 || spec.base_ms % runnel_chaos::kWindowMs != 0) {
    std::fprintf(stderr, "--count, --keys and --span-ms must be > 0, --base-ms a whole minute\n");
    std::exit(2);
  }
  return spec;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return 1;
}

int Produce(const Flags& flags) {
  const InputSpec spec = Spec(flags);
  const std::string& topic = Required(flags, "topic");
  const int64_t rate = IntFlag(flags, "rate", 0);
  auto producer = runnel::kafka::Producer::Create({{"bootstrap.servers", Required(flags, "bootstrap")},
                                                   {"linger.ms", "5"},
                                                   {"enable.idempotence", "true"},
                                                   {"acks", "all"},
                                                   {"message.timeout.ms", "600000"}});
  if (!producer.ok()) return Fail(producer.status());
  const absl::Time start = Clock::System().Now();
  for (int64_t i = 0; i < spec.count; ++i) {
    const runnel_chaos::InputRecord r = runnel_chaos::RecordAt(spec, i);
    absl::Status s = (*producer)->Send(
        {.topic = topic, .key = r.key, .value = "1", .timestamp = runnel::Timestamp(r.timestamp_ms)},
        absl::Seconds(300));
    if (!s.ok()) return Fail(s);
    if (rate > 0 && i % 1000 == 999) {
      const absl::Time due = start + absl::Seconds(static_cast<double>(i + 1) / static_cast<double>(rate));
      const absl::Duration ahead = due - Clock::System().Now();
      if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
    }
    if ((i + 1) % std::max<int64_t>(1, spec.count / 10) == 0) {
      const double secs = absl::ToDoubleSeconds(Clock::System().Now() - start);
      std::fprintf(stderr, "produced %lld records in %.1f s (%.0f/s)\n", static_cast<long long>(i + 1), secs,
                   static_cast<double>(i + 1) / std::max(secs, 0.001));
    }
  }
  auto partitions = (*producer)->PartitionCount(topic, absl::Seconds(60));
  if (!partitions.ok()) return Fail(partitions.status());
  for (int32_t p = 0; p < *partitions; ++p) {
    absl::Status s = (*producer)->Send({.topic = topic, .partition = Partition(p), .key = runnel_chaos::kCloseKey,
                                        .value = "1", .timestamp = runnel::Timestamp(CloseTimestamp(spec))});
    if (!s.ok()) return Fail(s);
  }
  if (absl::Status s = (*producer)->Flush(absl::Seconds(600)); !s.ok()) return Fail(s);
  return 0;
}

// Reads every partition of a topic from its start, read_committed, with a
// manual assignment (no group).
absl::StatusOr<std::unique_ptr<runnel::kafka::Consumer>> OpenReader(const std::string& bootstrap,
                                                                     const std::string& topic) {
  auto producer = runnel::kafka::Producer::Create({{"bootstrap.servers", bootstrap}});
  if (!producer.ok()) return producer.status();
  auto partitions = (*producer)->PartitionCount(topic, absl::Seconds(60));
  if (!partitions.ok()) return partitions.status();
  auto consumer = runnel::kafka::Consumer::Create({{"bootstrap.servers", bootstrap},
                                                   {"group.id", absl::StrCat("chaos-verify-", topic)},
                                                   {"isolation.level", "read_committed"}});
  if (!consumer.ok()) return consumer.status();
  std::vector<std::pair<TopicPartition, Offset>> from;
  for (int32_t p = 0; p < *partitions; ++p) from.emplace_back(TopicPartition{topic, Partition(p)}, Offset(-2));
  if (absl::Status s = (*consumer)->AssignAt(from); !s.ok()) return s;
  return consumer;
}

// The input topic's records other than the close records: read until
// nothing new comes for 5 s.
absl::StatusOr<int64_t> CountInput(const std::string& bootstrap, const std::string& topic) {
  auto reader = OpenReader(bootstrap, topic);
  if (!reader.ok()) return reader.status();
  int64_t records = 0;
  std::vector<runnel::kafka::ConsumedRecord> batch;
  for (absl::Time last = Clock::System().Now(); Clock::System().Now() - last < absl::Seconds(5);) {
    batch.clear();
    if (absl::Status s = (*reader)->Poll(absl::Milliseconds(200), 50000, batch); !s.ok()) return s;
    if (!batch.empty()) last = Clock::System().Now();
    for (const auto& r : batch) records += r.key().value_or("") != runnel_chaos::kCloseKey;
  }
  return records;
}

int Verify(const Flags& flags) {
  const InputSpec spec = Spec(flags);
  const std::string& bootstrap = Required(flags, "bootstrap");
  const absl::Duration timeout = absl::Seconds(IntFlag(flags, "timeout-s", 600));
  const absl::Duration quiet = absl::Seconds(IntFlag(flags, "quiet-s", 30));
  const auto guarantee = IntFlag(flags, "at-least-once", 0) != 0 ? runnel_chaos::Guarantee::kAtLeastOnce
                                                                  : runnel_chaos::Guarantee::kExactlyOnce;
  runnel_chaos::WindowCheck check(runnel_chaos::Oracle(spec), guarantee);
  int64_t inputs = -1;
  if (flags.contains("input")) {
    auto counted = CountInput(bootstrap, flags.at("input"));
    if (!counted.ok()) return Fail(counted.status());
    inputs = *counted;
  }
  auto reader = OpenReader(bootstrap, Required(flags, "output"));
  if (!reader.ok()) return Fail(reader.status());
  const absl::Time start = Clock::System().Now();
  absl::Time last_record = start;
  std::vector<runnel::kafka::ConsumedRecord> batch;
  while (!check.Complete()) {
    const absl::Time now = Clock::System().Now();
    if (now - start > timeout || now - last_record > quiet) break;
    batch.clear();
    if (absl::Status s = (*reader)->Poll(absl::Milliseconds(200), 50000, batch); !s.ok()) return Fail(s);
    if (!batch.empty()) last_record = Clock::System().Now();
    for (const auto& r : batch) check.Add(r.key().value_or(""), r.value().value_or(""));
  }
  // A last look for duplicates written after the final window came out.
  for (absl::Time until = Clock::System().Now() + absl::Seconds(2); Clock::System().Now() < until;) {
    batch.clear();
    if (absl::Status s = (*reader)->Poll(absl::Milliseconds(200), 50000, batch); !s.ok()) return Fail(s);
    for (const auto& r : batch) check.Add(r.key().value_or(""), r.value().value_or(""));
  }
  const auto result = check.Finish();
  if (!result.passed) std::fprintf(stderr, "%s", check.Examples(5).c_str());
  const std::string json = check.Json();
  std::printf("{\"input_expected\": %lld, \"input_records\": %lld, %s\n", static_cast<long long>(spec.count),
              static_cast<long long>(inputs), json.c_str() + 1);
  const bool input_right = inputs < 0 || inputs == spec.count;
  if (!input_right) std::fprintf(stderr, "the input topic holds %lld records, not %lld\n",
                                 static_cast<long long>(inputs), static_cast<long long>(spec.count));
  return result.passed && input_right ? 0 : 1;
}

int Windows(const Flags& flags) {
  const InputSpec spec = Spec(flags);
  const auto oracle = runnel_chaos::Oracle(spec);
  std::printf("{\"records\": %lld, \"windows\": %zu}\n", static_cast<long long>(spec.count), oracle.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "produce") return Produce(ParseFlags(argc, argv));
  if (mode == "verify") return Verify(ParseFlags(argc, argv));
  if (mode == "windows") return Windows(ParseFlags(argc, argv));
  std::fprintf(stderr, "usage: runnel-chaos produce|verify|windows [flags] (see chaos_tool.cc)\n");
  return 2;
}
