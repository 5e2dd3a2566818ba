#ifndef RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_
#define RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_

// IngestPipeline: gets the records of one HTTP request durably into Kafka
// and says so, or says it could not, within a deadline.
//
// kafka::Producer reports deliveries through one callback per producer,
// with no per-record tag. So the pipeline commits in groups: it owns a few
// producers (each with one worker thread) and a worker takes every request
// waiting in the queue, sends all their records through its own producer
// and waits until that producer has had a delivery report for every record
// it was ever given. Only then are the requests of the group done: all OK
// if no delivery failed since the group started, otherwise all Unavailable.
// No request is ever told OK unless each of its records was acknowledged
// (acks=all, idempotent producer); a group that fails may have stored some
// records (at-least-once: the client retries after its 503, a record may
// appear twice, none is lost). While one worker waits for its acks, the
// others take the requests that arrived meanwhile, so the groups pipeline.
//
// Deadline: a request that waited in the queue past its deadline fails
// without anything being sent; a group whose acks do not all come by the
// earliest deadline among its requests fails (its producer stays "dirty"
// until those reports come in, failing the groups that follow it there
// until then, conservatively).
//
// Ownership: the Gateway owns the pipeline; the pipeline owns its producers
// and worker threads. Thread-safety: Submit from any thread; `done` is
// called on a worker thread (or inline, when refused at once) and must be
// quick. Lifecycle: Create -> Submit... -> Stop (fails what is still queued
// with Unavailable, joins the workers, flushes and closes the producers).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <atomic>
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
  // One producer and its worker; the counters are bumped by the producer's
  // delivery callback (its poller thread) and read by the worker.
  struct Slot {
    std::unique_ptr<runnel::kafka::Producer> producer;
    std::mutex mu;
    std::condition_variable delivered_cv;
    int64_t sent = 0;       // records accepted by Send (worker only writes)
    int64_t delivered = 0;  // delivery reports received, either way
    int64_t failed = 0;     // delivery reports with an error
    std::thread worker;
  };

  IngestPipeline(IngestOptions options, const runnel::Clock& clock);
  void Work(Slot& slot);
  // Sends the group's records; returns each request's send status.
  std::vector<absl::Status> SendGroup(Slot& slot, std::vector<Request>& group);

  const IngestOptions options_;
  const runnel::Clock& clock_;
  std::vector<std::unique_ptr<Slot>> slots_;

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Request> queue_;
  bool stopping_ = false;

  std::atomic<int64_t> groups_{0}, groups_failed_{0}, records_sent_{0}, delivery_failures_{0};
};

}  // namespace runnel_apps::gateway

#endif  // RUNNEL_APPS_SENSOR_GATEWAY_INGEST_H_
