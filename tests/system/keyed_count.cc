// runnel-keyed-count: the application and the checks of the exactly-once
// system tests (kill_test.sh).
//
//   runnel-keyed-count run [app flags: --set k=v ... --input I[,I2] --output O]
//       groupByKey().count() into the store "counts"; every update goes to
//       the output topic as key -> decimal count. Two inputs are merged
//       first: one sub-topology reading both, so partition p of each must
//       land on the same instance (co-partitioning) for the counts to add
//       up.
//   runnel-keyed-count run-windowed [same flags]
//       groupByKey().windowedBy(1-minute tumbling, grace 5 s), emit-final
//       count into the window store "window-counts"; each closed window goes
//       out once as "<key>@<window start>" -> decimal count.
//   runnel-keyed-count topics --bootstrap B --create T1,T2 --partitions P
//   runnel-keyed-count produce --bootstrap B --topic T[,T2] --count N --keys K
//       [--rate R records/s] [--seed S]
//       keys "k<0..K-1>" and topics uniformly random. With
//       --event-span-ms S the records' timestamps spread over S ms of event
//       time (a few out of order), then one record per partition far past
//       the end closes every window.
//   runnel-keyed-count verify --bootstrap B --input I[,I2] --output O
//       [--timeout-s 300] [--quiet-s 15] [--at-least-once 0]
//       The oracle is the input topic itself (count of each key). Reads the
//       output read_committed until every key's last count equals the
//       oracle (or nothing new came for quiet-s, or timeout-s passed), then
//       checks that each key's counts only ever grow: a count seen twice or
//       going back is an output record produced twice. Prints one JSON line
//       and exits 0 only if the output is exactly right. With
//       --at-least-once 1, duplicates are counted but allowed, and it exits
//       0 unless input was lost: a key whose last count stays below the
//       oracle (count_check.h).
//   runnel-keyed-count verify-windowed --bootstrap B --input I --output O
//       The windowed oracle: every window that closed (per partition's
//       stream time) is in the output exactly once with its count.
//   runnel-keyed-count query-check --bootstrap B --input I --endpoints E1,E2,..
//       --stop-file F [--keys K] [--store counts]
//       Interactive queries while instances are killed and restarted: Gets
//       random keys of the store through each instance in turn (forwarded
//       when it does not own the key), one at a time, until F exists. Under
//       exactly_once_v2 a query reads committed state, and a key's committed
//       count only grows, across failovers too (the new owner restores what
//       was committed). So an answer must never be below an earlier answer
//       for the key (not found: 0) nor above the key's final count; only
//       UNAVAILABLE and DEADLINE_EXCEEDED may fail. Then every key is asked
//       once more (routed, retried) and must equal its final count. Prints
//       one JSON line; exits 0 only if no answer was wrong.
//   runnel-keyed-count free-ports --count N
//       N loopback ports free right now, one per line.

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/app.h"
#include "count_check.h"
#include "runnel/common/clock.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/admin.h"
#include "runnel/kafka/consumer.h"
#include "runnel/kafka/producer.h"
#include "runnel/query/client.h"
#include "grpcpp/grpcpp.h"

namespace {

using runnel::Clock;
using runnel::Offset;
using runnel::Partition;
using runnel::TopicPartition;

std::map<std::string, std::string> Flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  return flags;
}

int64_t IntFlag(const std::map<std::string, std::string>& flags, const std::string& name, int64_t fallback) {
  auto it = flags.find(name);
  int64_t v = fallback;
  if (it != flags.end() && !absl::SimpleAtoi(it->second, &v)) {
    std::fprintf(stderr, "--%s must be an integer\n", name.c_str());
    std::exit(2);
  }
  return v;
}

int CreateTopics(const std::map<std::string, std::string>& flags) {
  auto admin = runnel::kafka::Admin::Create({{"bootstrap.servers", flags.at("bootstrap")}});
  if (!admin.ok()) return std::fprintf(stderr, "%s\n", admin.status().ToString().c_str()), 1;
  std::vector<runnel::kafka::NewTopic> topics;
  for (absl::string_view name : absl::StrSplit(flags.at("create"), ',', absl::SkipEmpty())) {
    topics.push_back({.name = std::string(name), .partitions = static_cast<int32_t>(IntFlag(flags, "partitions", 6))});
  }
  absl::Status s = (*admin)->CreateTopics(topics, absl::Seconds(30));
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  return 0;
}

// Event time of the windowed runs: record i of N is stamped base + i * span
// / N, every fifth up to 2 s earlier (out of order, within the grace), where
// base is a whole minute `span` before now: recent, because the broker's
// time-based retention (input topics, and the compact,delete window
// changelogs) deletes records by timestamp.
constexpr int64_t kWindowMs = 60'000;
constexpr int64_t kGraceMs = 5'000;
constexpr std::string_view kCloseKey = "~close";

int Produce(const std::map<std::string, std::string>& flags) {
  const int64_t count = IntFlag(flags, "count", 100000), keys = IntFlag(flags, "keys", 1000);
  const int64_t rate = IntFlag(flags, "rate", 0), seed = IntFlag(flags, "seed", 1);
  const int64_t span = IntFlag(flags, "event-span-ms", 0);
  const int64_t base = (Clock::System().NowMillis().value() - span) / kWindowMs * kWindowMs;
  // Idempotent with acks=all: a broker lost mid-run (cluster_test.sh) makes
  // the producer retry, never write a record twice or lose one.
  auto producer = runnel::kafka::Producer::Create({{"bootstrap.servers", flags.at("bootstrap")},
                                                   {"linger.ms", "5"},
                                                   {"enable.idempotence", "true"},
                                                   {"acks", "all"}});
  if (!producer.ok()) {
    std::fprintf(stderr, "%s\n", producer.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::vector<std::string> topics = absl::StrSplit(flags.at("topic"), ',', absl::SkipEmpty());
  const absl::Time start = Clock::System().Now();
  for (int64_t i = 0; i < count; ++i) {
    std::string key = absl::StrCat("k", rng() % static_cast<uint64_t>(keys));
    const std::string& topic = topics[rng() % topics.size()];
    std::optional<runnel::Timestamp> ts;
    if (span > 0) {
      const int64_t jitter = i % 5 == 0 ? static_cast<int64_t>(rng() % 2000) : 0;
      ts = runnel::Timestamp(std::max<int64_t>(base, base + i * span / count - jitter));
    }
    absl::Status s = (*producer)->Send({.topic = topic, .key = key, .value = "1", .timestamp = ts});
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    if (rate > 0 && i % 1000 == 999) {
      const absl::Time due = start + absl::Seconds(static_cast<double>(i + 1) / static_cast<double>(rate));
      const absl::Duration ahead = due - Clock::System().Now();
      if (ahead > absl::ZeroDuration()) absl::SleepFor(ahead);
    }
  }
  // Windowed runs: one record per partition far past the end moves every
  // task's stream time on, so every window of the real records closes.
  for (const std::string& topic : span > 0 ? topics : std::vector<std::string>{}) {
    auto partitions = (*producer)->PartitionCount(topic, absl::Seconds(30));
    if (!partitions.ok()) return std::fprintf(stderr, "%s\n", partitions.status().ToString().c_str()), 1;
    for (int32_t p = 0; p < *partitions; ++p) {
      absl::Status s = (*producer)->Send({.topic = topic, .partition = Partition(p), .key = kCloseKey, .value = "1",
                                          .timestamp = runnel::Timestamp(base + span + 10 * kWindowMs)});
      if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
    }
  }
  absl::Status flushed = (*producer)->Flush(absl::Seconds(120));
  if (!flushed.ok()) {
    std::fprintf(stderr, "%s\n", flushed.ToString().c_str());
    return 1;
  }
  return 0;
}

// Reads a whole topic from the start with a manual assignment.
class TopicReader {
 public:
  static absl::StatusOr<TopicReader> Open(const std::string& bootstrap, const std::string& topic) {
    auto consumer = runnel::kafka::Consumer::Create({{"bootstrap.servers", bootstrap},
                                                     {"group.id", absl::StrCat("verify-", topic)},
                                                     {"isolation.level", "read_committed"}});
    if (!consumer.ok()) return consumer.status();
    auto partitions = PartitionCount(bootstrap, topic);
    if (!partitions.ok()) return partitions.status();
    std::vector<std::pair<TopicPartition, Offset>> from;
    for (int32_t p = 0; p < *partitions; ++p) from.emplace_back(TopicPartition{topic, Partition(p)}, Offset(-2));
    if (absl::Status s = (*consumer)->AssignAt(from); !s.ok()) return s;
    return TopicReader(*std::move(consumer));
  }
  // Records that arrive within `wait`.
  absl::Status Poll(absl::Duration wait, std::vector<runnel::kafka::ConsumedRecord>& out) {
    out.clear();
    return consumer_->Poll(wait, 50000, out);
  }

 private:
  explicit TopicReader(std::unique_ptr<runnel::kafka::Consumer> c) : consumer_(std::move(c)) {}
  static absl::StatusOr<int32_t> PartitionCount(const std::string& bootstrap, const std::string& topic) {
    auto producer = runnel::kafka::Producer::Create({{"bootstrap.servers", bootstrap}});
    if (!producer.ok()) return producer.status();
    return (*producer)->PartitionCount(topic, absl::Seconds(30));
  }
  std::unique_ptr<runnel::kafka::Consumer> consumer_;
};

// The oracle: every record of the input topics counts once for its key.
absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> ReadOracle(const std::string& bootstrap,
                                                                     const std::string& inputs, int64_t& records) {
  absl::flat_hash_map<std::string, int64_t> oracle;
  records = 0;
  for (absl::string_view topic : absl::StrSplit(inputs, ',', absl::SkipEmpty())) {
    auto input = TopicReader::Open(bootstrap, std::string(topic));
    if (!input.ok()) return input.status();
    std::vector<runnel::kafka::ConsumedRecord> batch;
    for (absl::Time last = Clock::System().Now(); Clock::System().Now() - last < absl::Seconds(3);) {
      if (absl::Status s = input->Poll(absl::Milliseconds(200), batch); !s.ok()) return s;
      if (!batch.empty()) last = Clock::System().Now();
      for (const auto& r : batch) ++oracle[std::string(r.key().value_or(""))], ++records;
    }
  }
  return oracle;
}

int Verify(const std::map<std::string, std::string>& flags) {
  const absl::Duration timeout = absl::Seconds(IntFlag(flags, "timeout-s", 300));
  const absl::Duration quiet = absl::Seconds(IntFlag(flags, "quiet-s", 15));
  const auto guarantee = IntFlag(flags, "at-least-once", 0) != 0 ? runnel_system::Guarantee::kAtLeastOnce
                                                                  : runnel_system::Guarantee::kExactlyOnce;
  const std::string& bootstrap = flags.at("bootstrap");
  int64_t inputs = 0;
  auto counted = ReadOracle(bootstrap, flags.at("input"), inputs);
  if (!counted.ok()) return std::fprintf(stderr, "%s\n", counted.status().ToString().c_str()), 1;
  runnel_system::CountCheck check(*std::move(counted), guarantee);
  auto output = TopicReader::Open(bootstrap, flags.at("output"));
  if (!output.ok()) return std::fprintf(stderr, "%s\n", output.status().ToString().c_str()), 1;
  const absl::Time start = Clock::System().Now();
  absl::Time last_record = start;
  std::vector<runnel::kafka::ConsumedRecord> batch;
  while (!check.Complete()) {
    const absl::Time now = Clock::System().Now();
    if (now - start > timeout || now - last_record > quiet) break;
    if (absl::Status s = output->Poll(absl::Milliseconds(200), batch); !s.ok()) return 1;
    if (!batch.empty()) last_record = Clock::System().Now();
    for (const auto& r : batch) check.Add(r.key().value_or(""), r.value().value_or(""));
  }
  const std::string json = check.Json();
  std::printf("{\"input_records\": %lld, %s\n", static_cast<long long>(inputs), json.c_str() + 1);
  return check.Finish().passed ? 0 : 1;
}

// The windowed run's oracle: per partition, its stream time at the end
// (the close records); every window of every key whose end + grace is
// within it must be in the read_committed output exactly once, as
// "<key>@<start>" -> count, with the count of the input records in it.
int VerifyWindowed(const std::map<std::string, std::string>& flags) {
  const absl::Duration timeout = absl::Seconds(IntFlag(flags, "timeout-s", 300));
  const absl::Duration quiet = absl::Seconds(IntFlag(flags, "quiet-s", 15));
  const std::string& bootstrap = flags.at("bootstrap");
  absl::flat_hash_map<std::string, int64_t> counts;  // "<key>@<start>"
  absl::flat_hash_map<std::string, int32_t> partition_of;
  std::map<int32_t, int64_t> stream_time;
  int64_t inputs = 0;
  // Each reader's records are declared after it: a consumer cannot be
  // destroyed while messages it returned are alive.
  auto input = TopicReader::Open(bootstrap, flags.at("input"));
  if (!input.ok()) return std::fprintf(stderr, "%s\n", input.status().ToString().c_str()), 1;
  std::vector<runnel::kafka::ConsumedRecord> batch;
  for (absl::Time last = Clock::System().Now(); Clock::System().Now() - last < absl::Seconds(3);) {
    if (absl::Status s = input->Poll(absl::Milliseconds(200), batch); !s.ok()) return 1;
    if (!batch.empty()) last = Clock::System().Now();
    for (const auto& r : batch) {
      const int32_t p = r.partition().value();
      const int64_t ts = r.timestamp().value();
      stream_time[p] = std::max(stream_time[p], ts);
      std::string key(r.key().value_or(""));
      if (key == kCloseKey) continue;
      ++inputs;
      std::string window = absl::StrCat(key, "@", ts / kWindowMs * kWindowMs);
      ++counts[window];
      partition_of[window] = p;
    }
  }
  absl::flat_hash_map<std::string, int64_t> expected;
  for (const auto& [window, n] : counts) {
    const int64_t start = std::stoll(window.substr(window.rfind('@') + 1));
    if (start + kWindowMs + kGraceMs <= stream_time[partition_of[window]]) expected[window] = n;
  }
  batch.clear();
  auto output = TopicReader::Open(bootstrap, flags.at("output"));
  if (!output.ok()) return std::fprintf(stderr, "%s\n", output.status().ToString().c_str()), 1;
  std::vector<runnel::kafka::ConsumedRecord> out_batch;
  absl::flat_hash_map<std::string, int64_t> seen;
  int64_t outputs = 0, repeated = 0, wrong = 0, unexpected = 0, found = 0;
  const absl::Time start = Clock::System().Now();
  absl::Time last_record = start;
  while (found < static_cast<int64_t>(expected.size())) {
    const absl::Time now = Clock::System().Now();
    if (now - start > timeout || now - last_record > quiet) break;
    if (absl::Status s = output->Poll(absl::Milliseconds(200), out_batch); !s.ok()) return 1;
    if (!out_batch.empty()) last_record = Clock::System().Now();
    for (const auto& r : out_batch) {
      ++outputs;
      std::string window(r.key().value_or(""));
      int64_t count = 0;
      if (!absl::SimpleAtoi(runnel::ToAbsl(r.value().value_or("")), &count)) count = -1;
      if (!seen.try_emplace(window, count).second) {
        ++repeated;
        continue;
      }
      auto it = expected.find(window);
      if (it == expected.end()) {
        ++unexpected;
      } else if (it->second != count) {
        if (++wrong <= 5) std::fprintf(stderr, "wrong: %s = %lld, want %lld\n", window.c_str(),
                                       static_cast<long long>(count), static_cast<long long>(it->second));
      } else {
        ++found;
      }
    }
  }
  const int64_t missing = static_cast<int64_t>(expected.size()) - found - wrong;
  int64_t shown = 0;
  for (const auto& [window, n] : expected) {
    if (seen.contains(window) || ++shown > 5) continue;
    std::fprintf(stderr, "missing: %s (count %lld, partition %d)\n", window.c_str(), static_cast<long long>(n),
                 partition_of[window]);
  }
  const bool exact = missing == 0 && repeated == 0 && wrong == 0 && unexpected == 0;
  std::printf(
      "{\"input_records\": %lld, \"windows_closed\": %zu, \"output_records\": %lld, \"windows_wrong\": %lld, "
      "\"windows_missing\": %lld, \"repeated_windows\": %lld, \"unexpected_windows\": %lld, \"exact\": %s}\n",
      static_cast<long long>(inputs), expected.size(), static_cast<long long>(outputs),
      static_cast<long long>(wrong), static_cast<long long>(missing), static_cast<long long>(repeated),
      static_cast<long long>(unexpected), exact ? "true" : "false");
  return exact ? 0 : 1;
}

// A Get's answer as a count: not found is 0. False if the value is not a
// count.
bool CountOf(const runnel::query::v1::GetResponse& response, int64_t& count) {
  count = 0;
  return !response.found() || absl::SimpleAtoi(response.value().json(), &count);
}

int QueryCheck(const std::map<std::string, std::string>& flags) {
  namespace v1 = runnel::query::v1;
  const std::string store = flags.contains("store") ? flags.at("store") : "counts";
  const int64_t keys = IntFlag(flags, "keys", 10000);
  const std::filesystem::path stop_file = flags.at("stop-file");
  std::vector<std::string> endpoints = absl::StrSplit(flags.at("endpoints"), ',', absl::SkipEmpty());
  std::vector<std::unique_ptr<v1::QueryService::Stub>> stubs;
  for (const auto& e : endpoints) {
    stubs.push_back(v1::QueryService::NewStub(grpc::CreateChannel(e, grpc::InsecureChannelCredentials())));
  }
  // The highest count answered per key, and what went wrong.
  absl::flat_hash_map<std::string, int64_t> highest;
  // UNAVAILABLE from a Runnel server (a rebalance, a restore: it sends a
  // retry hint) or from gRPC (the instance is down).
  int64_t answered = 0, unavailable = 0, unreachable = 0, deadline = 0, failed = 0, went_back = 0, bad_values = 0;
  std::mt19937_64 rng(7);
  for (uint64_t i = 0; !std::filesystem::exists(stop_file); ++i) {
    v1::GetRequest request;
    request.set_store(store);
    const std::string key = absl::StrCat("k", rng() % static_cast<uint64_t>(keys));
    request.mutable_key()->set_text(key);
    const std::string& endpoint = endpoints[i % endpoints.size()];
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::GetResponse response;
    const grpc::Status status = stubs[i % stubs.size()]->Get(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      ++(context.GetServerTrailingMetadata().contains("retry-after-ms") ? unavailable : unreachable);
      // Kill -9 or a rebalance lasts seconds: no need to spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ++deadline;
      continue;
    }
    if (!status.ok()) {
      if (++failed <= 5) {
        std::fprintf(stderr, "query-check: %s via %s: code %d: %s\n", key.c_str(), endpoint.c_str(),
                     static_cast<int>(status.error_code()), status.error_message().c_str());
      }
      continue;
    }
    ++answered;
    int64_t count = 0;
    if (!CountOf(response, count)) {
      ++bad_values;
      continue;
    }
    auto [it, fresh] = highest.try_emplace(key, count);
    if (!fresh && count < it->second) {
      if (++went_back <= 5) {
        std::fprintf(stderr, "query-check: %s went back from %lld to %lld (via %s, answered by %s%s)\n",
                     key.c_str(), static_cast<long long>(it->second), static_cast<long long>(count),
                     endpoint.c_str(), response.answered_by().endpoint().c_str(),
                     response.answered_by().standby() ? ", a standby" : "");
      }
    }
    it->second = std::max(it->second, count);
  }
  int64_t inputs = 0;
  auto oracle = ReadOracle(flags.at("bootstrap"), flags.at("input"), inputs);
  if (!oracle.ok()) return std::fprintf(stderr, "%s\n", oracle.status().ToString().c_str()), 1;
  int64_t above = 0;
  for (const auto& [key, count] : highest) {
    auto it = oracle->find(key);
    if (count > (it == oracle->end() ? 0 : it->second) && ++above <= 5) {
      std::fprintf(stderr, "query-check: %s answered %lld, above its final count\n", key.c_str(),
                   static_cast<long long>(count));
    }
  }
  // Settled: every key through the routing client, retried while a
  // rebalance or restore is still finishing.
  auto client = runnel::query::Client::Connect(endpoints.front(), {.timeout = absl::Seconds(60)});
  if (!client.ok()) return std::fprintf(stderr, "%s\n", client.status().ToString().c_str()), 1;
  int64_t final_wrong = 0, final_failed = 0;
  for (const auto& [key, want] : *oracle) {
    v1::GetRequest request;
    request.set_store(store);
    request.mutable_key()->set_text(key);
    auto response = (*client)->Get(request);
    int64_t count = 0;
    if (!response.ok()) {
      if (++final_failed <= 5) std::fprintf(stderr, "query-check: final %s: %s\n", key.c_str(),
                                            response.status().ToString().c_str());
    } else if (!CountOf(*response, count) || count != want) {
      if (++final_wrong <= 5) std::fprintf(stderr, "query-check: final %s = %lld, want %lld\n", key.c_str(),
                                           static_cast<long long>(count), static_cast<long long>(want));
    }
  }
  const bool right = answered > 0 && failed == 0 && went_back == 0 && bad_values == 0 && above == 0 &&
                     final_wrong == 0 && final_failed == 0;
  std::printf(
      "{\"answered\": %lld, \"unavailable\": %lld, \"unreachable\": %lld, \"deadline_exceeded\": %lld, "
      "\"failed\": %lld, "
      "\"went_back\": %lld, \"above_final\": %lld, \"bad_values\": %lld, \"final_keys\": %zu, "
      "\"final_wrong\": %lld, \"final_failed\": %lld, \"right\": %s}\n",
      static_cast<long long>(answered), static_cast<long long>(unavailable), static_cast<long long>(unreachable),
      static_cast<long long>(deadline),
      static_cast<long long>(failed), static_cast<long long>(went_back), static_cast<long long>(above),
      static_cast<long long>(bad_values), oracle->size(), static_cast<long long>(final_wrong),
      static_cast<long long>(final_failed), right ? "true" : "false");
  return right ? 0 : 1;
}

// Loopback ports free now: each bound to port 0, reported, then released
// together (so the N differ).
int FreePorts(const std::map<std::string, std::string>& flags) {
  std::vector<int> fds;
  for (int64_t i = 0; i < IntFlag(flags, "count", 1); ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      std::perror("free-ports");
      return 1;
    }
    std::printf("%d\n", ntohs(address.sin_port));
    fds.push_back(fd);
  }
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "free-ports") return FreePorts(Flags(argc, argv));
  if (mode == "produce" || mode == "verify" || mode == "verify-windowed" || mode == "topics" ||
      mode == "query-check") {
    auto flags = Flags(argc, argv);
    std::vector<const char*> required{"bootstrap"};
    if (mode == "produce") required.push_back("topic");
    if (mode == "verify" || mode == "verify-windowed") required.insert(required.end(), {"input", "output"});
    if (mode == "topics") required.push_back("create");
    if (mode == "query-check") required.insert(required.end(), {"input", "endpoints", "stop-file"});
    for (const char* name : required) {
      if (!flags.contains(name)) return std::fprintf(stderr, "--%s is required\n", name), 2;
    }
    if (mode == "topics") return CreateTopics(flags);
    if (mode == "query-check") return QueryCheck(flags);
    if (mode == "verify-windowed") return VerifyWindowed(flags);
    return mode == "produce" ? Produce(flags) : Verify(flags);
  }
  if (mode == "run-windowed") {
    return runnel_apps::RunApp(
        "runnel-keyed-count", argc - 1, argv + 1, {.input = "keyed-input", .output = "keyed-counts"},
        [](const runnel_apps::AppArgs& args) {
          runnel::StreamsBuilder builder;
          builder.Stream(args.input, runnel::Consumed(runnel::serdes::String(), runnel::serdes::String()))
              .GroupByKey()
              .WindowedBy(runnel::TimeWindows::OfSizeAndGrace(absl::Milliseconds(kWindowMs),
                                                              absl::Milliseconds(kGraceMs)))
              .Emit(runnel::EmitStrategy::OnWindowClose())
              .Count(runnel::Materialized<std::string, int64_t>::As("window-counts", runnel::serdes::String(),
                                                                    runnel::serdes::Int64()))
              .ToStream()
              .Map([](const runnel::Windowed<std::string>& w, const int64_t& count) {
                return runnel::KeyValue<std::string, std::string>{absl::StrCat(w.key, "@", w.window.start.value()),
                                                                  absl::StrCat(count)};
              })
              .To(args.output, runnel::Produced(runnel::serdes::String(), runnel::serdes::String()));
          return builder.Build();
        });
  }
  if (mode != "run") {
    std::fprintf(stderr, "usage: runnel-keyed-count run|run-windowed|produce|verify|verify-windowed [flags]\n");
    return 2;
  }
  return runnel_apps::RunApp(
      "runnel-keyed-count", argc - 1, argv + 1, {.input = "keyed-input", .output = "keyed-counts"},
      [](const runnel_apps::AppArgs& args) {
        runnel::StreamsBuilder builder;
        std::vector<std::string> inputs = absl::StrSplit(args.input, ',', absl::SkipEmpty());
        auto consumed = runnel::Consumed(runnel::serdes::String(), runnel::serdes::String());
        auto stream = builder.Stream(inputs.at(0), consumed);
        for (size_t i = 1; i < inputs.size(); ++i) stream = stream.Merge(builder.Stream(inputs[i], consumed));
        stream.GroupByKey()
            .Count(runnel::Materialized<std::string, int64_t>::As("counts", runnel::serdes::String(),
                                                                  runnel::serdes::Int64()))
            .ToStream()
            .MapValues([](const int64_t& count) { return absl::StrCat(count); })
            .To(args.output, runnel::Produced(runnel::serdes::String(), runnel::serdes::String()));
        return builder.Build();
      });
}
