// The "raw librdkafka pipe" contender, no framework: the practical ceiling
// for a Kafka-bound pipeline here.
//   W1: consume -> trivial transform -> produce.
//   W2: consume -> count per key in a hash map (no durability) -> produce
//       (key, count as 8-byte big-endian) for every record.
//
//   raw-pipe --workload W1|W2 --bootstrap B --input T --output T --records N --group G
//
// Same client settings as Runnel's defaults (idempotent lz4 producer,
// linger.ms=5) so the ratio measures the framework, not the tuning. Prints
// one JSON line: records, seconds (first record consumed -> all output
// acknowledged), cpu_seconds, max_rss_kb.

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <chrono>
#include <unordered_map>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

rd_kafka_t* Make(rd_kafka_type_t type, const std::string& bootstrap, const std::string& group) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", err);
      std::exit(2);
    }
  };
  set("bootstrap.servers", bootstrap);
  if (type == RD_KAFKA_CONSUMER) {
    set("group.id", group);
    set("auto.offset.reset", "earliest");
    set("enable.auto.commit", "true");
    set("partition.assignment.strategy", "range");
    // The same fetch-queue setting Runnel's consumer uses (see
    // StreamsConfig::ConsumerConfig): without it librdkafka 2.0.2 idles the
    // fetcher for 1 s whenever 100k records are queued, for both contenders.
    set("queued.min.messages", "500000");
  } else {
    set("enable.idempotence", "true");
    set("linger.ms", "5");
    set("batch.num.messages", "10000");
    set("compression.type", "lz4");
    set("partitioner", "murmur2_random");
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    std::exit(1);
  }
  return rk;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, input, output, group = "w1-raw", workload = "W1";
  long long records = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--input") input = v;
    else if (f == "--output") output = v;
    else if (f == "--records") records = std::stoll(v);
    else if (f == "--group") group = v;
    else if (f == "--workload") workload = v;
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  if (bootstrap.empty() || input.empty() || output.empty() || records <= 0 ||
      (workload != "W1" && workload != "W2" && workload != "W3")) {
    std::fprintf(stderr, "usage: raw-pipe --workload W1|W2 --bootstrap B --input T --output T --records N\n");
    return 2;
  }
  rd_kafka_t* consumer = Make(RD_KAFKA_CONSUMER, bootstrap, group);
  rd_kafka_t* producer = Make(RD_KAFKA_PRODUCER, bootstrap, group);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, input.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);

  long long seen = 0;
  std::string value;
  std::unordered_map<std::string, int64_t> counts;
  std::chrono::steady_clock::time_point start;
  while (seen < records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    // Delivery reports are served in bulk, not per record: the fastest
    // simple pipe, so the ratio is against a real ceiling.
    if ((seen & 1023) == 0) rd_kafka_poll(producer, 0);
    if (m == nullptr) continue;
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    if (seen == 0) start = std::chrono::steady_clock::now();
    ++seen;
    if (workload == "W2" || workload == "W3") {
      // The same result as Runnel's count: the key's running count, on the
      // key's partition. W3 counts per key and 60 s tumbling window (the
      // output key is "<key>@<window start>"), every update sent, no grace
      // or late-record handling (the input is in order).
      std::string counted(static_cast<const char*>(m->key), m->key_len);
      if (workload == "W3") {
        const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
        const std::string start = std::to_string(ts / 60000 * 60000);
        counted.push_back('@');
        counted.append(start);
      }
      int64_t n = ++counts[counted];
      char be[8];
      for (int b = 0; b < 8; ++b) be[b] = static_cast<char>((static_cast<uint64_t>(n) >> (56 - 8 * b)) & 0xff);
      while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(output.c_str()), RD_KAFKA_V_PARTITION(m->partition),
                               RD_KAFKA_V_KEY(counted.data(), counted.size()), RD_KAFKA_V_VALUE(be, sizeof be),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_TIMESTAMP(rd_kafka_message_timestamp(m, nullptr)),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer, 10);
      }
    } else if (m->len > 0) {
      // The same transform as the Runnel contender: keep non-empty values,
      // upper-case the first byte.
      value.assign(static_cast<const char*>(m->payload), m->len);
      value[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(value[0])));
      while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(output.c_str()),
                               RD_KAFKA_V_KEY(m->key, m->key_len),
                               RD_KAFKA_V_VALUE(value.data(), value.size()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_TIMESTAMP(rd_kafka_message_timestamp(m, nullptr)),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer, 10);
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_flush(producer, 120000);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("{\"contender\":\"raw\",\"records\":%lld,\"seconds\":%.3f,\"cpu_seconds\":%.3f,"
              "\"max_rss_kb\":%ld}\n",
              seen, seconds, cpu, usage.ru_maxrss);
  return 0;
}
