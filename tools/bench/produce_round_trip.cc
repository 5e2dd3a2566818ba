// The ceiling of any HTTP ingest that answers after Kafka's acknowledgement:
// raw librdkafka, no HTTP, no framework, N records in flight in a closed
// loop. Each of N "clients" produces one seed-sized record (acks=all,
// idempotent, linger.ms=0, the gateway's producer settings) and produces its
// next one as soon as the delivery report of the previous one arrives, as a
// keep-alive HTTP client does with its next request after the 202. So the
// rate is N / (produce round trip + report hand-off), the bound W8's gateway
// meets at N connections minus its HTTP work.
//
// Delivery reports are served on this program's main thread (rd_kafka_poll),
// the shortest path librdkafka offers (broker thread -> poller), which is
// the gateway's path with deliveries.on.io.threads=false minus the HTTP
// write; the next record is produced from inside the report callback.
//
//   produce-round-trip --bootstrap B --topic T --in-flight N --seconds S [--warmup W]
//
// Prints one JSON line: {"produce":{"in_flight":N,"requests":..,"seconds":..,
// "rate":..,"p50_ms":..,"p99_ms":..,"errors":..}} (requests and latencies
// after the warm-up only).

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "produce-round-trip: %s\n", why.c_str());
  std::exit(1);
}

// All state lives on the main thread: the report callback runs inside
// rd_kafka_poll there.
struct Loop {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  std::vector<SteadyClock::time_point> sent_at;  // per client
  std::vector<int64_t> latencies_us;             // after the warm-up
  SteadyClock::time_point measure_from, stop_at;
  int64_t requests = 0, errors = 0, in_flight = 0;
  std::string value;

  void Send(size_t client) {
    const std::string key = "sensor" + std::to_string(client % 16);
    sent_at[client] = SteadyClock::now();
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value.data(), value.size(), key.data(),
                         key.size(), reinterpret_cast<void*>(client)) != 0) {
      Die(std::string("produce: ") + rd_kafka_err2str(rd_kafka_last_error()));
    }
    ++in_flight;
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Loop*>(opaque);
    const auto client = reinterpret_cast<size_t>(m->_private);
    const auto now = SteadyClock::now();
    --self->in_flight;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++self->errors;
    } else if (self->sent_at[client] >= self->measure_from) {
      ++self->requests;
      self->latencies_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(now - self->sent_at[client]).count());
    }
    if (now < self->stop_at) self->Send(client);
  }
};

double PercentileMs(std::vector<int64_t>& v, double q) {
  if (v.empty()) return -1;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, topic;
  long in_flight = 8;
  double seconds = 10, warmup = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--bootstrap") bootstrap = v;
    else if (f == "--topic") topic = v;
    else if (f == "--in-flight") in_flight = std::stol(v);
    else if (f == "--seconds") seconds = std::stod(v);
    else if (f == "--warmup") warmup = std::stod(v);
    else Die("unknown flag " + f);
  }
  if (bootstrap.empty() || topic.empty() || in_flight < 1 || seconds <= 0 || warmup < 0) {
    Die("usage: --bootstrap B --topic T --in-flight N --seconds S [--warmup W]");
  }
  Loop loop;
  // A reading as the gateway writes it (~150 bytes).
  loop.value =
      R"({"sensor_id":"sensor01","timestamp":"2026-12-07T12:00:00.000Z","type":"temperature","value":21.5,)"
      R"("unit":"C","location":"lab","seq":0000000000})";
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  };
  set("bootstrap.servers", bootstrap);
  set("enable.idempotence", "true");
  set("acks", "all");
  set("linger.ms", "0");
  set("partitioner", "murmur2_random");
  rd_kafka_conf_set_dr_msg_cb(conf, &Loop::OnDelivery);
  rd_kafka_conf_set_opaque(conf, &loop);
  loop.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (loop.rk == nullptr) Die(err);
  loop.rkt = rd_kafka_topic_new(loop.rk, topic.c_str(), nullptr);
  loop.sent_at.resize(static_cast<size_t>(in_flight));

  const auto start = SteadyClock::now();
  loop.measure_from = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(warmup));
  loop.stop_at = loop.measure_from + std::chrono::duration_cast<SteadyClock::duration>(
                                         std::chrono::duration<double>(seconds));
  for (size_t c = 0; c < loop.sent_at.size(); ++c) loop.Send(c);
  while (loop.in_flight > 0) rd_kafka_poll(loop.rk, 100);
  const double measured = std::chrono::duration<double>(loop.stop_at - loop.measure_from).count();
  const double p50 = PercentileMs(loop.latencies_us, 0.50), p99 = PercentileMs(loop.latencies_us, 0.99);
  std::printf(
      "{\"produce\":{\"in_flight\":%ld,\"requests\":%lld,\"seconds\":%.3f,\"rate\":%.1f,\"p50_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"errors\":%lld}}\n",
      in_flight, static_cast<long long>(loop.requests), measured, static_cast<double>(loop.requests) / measured, p50,
      p99, static_cast<long long>(loop.errors));
  rd_kafka_topic_destroy(loop.rkt);
  rd_kafka_destroy(loop.rk);
  return loop.errors == 0 ? 0 : 1;
}
