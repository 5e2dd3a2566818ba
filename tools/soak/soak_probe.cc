// soak-probe: the Kafka side of tools/soak. Sends sensor-stats' readings
// ({"sensor":"s-0042","temp_f":71.3}, key = sensor) to --input at a steady
// --rate, each stamped with the wall clock at its send (CreateTime), while
// tailing --output from its end; sensor-stats stamps each update with its
// newest reading's timestamp, so receive time - timestamp is the whole path
// (send, processing, record cache, commit interval, delivery).
//
//   soak-probe --bootstrap B --input T --output T --rate R [--keys 1000]
//              [--report-seconds 10]
//
// Runs until SIGTERM or SIGINT (then the unfinished windows' lines). Every
// --report-seconds, and every minute, one
// JSON line (latency_windows.h) with the window's latency percentiles and
// `sent` / `received` (totals since the start) and `behind` (records the
// fixed schedule is ahead of the sends: the producer could not keep up).
// The send schedule is fixed (record i is due at start + i / rate), so a
// stall is caught up rather than lowering the offered load. Exit 1 on a
// Kafka error that stops it (no metadata, a failed delivery).

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "latency_windows.h"

namespace {

std::atomic<bool> stop{false};
std::atomic<long long> failed_deliveries{0};

void OnSignal(int) { stop.store(true); }

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "soak-probe: %s\n", why.c_str());
  std::exit(1);
}

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err) failed_deliveries.fetch_add(1);
}

rd_kafka_t* Make(rd_kafka_type_t type, const std::string& bootstrap) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  };
  set("bootstrap.servers", bootstrap);
  if (type == RD_KAFKA_CONSUMER) {
    set("group.id", "soak-probe");  // assigned, never joined nor committed to
    set("enable.auto.commit", "false");
    set("fetch.wait.max.ms", "10");
  } else {
    set("linger.ms", "5");
    set("enable.idempotence", "true");
    set("partitioner", "murmur2_random");
    rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) Die(err);
  return rk;
}

// Every partition of `topic`, assigned to `consumer` from its end (the
// topic must exist: sensor-stats creates nothing, tools/soak does).
void AssignAtEnd(rd_kafka_t* consumer, const std::string& topic) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(consumer, 0, rkt, &md, 30000);
  if (err || md->topic_cnt != 1 || md->topics[0].err) Die("no metadata for topic " + topic);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
  for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_poll_set_consumer(consumer);
  if ((err = rd_kafka_assign(consumer, list))) Die(std::string("assign: ") + rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(list);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, input, output;
  double rate = 0, report_seconds = 10;
  long long keys = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--input") input = v;
    else if (f == "--output") output = v;
    else if (f == "--rate") rate = std::atof(v.c_str());
    else if (f == "--keys") keys = std::atoll(v.c_str());
    else if (f == "--report-seconds") report_seconds = std::atof(v.c_str());
    else Die("unknown flag " + f);
  }
  if (bootstrap.empty() || input.empty() || output.empty() || !(rate > 0) || keys <= 0 || !(report_seconds > 0)) {
    std::fprintf(stderr,
                 "usage: soak-probe --bootstrap B --input T --output T --rate R (> 0) [--keys K (> 0)] "
                 "[--report-seconds S (> 0)]\n");
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  rd_kafka_t* consumer = Make(RD_KAFKA_CONSUMER, bootstrap);
  AssignAtEnd(consumer, output);
  rd_kafka_t* producer = Make(RD_KAFKA_PRODUCER, bootstrap);

  std::atomic<long long> sent{0}, behind{0};
  // The sender: every millisecond, sends what the schedule says is due.
  std::thread sender([&] {
    std::mt19937_64 rng(42);
    const auto t0 = std::chrono::steady_clock::now();
    long long i = 0;
    char key[32], value[96];
    while (!stop.load()) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto due = static_cast<long long>(elapsed * rate);
      for (; i < due && !stop.load(); ++i) {
        const int k = std::snprintf(key, sizeof key, "s-%04lld", static_cast<long long>(rng() % keys));
        const int n = std::snprintf(value, sizeof value, "{\"sensor\":\"%s\",\"temp_f\":%.1f}", key,
                                    30.0 + static_cast<double>(rng() % 700) / 10.0);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(input.c_str()), RD_KAFKA_V_KEY(key, k),
                                        RD_KAFKA_V_VALUE(value, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_TIMESTAMP(runnel_soak::WallMs()), RD_KAFKA_V_END)) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL &&
               !stop.load()) {
          rd_kafka_poll(producer, 10);
        }
        if (err && err != RD_KAFKA_RESP_ERR__QUEUE_FULL) Die(std::string("produce: ") + rd_kafka_err2str(err));
        sent.fetch_add(1);
      }
      behind.store(due - i);
      rd_kafka_poll(producer, 1);
    }
    if (rd_kafka_flush(producer, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "soak-probe: records still unsent after 30 s\n");
    }
  });

  runnel_soak::LatencyWindow short_window("short", static_cast<int64_t>(report_seconds * 1000));
  runnel_soak::LatencyWindow minute_window("minute", 60'000);
  long long received = 0;
  while (!stop.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    const int64_t now = runnel_soak::WallMs();
    if (m != nullptr) {
      if (!m->err) {
        ++received;
        const int64_t latency_us = (now - rd_kafka_message_timestamp(m, nullptr)) * 1000;
        short_window.Add(latency_us);
        minute_window.Add(latency_us);
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        short_window.CountError();
        minute_window.CountError();
      }
      rd_kafka_message_destroy(m);
    }
    const std::string extra = ",\"sent\":" + std::to_string(sent.load()) + ",\"received\":" +
                              std::to_string(received) + ",\"behind\":" + std::to_string(behind.load()) +
                              ",\"failed_deliveries\":" + std::to_string(failed_deliveries.load());
    short_window.MaybeReport(now, extra);
    minute_window.MaybeReport(now, extra);
  }
  const std::string extra = ",\"sent\":" + std::to_string(sent.load()) + ",\"received\":" + std::to_string(received);
  short_window.Flush(runnel_soak::WallMs(), extra);
  minute_window.Flush(runnel_soak::WallMs(), extra);
  sender.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  std::printf("{\"window\":\"total\",\"sent\":%lld,\"received\":%lld,\"failed_deliveries\":%lld}\n", sent.load(),
              received, failed_deliveries.load());
  return failed_deliveries.load() == 0 ? 0 : 1;
}
