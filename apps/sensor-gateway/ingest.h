#ifndef RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_
#define RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_

// IngestPipeline: gets the records of one HTTP request durably into Kafka
// and says so, or says it could not, within a deadline.
//
// Every record is sent at once, tagged with its request
// (kafka::OutgoingRecord::tag), and every delivery report finds its request
// by that tag: a request is answered OK when the last of its records has
// had a successful report (acks=all, idempotent producer), Unavailable as
// soon as one of them failed, could not be sent (librdkafka's queue full:
// Send never waits) or was not acknowledged by the request's deadline. No
// request is ever told OK unless each of its records was acknowledged; one
// told Unavailable may have stored some records (at-least-once: the client
// retries after its 503, a record may appear twice, none is lost). Requests
// do not wait for each other: as many are in flight as clients send, and
// librdkafka batches whatever records are waiting into each produce request.
//
// No thread of its own on the hot path: the HTTP I/O thread that submits a
// request sends its records, and the thread that serves its last delivery
// report answers it. With IngestOptions::post that is an HTTP I/O thread too
// (librdkafka's broker thread -> I/O thread, one hop), else the producer's
// poller thread (broker -> poller -> I/O). A watchdog thread answers
// requests whose deadline passed (Unavailable) and frees answered ones.
//
// Ownership: the Gateway owns the pipeline; the pipeline owns its producers
// and the watchdog. A request in flight is freed by whoever drops its last
// reference: one per record sent (its delivery report) and one held by the
// watchdog's list. Thread-safety: Submit from any thread; `done` runs once,
// on the thread that answers (see above) or inline in Submit, and must be
// quick. Lifecycle: Create -> Submit... -> Stop (refuses new requests, waits
// for those in flight up to their deadlines, flushes and closes the
// producers).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reading.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/client_config.h"
#include "runnel/kafka/producer.h"

namespace runnel_apps::gateway {

struct IngestOptions {
  std::string topic;
  // librdkafka settings for every producer (bootstrap.servers, ...).
  runnel::kafka::ClientConfig producer_config;
  // Producers; requests are spread over them in turn. One keeps up with
  // the HTTP side on this project's machines (docs/benchmarks.md, W8).
  int producers = 1;
  // Requests in flight (submitted, not yet answered) beyond this are
  // refused at once with Unavailable.
  size_t max_queued_requests = 10'000;
  // Where delivery reports are served. Unset: each producer's own poller
  // thread. Set: `post(fn)` runs `fn` soon on an event-loop thread (the
  // HTTP I/O threads), or answers false when it cannot (not yet started,
  // stopped); the watchdog serves them on its next tick either way, so a
  // dropped `fn` only delays. Functions posted must not run after the
  // pipeline is destroyed.
  std::function<bool(absl::AnyInvocable<void()>)> post;
};

class IngestPipeline {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;

  static absl::StatusOr<std::unique_ptr<IngestPipeline>> Create(IngestOptions options, const runnel::Clock& clock);
  ~IngestPipeline();

  // Sends the records of one request; `done` gets OK once every one is
  // durable, Unavailable when Kafka could not take them by `deadline` (or
  // too many requests are in flight, or the pipeline stopped).
  void Submit(std::vector<ReadingRecord> records, absl::Time deadline, Done done);
  void Stop();

  // For readiness checks: the partition count of the topic, through the
  // first producer's metadata (NotFound: no such topic).
  absl::StatusOr<int32_t> PartitionCount(absl::Duration timeout);

  struct Stats {
    int64_t requests = 0;         // answered
    int64_t requests_failed = 0;  // answered Unavailable after being accepted for sending
    int64_t records_sent = 0;
    int64_t delivery_failures = 0;
  };
  Stats stats() const;

 private:
  struct Request {
    Done done;
    absl::Time deadline;
    std::atomic<int64_t> pending{0};   // records without a delivery report yet
    std::atomic<int64_t> failures{0};  // delivery reports with an error
    std::atomic<bool> answered{false};
    std::atomic<int64_t> refs{0};
  };
  struct Slot {
    // Reset under serve_mu by Stop (posted ServeDeliveries calls may race it).
    std::unique_ptr<runnel::kafka::Producer> producer;
    std::mutex serve_mu;
  };

  IngestPipeline(IngestOptions options, const runnel::Clock& clock);
  void OnDelivery(const runnel::kafka::DeliveryReport& report);
  // Answers `r` with `status` unless it was answered already.
  void Answer(Request& r, const absl::Status& status);
  // Drops `n` references to `r`; the last one frees it.
  static void Release(Request* r, int64_t n);
  // With options_.post: runs the slot's waiting delivery reports here.
  static void ServeDeliveries(Slot& slot);
  void Watchdog();

  const IngestOptions options_;
  const runnel::Clock& clock_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<uint64_t> next_slot_{0};

  std::mutex mu_;
  std::condition_variable cv_;  // the watchdog's tick and Stop's wait
  // Every request not yet released by the watchdog, in submission order
  // (which is deadline order: each deadline is its submission time plus
  // the same timeout).
  std::deque<Request*> requests_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::thread watchdog_;

  std::atomic<int64_t> unanswered_{0};
  std::atomic<int64_t> answered_{0}, failed_{0}, records_sent_{0}, delivery_failures_{0};
};

}  // namespace runnel_apps::gateway

#endif  // RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_
