#ifndef RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_
#define RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_

// IngestPipeline: gets the records of one HTTP request durably into Kafka
// and says so, or says it could not, within a deadline.
//
// kafka::Producer reports deliveries through one callback per producer,
// with no per-record tag. So the pipeline commits in groups: it owns a few
// producers ("slots"); a free slot takes every request waiting in the queue
// (a group), sends all their records through its producer and is done when
// that producer has had a delivery report for every record it was ever
// given. Then all requests of the group are OK if no delivery failed since
// the group started, otherwise all Unavailable. No request is ever told OK
// unless each of its records was acknowledged (acks=all, idempotent
// producer); a group that fails may have stored some records (at-least-once:
// the client retries after its 503, a record may appear twice, none is
// lost). While one slot waits for its acks, requests queue for the next free
// slot, so groups pipeline.
//
// No thread of its own on the hot path: a group is started by the thread
// that submits into an idle pipeline (an HTTP I/O thread) or by the
// delivery callback that completes the slot's previous group, which also
// answers the group's requests. With IngestOptions::post that callback runs
// on an HTTP I/O thread too (librdkafka's broker thread -> I/O thread, one
// hop), else on the producer's poller thread (broker -> poller -> I/O). Send
// never waits for queue space (a full librdkafka queue is a 503 at once), so
// neither thread blocks. A watchdog thread fails groups whose acks did not
// come by their deadline (the earliest among their requests); that slot
// stays "dirty" until the missing reports arrive, failing the groups after
// it there until then, conservatively. Requests whose deadline passed while
// queued fail without anything being sent.
//
// Ownership: the Gateway owns the pipeline; the pipeline owns its producers
// and the watchdog. Thread-safety: Submit from any thread; `done` runs on
// the thread that finishes the group (see above) or inline in Submit, and
// must be quick. Lifecycle: Create -> Submit... -> Stop (refuses new
// requests, waits for groups in flight up to their deadlines, flushes and
// closes the producers).

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
  int producers = 2;
  // Requests queued (not yet taken by a worker) beyond this are refused
  // at once with Unavailable.
  size_t max_queued_requests = 10'000;
  // Records one group sends at most (a larger request still goes whole).
  size_t max_group_records = 20'000;
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

  // Queues the records of one request; `done` gets OK once every one is
  // durable, Unavailable when Kafka could not take them by `deadline` (or
  // the queue is full, or the pipeline stopped).
  void Submit(std::vector<ReadingRecord> records, absl::Time deadline, Done done);
  void Stop();

  // For readiness checks: the partition count of the topic, through the
  // first producer's metadata (NotFound: no such topic).
  absl::StatusOr<int32_t> PartitionCount(absl::Duration timeout);

  struct Stats {
    int64_t groups = 0;
    int64_t groups_failed = 0;
    int64_t records_sent = 0;
    int64_t delivery_failures = 0;
  };
  Stats stats() const;

 private:
  struct Request {
    std::vector<ReadingRecord> records;
    absl::Time deadline;
    Done done;
  };
  // One producer and the group it has in flight. Counters are bumped by
  // the producer's delivery callback.
  struct Slot {
    // Reset under serve_mu by Stop (posted ServeDeliveries calls may race it).
    std::unique_ptr<runnel::kafka::Producer> producer;
    std::mutex serve_mu;
    std::mutex mu;
    int64_t sent = 0;       // records accepted by Send
    int64_t delivered = 0;  // delivery reports received, either way
    int64_t failed = 0;     // delivery reports with an error
    // The group in flight (empty: none), and what completes it.
    std::vector<Request> group;
    std::vector<absl::Status> send_status;
    int64_t target = 0;
    int64_t failed_before = 0;
    absl::Time deadline;
  };

  IngestPipeline(IngestOptions options, const runnel::Clock& clock);
  // Runs groups on `slot` (starting with `group`) until the queue is empty
  // or a group waits for acks; then the slot is left busy (acks pending) or
  // idle.
  void RunGroups(Slot& slot, std::vector<Request> group);
  // Takes the next group from the queue; caller holds mu_.
  std::vector<Request> TakeGroupLocked();
  void OnDelivery(Slot& slot, const absl::Status& status);
  // With options_.post: runs the slot's waiting delivery reports here.
  static void ServeDeliveries(Slot& slot);
  // Answers every request of a finished group (and counts it).
  void Complete(std::vector<Request>& group, const std::vector<absl::Status>& sends, const absl::Status& status);
  static void Finish(std::vector<Request>& group, const std::vector<absl::Status>& sends, const absl::Status& status);
  // After a group: the next one from the queue, or the slot goes idle.
  void Continue(Slot& slot);
  void Watchdog();

  const IngestOptions options_;
  const runnel::Clock& clock_;
  std::vector<std::unique_ptr<Slot>> slots_;

  std::mutex mu_;
  std::condition_variable cv_;  // the watchdog's tick and Stop's wait
  std::deque<Request> queue_;
  std::vector<Slot*> idle_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread watchdog_;

  std::atomic<int64_t> groups_{0}, groups_failed_{0}, records_sent_{0}, delivery_failures_{0};
};

}  // namespace runnel_apps::gateway

#endif  // RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_
