// runnel-kafka: small Kafka chores for demos, tests and operators, built on
// Runnel's kafka module.
//
//   runnel-kafka create-topic  --bootstrap B --topic T [--partitions N]
//                [--replication-factor R] [--config k=v]...
//       e.g. --replication-factor 3 --config min.insync.replicas=2
//            --config compression.type=snappy --config retention.ms=-1
//   runnel-kafka describe-topic --bootstrap B --topic T
//       partitions with leader, replicas and in-sync replicas (broker ids),
//       the live brokers, and the topic's main configs (retention,
//       compression, min.insync.replicas, ...)
//   runnel-kafka delete-topic  --bootstrap B --topic T
//   runnel-kafka produce-sensors --bootstrap B --topic T --count N
//                [--sensors S] [--bad-every K] [--seed X]
//   runnel-kafka produce-bench --bootstrap B --topic T --count N [--keys K] [--value-bytes 100]
//                [--sequential-keys 1] [--event-span-ms S] [--event-end-ms E]
//                [--value-timestamp 1 | --value-number 1] [--seed X]
//   runnel-kafka count --bootstrap B --topic T
//   runnel-kafka table-sum --bootstrap B --topic T
//   runnel-kafka digest --bootstrap B --topic T
//   runnel-kafka dlq --bootstrap B --topic T [--max N] [--timeout-ms MS]
//
// consume prints one line per record: partition, offset, key, value. dlq
// prints each dead-letter record as a runnel.v1.RecordEnvelope in JSON.
// Bad arguments exit with code 2; Kafka errors with 1.

#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/metadata.h"
#include "runnel/kafka/producer.h"
#include "runnel/runtime/dead_letter.h"
#include "runnel/serde/protobuf_serde.h"
#include "runnel/serde/serdes.h"

namespace {

struct Args {
  std::string command;
  std::map<std::string, std::vector<std::string>> flags;

  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second.back();
  }
};

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "runnel-kafka: %s\n"
               "usage: runnel-kafka create-topic|describe-topic|delete-topic|produce-sensors|consume|dlq "
               "--bootstrap HOST:PORT [--command-config client.properties] --topic T [options]\n",
               why.c_str());
  return 2;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "runnel-kafka: %s\n", s.ToString().c_str());
  return 1;
}

bool ParseInt(const Args& args, const std::string& name, int64_t fallback, int64_t* out) {
  std::string v = args.Get(name);
  if (v.empty()) {
    *out = fallback;
    return true;
  }
  return absl::SimpleAtoi(v, out);
}

int CreateTopic(const Args& args, runnel::kafka::Admin& admin) {
  int64_t partitions, replication;
  if (!ParseInt(args, "partitions", 1, &partitions) || partitions < 1) {
    return Usage("--partitions must be a positive integer");
  }
  if (!ParseInt(args, "replication-factor", -1, &replication) || replication == 0 || replication < -1 ||
      replication > 32767) {
    return Usage("--replication-factor must be a positive integer (or -1: the broker's default)");
  }
  runnel::kafka::NewTopic topic{.name = args.Get("topic"),
                                .partitions = static_cast<int32_t>(partitions),
                                .replication_factor = static_cast<int16_t>(replication)};
  if (auto it = args.flags.find("config"); it != args.flags.end()) {
    for (const auto& kv : it->second) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) return Usage("--config wants key=value");
      topic.configs[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  absl::Status s = admin.CreateTopics({topic}, absl::Seconds(30));
  if (!s.ok()) return Fail(s);
  std::printf("topic %s ready (%d partitions)\n", topic.name.c_str(), topic.partitions);
  return 0;
}

// The topic configs describe-topic prints (the broker reports all of them).
const std::set<std::string>& ShownTopicConfigs() {
  static const std::set<std::string> kShown = {"cleanup.policy", "compression.type", "retention.ms",
                                               "retention.bytes", "min.insync.replicas", "segment.bytes",
                                               "max.message.bytes", "message.timestamp.type"};
  return kShown;
}

int DescribeTopic(const Args& args, const runnel::kafka::ClientConfig& bootstrap, runnel::kafka::Admin& admin) {
  const std::string topic = args.Get("topic");
  auto metadata = runnel::kafka::Metadata::Create(bootstrap);
  if (!metadata.ok()) return Fail(metadata.status());
  auto partitions = (*metadata)->Partitions(topic, absl::Seconds(30));
  if (!partitions.ok()) return Fail(partitions.status());
  auto brokers = (*metadata)->Brokers(absl::Seconds(30));
  if (!brokers.ok()) return Fail(brokers.status());
  auto configs = admin.DescribeTopicConfigs(topic, absl::Seconds(30));
  if (!configs.ok()) return Fail(configs.status());
  auto ids = [](const std::vector<int32_t>& v) { return absl::StrJoin(v, ","); };
  std::printf("topic %s: %zu partitions, replication %zu\n", topic.c_str(), partitions->size(),
              partitions->empty() ? size_t{0} : partitions->front().replicas.size());
  for (const auto& p : *partitions) {
    std::printf("partition %d leader %d replicas %s isr %s\n", p.partition, p.leader, ids(p.replicas).c_str(),
                ids(p.isr).c_str());
  }
  std::vector<std::string> live;
  for (const auto& b : *brokers) live.push_back(absl::StrCat(b.id, "=", b.host, ":", b.port));
  std::printf("brokers %s\n", absl::StrJoin(live, " ").c_str());
  for (const auto& [name, value] : *configs) {
    if (ShownTopicConfigs().contains(name)) std::printf("config %s=%s\n", name.c_str(), value.c_str());
  }
  return 0;
}

int ProduceSensors(const Args& args, const runnel::kafka::ClientConfig& bootstrap) {
  int64_t count, sensors, bad_every, seed;
  if (!ParseInt(args, "count", 1000, &count) || !ParseInt(args, "sensors", 50, &sensors) ||
      !ParseInt(args, "bad-every", 0, &bad_every) || !ParseInt(args, "seed", 1, &seed) ||
      count < 0 || sensors < 1 || bad_every < 0) {
    return Usage("--count, --sensors, --bad-every and --seed must be non-negative integers");
  }
  auto producer = runnel::kafka::Producer::Create(bootstrap);
  if (!producer.ok()) return Fail(producer.status());
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::normal_distribution<double> temp(68.0, 15.0);
  std::string topic = args.Get("topic");
  int64_t bad = 0;
  for (int64_t i = 0; i < count; ++i) {
    std::string key = absl::StrFormat("s-%03d", static_cast<int>(rng() % sensors));
    std::string value;
    if (bad_every > 0 && i % bad_every == bad_every - 1) {
      value = absl::StrCat("{\"sensor\":\"", key, "\",\"temp_f\":");  // truncated JSON
      ++bad;
    } else {
      value = absl::StrFormat("{\"sensor\":\"%s\",\"temp_f\":%.1f,\"seq\":%d}", key, temp(rng), i);
    }
    absl::Status s = (*producer)->Send({.topic = topic, .key = key, .value = value});
    if (!s.ok()) return Fail(s);
  }
  absl::Status s = (*producer)->Flush(absl::Seconds(60));
  if (!s.ok()) return Fail(s);
  std::printf("produced %lld readings to %s (%lld malformed)\n", static_cast<long long>(count),
              topic.c_str(), static_cast<long long>(bad));
  return 0;
}

// produce-bench --value-number: the digits of the number a value starts with.
constexpr int64_t kValueNumberDigits = 9;

int ProduceBench(const Args& args, const runnel::kafka::ClientConfig& bootstrap) {
  int64_t count, keys, value_bytes;
  if (!ParseInt(args, "count", 1000000, &count) || !ParseInt(args, "keys", 10000, &keys) ||
      !ParseInt(args, "value-bytes", 100, &value_bytes) || count < 0 || keys < 1 ||
      value_bytes < 1) {
    return Usage("--count, --keys and --value-bytes must be positive integers");
  }
  auto producer = runnel::kafka::Producer::Create(runnel::kafka::ClientConfigFor(
      bootstrap, {{"linger.ms", "20"}, {"batch.num.messages", "10000"}, {"compression.type", "lz4"}}));
  if (!producer.ok()) return Fail(producer.status());
  // --seed X: the random keys and values (default 42); two topics filled
  // with different seeds draw independent keys.
  int64_t seed;
  if (!ParseInt(args, "seed", 42, &seed)) return Usage("--seed must be an integer");
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  // --sequential-keys 1: key i % keys (every key once per round) instead of
  // a uniformly random one.
  const bool sequential = args.Get("sequential-keys") == "1";
  // --event-span-ms S: record i is stamped end - S + i * S / count (event
  // time spread over S ms) instead of the send time; the end is now unless
  // --event-end-ms gives it (so that several topics can share one range).
  int64_t span = 0, end = 0;
  if (!ParseInt(args, "event-span-ms", 0, &span) || span < 0) return Usage("--event-span-ms must be >= 0");
  if (!ParseInt(args, "event-end-ms", runnel::Clock::System().NowMillis().value(), &end) || end < span) {
    return Usage("--event-end-ms must be an epoch time in ms, at least --event-span-ms");
  }
  const int64_t base = end - span;
  // --value-timestamp 1: each value starts with its record's timestamp, 13
  // decimal digits (so a join's result can name the records it paired).
  const bool value_timestamp = args.Get("value-timestamp") == "1";
  if (value_timestamp && (span == 0 || value_bytes < 13)) {
    return Usage("--value-timestamp needs --event-span-ms and --value-bytes >= 13");
  }
  // --value-number 1: each value starts with a number uniformly drawn from
  // [0, 10^9), 9 decimal digits (the benchmarks' windowed max aggregates
  // it). The numbers come from their own generator, seeded from --seed, so
  // the keys and the rest of each value are those the seed gives without
  // the flag.
  const bool value_number = args.Get("value-number") == "1";
  if (value_number && (value_timestamp || value_bytes < kValueNumberDigits)) {
    return Usage("--value-number needs --value-bytes >= 9 and excludes --value-timestamp");
  }
  std::mt19937_64 numbers(static_cast<uint64_t>(seed) ^ 0x9e3779b97f4a7c15ull);
  std::string topic = args.Get("topic");
  std::string value(static_cast<size_t>(value_bytes), 'x');
  std::string key;
  for (int64_t i = 0; i < count; ++i) {
    key = absl::StrFormat("key-%08d", static_cast<int>(sequential ? i % keys : rng() % keys));
    for (size_t j = 0; j < value.size(); ++j) value[j] = static_cast<char>('a' + (rng() % 26));
    std::optional<runnel::Timestamp> ts;
    if (span > 0) ts = runnel::Timestamp(base + i * span / std::max<int64_t>(count, 1));
    if (value_timestamp) value.replace(0, 13, absl::StrFormat("%013d", ts->value()));
    if (value_number) {
      value.replace(0, kValueNumberDigits, absl::StrFormat("%09d", static_cast<int>(numbers() % 1'000'000'000)));
    }
    absl::Status s = (*producer)->Send({.topic = topic, .key = key, .value = value, .timestamp = ts});
    if (!s.ok()) return Fail(s);
  }
  absl::Status s = (*producer)->Flush(absl::Seconds(300));
  if (!s.ok()) return Fail(s);
  std::printf("produced %lld records to %s\n", static_cast<long long>(count), topic.c_str());
  return 0;
}

// A consumer (never joining a group) and each partition's low and high
// watermark of `topic`.
struct TopicMarks {
  std::unique_ptr<runnel::kafka::Consumer> consumer;
  std::vector<std::pair<runnel::Offset, runnel::Offset>> marks;  // by partition
};
absl::StatusOr<TopicMarks> ReadMarks(const runnel::kafka::ClientConfig& bootstrap, const std::string& topic) {
  auto admin = runnel::kafka::Admin::Create(bootstrap);
  if (!admin.ok()) return admin.status();
  auto description = (*admin)->DescribeTopic(topic, absl::Seconds(30));
  if (!description.ok()) return description.status();
  // End-of-partition positions say where a transactional topic ends: past
  // its trailing commit marker, which no record has.
  auto consumer = runnel::kafka::Consumer::Create(runnel::kafka::ClientConfigFor(
      bootstrap, {{"group.id", absl::StrCat("runnel-kafka-", getpid())}, {"enable.partition.eof", "true"}}));
  if (!consumer.ok()) return consumer.status();
  TopicMarks out{.consumer = *std::move(consumer)};
  for (int32_t p = 0; p < description->partitions; ++p) {
    auto marks = out.consumer->Watermarks({topic, runnel::Partition(p)}, absl::Seconds(30));
    if (!marks.ok()) return marks.status();
    out.marks.push_back(*marks);
  }
  return out;
}

// Records in a topic = sum over partitions of (high - low watermark). Exact
// for topics written without transactions (no control records); a
// transactional topic counts its markers and aborted records too.
int Count(const Args& args, const runnel::kafka::ClientConfig& bootstrap) {
  auto topic = ReadMarks(bootstrap, args.Get("topic"));
  if (!topic.ok()) return Fail(topic.status());
  int64_t total = 0;
  for (const auto& [low, high] : topic->marks) total += high.value() - low.value();
  std::printf("%lld\n", static_cast<long long>(total));
  return 0;
}

// Reads every record of `topic` up to the end it has now (each partition
// in offset order, partitions interleaved), handing each to `visit`.
absl::Status ReadToEnd(const runnel::kafka::ClientConfig& bootstrap, const std::string& topic,
                       const std::function<absl::Status(const runnel::kafka::ConsumedRecord&)>& visit) {
  auto read = ReadMarks(bootstrap, topic);
  if (!read.ok()) return read.status();
  auto& consumer = read->consumer;
  std::map<int32_t, int64_t> ends;
  std::vector<std::pair<runnel::TopicPartition, runnel::Offset>> from;
  for (int32_t p = 0; p < static_cast<int32_t>(read->marks.size()); ++p) {
    const auto& [low, high] = read->marks[p];
    if (high > low) ends[p] = high.value();
    from.push_back({{topic, runnel::Partition(p)}, low});
  }
  RUNNEL_RETURN_IF_ERROR(consumer->AssignAt(from));
  std::vector<runnel::kafka::ConsumedRecord> batch;
  std::vector<std::pair<runnel::TopicPartition, runnel::Offset>> eof;
  absl::Time quiet_since = runnel::Clock::System().Now();
  while (!ends.empty()) {
    batch.clear();
    eof.clear();
    RUNNEL_RETURN_IF_ERROR(consumer->Poll(absl::Milliseconds(500), 10000, batch, &eof));
    if (batch.empty() && runnel::Clock::System().Now() - quiet_since > absl::Seconds(60)) {
      return absl::DeadlineExceededError("no records for 60 s before the end of the topic");
    }
    if (!batch.empty()) quiet_since = runnel::Clock::System().Now();
    for (const auto& r : batch) {
      RUNNEL_RETURN_IF_ERROR(visit(r));
      auto it = ends.find(r.partition().value());
      if (it != ends.end() && r.offset().value() + 1 >= it->second) ends.erase(it);
    }
    for (const auto& [tp, position] : eof) {
      auto it = ends.find(tp.partition.value());
      if (it != ends.end() && position.value() >= it->second) ends.erase(it);
    }
  }
  return absl::OkStatus();
}

// FNV-1a over `bytes`, from `h`.
uint64_t Fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

// splitmix64's finalizer: spreads a hash over all 64 bits before it is summed.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A record's hash for the digests: FNV-1a over its key's length, key and
// value, spread by Mix. The key's length first, so that (key, value) pairs
// cannot collide by moving bytes across the boundary.
uint64_t RecordHash(std::string_view key, std::string_view value) {
  const uint64_t length = key.size();
  const uint64_t h = Fnv1a(std::string_view(reinterpret_cast<const char*>(&length), sizeof length));
  return Mix(Fnv1a(value, Fnv1a(key, h)));
}

// Reads a table's update topic to its end and prints "keys=<distinct keys>
// sum=<sum> digest=<hex>" over each key's last value. Each value starts with
// an int64 (8 bytes big-endian, Kafka's LongSerializer: a count, alone or
// followed by more fields, like the windowed count + max's 16 bytes); sum
// adds those up. digest is the sum (mod 2^64) of RecordHash(key, last
// value): equal digests mean the same final value for every key, whatever
// the order or partition of the updates. Benchmarks compare contenders'
// results with it.
int TableSum(const Args& args, const runnel::kafka::ClientConfig& bootstrap) {
  absl::flat_hash_map<std::string, std::string> last;
  absl::Status s = ReadToEnd(bootstrap, args.Get("topic"), [&](const runnel::kafka::ConsumedRecord& r) {
    const std::optional<std::string_view> value = r.value();
    if (!value || value->size() < 8) {
      return absl::InvalidArgumentError(absl::StrCat("table-sum: a value of ", value ? value->size() : 0,
                                                     " bytes, not an int64 (8 bytes) or more"));
    }
    last.insert_or_assign(std::string(r.key().value_or("")), std::string(*value));
    return absl::OkStatus();
  });
  if (!s.ok()) return Fail(s);
  int64_t sum = 0;
  uint64_t digest = 0;
  for (const auto& [k, v] : last) {
    sum += static_cast<int64_t>(runnel::serdes::ReadBigEndian64(v.data()));
    digest += RecordHash(k, v);
  }
  std::printf("keys=%zu sum=%lld digest=%016llx\n", last.size(), static_cast<long long>(sum),
              static_cast<unsigned long long>(digest));
  return 0;
}

// Reads a topic to its end and prints "records=<n> keys=<distinct keys>
// digest=<hex>": the digest is the sum (mod 2^64) of a hash of each
// record's key and value, so it depends on the multiset of (key, value)
// pairs and not on their order or partition. Benchmarks compare contenders'
// outputs with it.
int Digest(const Args& args, const runnel::kafka::ClientConfig& bootstrap) {
  int64_t records = 0;
  uint64_t digest = 0;
  absl::flat_hash_set<std::string> keys;
  absl::Status s = ReadToEnd(bootstrap, args.Get("topic"), [&](const runnel::kafka::ConsumedRecord& r) {
    const std::string_view key = r.key().value_or("");
    const std::string_view value = r.value().value_or("");
    digest += RecordHash(key, value);
    ++records;
    // (absl::string_view: this Abseil's is not std::string_view.)
    const absl::string_view k(key.data(), key.size());
    if (!keys.contains(k)) keys.emplace(k);
    return absl::OkStatus();
  });
  if (!s.ok()) return Fail(s);
  std::printf("records=%lld keys=%zu digest=%016llx\n", static_cast<long long>(records), keys.size(),
              static_cast<unsigned long long>(digest));
  return 0;
}

int Consume(const Args& args, const runnel::kafka::ClientConfig& bootstrap, bool dead_letters) {
  int64_t max, timeout_ms;
  if (!ParseInt(args, "max", 20, &max) || !ParseInt(args, "timeout-ms", 10000, &timeout_ms)) {
    return Usage("--max and --timeout-ms must be integers");
  }
  std::string topic = args.Get("topic");
  auto consumer = runnel::kafka::Consumer::Create(
      runnel::kafka::ClientConfigFor(bootstrap, {{"group.id", absl::StrCat("runnel-kafka-", getpid())}}));
  if (!consumer.ok()) return Fail(consumer.status());
  absl::Status s = (*consumer)->Subscribe({topic});
  if (!s.ok()) return Fail(s);
  auto json = runnel::serdes::ProtobufJson<runnel::v1::RecordEnvelope>();
  const absl::Time deadline = runnel::Clock::System().Now() + absl::Milliseconds(timeout_ms);
  int64_t seen = 0;
  std::vector<runnel::kafka::ConsumedRecord> batch;
  while (seen < max && runnel::Clock::System().Now() < deadline) {
    batch.clear();
    s = (*consumer)->Poll(absl::Milliseconds(200), static_cast<size_t>(max - seen), batch);
    if (!s.ok()) return Fail(s);
    for (const auto& r : batch) {
      ++seen;
      if (dead_letters) {
        auto envelope = runnel::EnvelopeFromDeadLetter(r.key(), r.value(), r.headers());
        if (!envelope.ok()) return Fail(envelope.status());
        std::string text;
        if (s = json->Serialize(*envelope, text); !s.ok()) return Fail(s);
        std::printf("%s\n", text.c_str());
      } else {
        std::printf("%d\t%lld\t%s\t%s\n", r.partition().value(),
                    static_cast<long long>(r.offset().value()),
                    std::string(r.key().value_or("<null>")).c_str(),
                    std::string(r.value().value_or("<null>")).c_str());
      }
    }
  }
  std::fflush(stdout);
  (void)(*consumer)->Close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("no command");
  Args args;
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) return Usage(absl::StrCat("bad argument '", flag, "'"));
    args.flags[flag.substr(2)].push_back(argv[++i]);
  }
  (void)runnel::SetLogLevel("warn");
  if (args.Get("bootstrap").empty()) return Usage("--bootstrap is required");
  // Every client of the tool: --bootstrap and the --command-config file
  // (security.protocol, sasl.*, ssl.*: docs/security.md).
  auto connection = runnel::kafka::ToolConnection(args.Get("bootstrap"), args.Get("command-config"));
  if (!connection.ok()) return Fail(connection.status());
  const runnel::kafka::ClientConfig& bootstrap = *connection;
  if (args.Get("topic").empty()) return Usage("--topic is required");
  if (args.command == "create-topic" || args.command == "delete-topic" || args.command == "describe-topic") {
    auto admin = runnel::kafka::Admin::Create(bootstrap);
    if (!admin.ok()) return Fail(admin.status());
    if (args.command == "create-topic") return CreateTopic(args, **admin);
    if (args.command == "describe-topic") return DescribeTopic(args, bootstrap, **admin);
    absl::Status s = (*admin)->DeleteTopics({args.Get("topic")}, absl::Seconds(30));
    return s.ok() ? 0 : Fail(s);
  }
  if (args.command == "produce-sensors") return ProduceSensors(args, bootstrap);
  if (args.command == "produce-bench") return ProduceBench(args, bootstrap);
  if (args.command == "count") return Count(args, bootstrap);
  if (args.command == "table-sum") return TableSum(args, bootstrap);
  if (args.command == "digest") return Digest(args, bootstrap);
  if (args.command == "consume") return Consume(args, bootstrap, false);
  if (args.command == "dlq") return Consume(args, bootstrap, true);
  return Usage(absl::StrCat("unknown command '", args.command, "'"));
}
