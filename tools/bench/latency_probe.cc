// End-to-end latency at a fixed offered load, for tools/bench/run: sends
// --rate records per second to --input for --seconds (each stamped with the
// wall clock at its send, CreateTime) while tailing --output, and measures
// each output record's receive time minus its timestamp. The contenders
// stamp a result with the timestamp of the input record that produced it
// (an aggregate's: the newest of its records'), so that is the time from
// the input's send to the result being readable by a consumer, the cache
// and the commit interval included. Outputs stamped in the first --warmup
// seconds are not measured (the contender's start-up and catch-up).
//
//   latency-probe --bootstrap B --input T --output T --rate R --seconds S
//                 [--warmup S] [--keys K] [--value-bytes N] [--value-number 1]
//
// Keys "key-%08d" uniform over --keys (default 10,000), values of
// --value-bytes random letters (default 100); --value-number 1 starts each
// with a 9-digit number (produce-bench's --value-number, for W3m/W3h). Runs
// until SIGTERM or SIGINT (the harness sends it once the contender, which
// stops after rate x seconds input records, has exited), then prints one
// JSON line: sent, send_seconds (how long the sends took: more than
// --seconds means the producer could not keep the rate), received,
// measured, p50_ms, p99_ms, max_ms.

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop{false};

void OnSignal(int) { stop.store(true); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "latency-probe: %s\n", why.c_str());
  std::exit(1);
}

rd_kafka_t* Make(rd_kafka_type_t type, const std::string& bootstrap) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  };
  set("bootstrap.servers", bootstrap);
  if (type == RD_KAFKA_CONSUMER) {
    // Assigned, not subscribed: the id is never joined nor committed to.
    set("group.id", "latency-probe");
    set("enable.auto.commit", "false");
    set("fetch.wait.max.ms", "10");
  } else {
    // Each record on its way at once: the probe's own batching would add
    // to every contender's latency alike.
    set("linger.ms", "0");
    set("enable.idempotence", "true");
    set("partitioner", "murmur2_random");
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) Die(err);
  return rk;
}

// Every partition of `topic`, assigned to `consumer` from the beginning.
void AssignAll(rd_kafka_t* consumer, const std::string& topic) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(consumer, 0, rkt, &md, 30000);
  if (err || md->topic_cnt != 1 || md->topics[0].err) Die("no metadata for " + topic);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
  for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_poll_set_consumer(consumer);
  if ((err = rd_kafka_assign(consumer, list))) Die(std::string("assign: ") + rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(list);
}

double Percentile(std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return -1;
  return static_cast<double>(sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, input, output;
  double rate = 0, seconds = 0, warmup = 0;
  long long keys = 10000, value_bytes = 100;
  bool value_number = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--input") input = v;
    else if (f == "--output") output = v;
    else if (f == "--rate") rate = std::stod(v);
    else if (f == "--seconds") seconds = std::stod(v);
    else if (f == "--warmup") warmup = std::stod(v);
    else if (f == "--keys") keys = std::stoll(v);
    else if (f == "--value-bytes") value_bytes = std::stoll(v);
    else if (f == "--value-number") value_number = v == "1";
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  if (bootstrap.empty() || input.empty() || output.empty() || rate <= 0 || seconds <= 0 || keys <= 0 ||
      value_bytes < 9 || warmup < 0 || warmup >= seconds) {
    std::fprintf(stderr,
                 "usage: latency-probe --bootstrap B --input T --output T --rate R --seconds S [--warmup S < S] "
                 "[--keys K] [--value-bytes N >= 9] [--value-number 1]\n");
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  rd_kafka_t* consumer = Make(RD_KAFKA_CONSUMER, bootstrap);
  AssignAll(consumer, output);
  rd_kafka_t* producer = Make(RD_KAFKA_PRODUCER, bootstrap);

  const long long total = static_cast<long long>(rate * seconds);
  const int64_t start_ms = NowMs();
  const int64_t measured_from_ms = start_ms + static_cast<int64_t>(warmup * 1000);
  std::atomic<double> send_seconds{-1};
  std::atomic<long long> sent{0};
  // The sender: record i leaves at start + i / rate (a fixed schedule, so a
  // stall is caught up at once rather than lowering the offered load).
  std::thread sender([&] {
    std::mt19937_64 rng(42);
    std::string key, value(static_cast<size_t>(value_bytes), 'x');
    const auto t0 = std::chrono::steady_clock::now();
    for (long long i = 0; i < total && !stop.load(); ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::duration<double>(i / rate));
      char buf[16];
      std::snprintf(buf, sizeof buf, "key-%08d", static_cast<int>(rng() % keys));
      key = buf;
      for (char& c : value) c = static_cast<char>('a' + rng() % 26);
      if (value_number) {
        std::snprintf(buf, sizeof buf, "%09d", static_cast<int>(rng() % 1000000000));
        value.replace(0, 9, buf);
      }
      while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(input.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                               RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_TIMESTAMP(NowMs()), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer, 10);
      }
      rd_kafka_poll(producer, 0);
      sent.fetch_add(1);
    }
    if (rd_kafka_flush(producer, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "latency-probe: records still unsent after 60 s\n");
    }
    send_seconds.store(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  });

  std::vector<int64_t> latencies;
  long long received = 0;
  while (!stop.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (!m->err) {
      ++received;
      const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
      if (ts >= measured_from_ms) latencies.push_back(NowMs() - ts);
    }
    rd_kafka_message_destroy(m);
  }
  stop.store(true);
  sender.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  std::sort(latencies.begin(), latencies.end());
  std::printf("{\"sent\":%lld,\"send_seconds\":%.3f,\"received\":%lld,\"measured\":%zu,\"p50_ms\":%.0f,"
              "\"p99_ms\":%.0f,\"max_ms\":%.0f}\n",
              sent.load(), send_seconds.load(), received, latencies.size(), Percentile(latencies, 0.5),
              Percentile(latencies, 0.99), latencies.empty() ? -1.0 : static_cast<double>(latencies.back()));
  return 0;
}
