#include "ingest.h"

#include <chrono>
#include <cstdint>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"

namespace runnel_apps::gateway {
namespace {

uint64_t TagOf(const void* request) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(request)); }

}  // namespace

IngestPipeline::IngestPipeline(IngestOptions options, const runnel::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<IngestPipeline>> IngestPipeline::Create(IngestOptions options,
                                                                       const runnel::Clock& clock) {
  if (options.producers < 1) return absl::InvalidArgumentError("the pipeline needs at least one producer");
  std::unique_ptr<IngestPipeline> pipeline(new IngestPipeline(std::move(options), clock));
  IngestPipeline* p = pipeline.get();
  for (int i = 0; i < p->options_.producers; ++i) {
    auto slot = std::make_unique<Slot>();
    Slot* s = slot.get();
    runnel::kafka::ProducerOptions producer_options{
        .on_delivery = [p](const runnel::kafka::DeliveryReport& report) { p->OnDelivery(report); },
        .clock = &p->clock_};
    if (p->options_.post) {
      // On librdkafka's broker thread: only schedule.
      producer_options.deliveries_ready = [p, s] { p->options_.post([s] { ServeDeliveries(*s); }); };
    }
    auto producer = runnel::kafka::Producer::Create(p->options_.producer_config, std::move(producer_options));
    if (!producer.ok()) {
      for (auto& made : p->slots_) made->producer.reset();
      return runnel::Annotate(producer.status(), "creating the Kafka producer");
    }
    slot->producer = *std::move(producer);
    p->slots_.push_back(std::move(slot));
  }
  p->watchdog_ = std::thread([p] { p->Watchdog(); });
  return pipeline;
}

IngestPipeline::~IngestPipeline() { Stop(); }

void IngestPipeline::Submit(std::vector<ReadingRecord> records, absl::Time deadline, Done done) {
  if (records.empty()) {
    done(absl::OkStatus());
    return;
  }
  const auto count = static_cast<int64_t>(records.size());
  auto* r = new Request;
  r->deadline = deadline;
  r->pending.store(count, std::memory_order_relaxed);
  r->refs.store(count + 1, std::memory_order_relaxed);  // each record's report, and the watchdog's list
  absl::Status refused;
  {
    // Under mu_ with Stop's stopping_: a request Stop does not wait for is
    // never sent.
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t waiting = unanswered_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) {
      refused = absl::UnavailableError("the gateway is shutting down");
    } else if (waiting >= static_cast<int64_t>(options_.max_queued_requests)) {
      refused = absl::UnavailableError(
          absl::StrCat(waiting, " requests already wait for Kafka (max.queued.requests)"));
    } else {
      unanswered_.fetch_add(1, std::memory_order_acq_rel);
      r->done = std::move(done);
      requests_.push_back(r);
    }
  }
  if (!refused.ok()) {
    delete r;
    done(std::move(refused));
    return;
  }
  Slot& slot = *slots_[next_slot_.fetch_add(1, std::memory_order_relaxed) % slots_.size()];
  int64_t sent = 0;
  for (const ReadingRecord& record : records) {
    // Never waits for queue space: this is an HTTP I/O thread.
    refused = slot.producer->Send({.topic = options_.topic,
                                   .key = record.key,
                                   .value = record.value,
                                   .timestamp = runnel::Timestamp(record.timestamp_ms),
                                   .tag = TagOf(r)},
                                  absl::ZeroDuration());
    if (!refused.ok()) break;
    ++sent;
  }
  records_sent_.fetch_add(sent, std::memory_order_relaxed);
  if (sent < count) {
    // The records not sent get no report: their references go here, and
    // the request can no longer be answered OK.
    Answer(*r, absl::UnavailableError(absl::StrCat("Kafka refused a record: ", refused.message())));
    Release(r, count - sent);
  }
}

void IngestPipeline::OnDelivery(const runnel::kafka::DeliveryReport& report) {
  auto* r = reinterpret_cast<Request*>(static_cast<uintptr_t>(report.tag));
  if (!report.status.ok()) {
    delivery_failures_.fetch_add(1, std::memory_order_relaxed);
    r->failures.fetch_add(1, std::memory_order_relaxed);
  }
  // acq_rel: the last report sees every failure counted before it.
  if (r->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const int64_t failures = r->failures.load(std::memory_order_relaxed);
    Answer(*r, failures > 0 ? absl::UnavailableError(absl::StrCat("Kafka failed to store ", failures,
                                                                  " record(s) of the request"))
                            : absl::OkStatus());
  } else if (!report.status.ok()) {
    // No need to wait for the others: the answer is a 503 either way.
    Answer(*r, absl::UnavailableError(absl::StrCat("Kafka failed to store a record of the request: ",
                                                   report.status.message())));
  }
  Release(r, 1);
}

void IngestPipeline::Answer(Request& r, const absl::Status& status) {
  if (r.answered.exchange(true, std::memory_order_acq_rel)) return;
  answered_.fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    static runnel::RateLimiter limiter(5'000);
    int64_t suppressed = 0;
    if (limiter.Allow(clock_.NowMillis().value(), &suppressed)) {
      runnel::Logger("sensor-gateway")
          ->warn("a request answered 503: {} ({} similar messages suppressed)", std::string(status.message()),
                 suppressed);
    }
  }
  Done done = std::move(r.done);
  unanswered_.fetch_sub(1, std::memory_order_acq_rel);
  done(status);
}

void IngestPipeline::Release(Request* r, int64_t n) {
  if (r->refs.fetch_sub(n, std::memory_order_acq_rel) == n) delete r;
}

void IngestPipeline::ServeDeliveries(Slot& slot) {
  std::lock_guard<std::mutex> lock(slot.serve_mu);
  if (slot.producer != nullptr) slot.producer->ServeDeliveries();
}

void IngestPipeline::Watchdog() {
  std::vector<Request*> expired, done;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopped_; })) break;
    }
    // Reports whose post was dropped (no I/O threads yet or any more).
    if (options_.post) {
      for (auto& s : slots_) ServeDeliveries(*s);
    }
    const absl::Time now = clock_.Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (!requests_.empty()) {
        Request* r = requests_.front();
        if (r->answered.load(std::memory_order_acquire)) {
          done.push_back(r);
        } else if (r->deadline <= now) {
          expired.push_back(r);
        } else {
          break;
        }
        requests_.pop_front();
      }
    }
    for (Request* r : expired) {
      Answer(*r, absl::UnavailableError("Kafka did not acknowledge the readings in time"));
      Release(r, 1);
    }
    for (Request* r : done) Release(r, 1);
    expired.clear();
    done.clear();
  }
}

void IngestPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  }
  // Requests in flight end by their deadlines (the watchdog sees to that).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(15);
  while (unanswered_.load(std::memory_order_acquire) > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Request* r : requests_) Release(r, 1);
    requests_.clear();
  }
  // The producers' destructors flush: the reports of records still in
  // flight (of requests already answered 503) release their requests.
  for (auto& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot->serve_mu);
    slot->producer.reset();
  }
}

absl::StatusOr<int32_t> IngestPipeline::PartitionCount(absl::Duration timeout) {
  if (slots_.empty() || slots_.front()->producer == nullptr) return absl::UnavailableError("the pipeline is stopped");
  return slots_.front()->producer->PartitionCount(options_.topic, timeout);
}

IngestPipeline::Stats IngestPipeline::stats() const {
  return Stats{.requests = answered_.load(),
               .requests_failed = failed_.load(),
               .records_sent = records_sent_.load(),
               .delivery_failures = delivery_failures_.load()};
}

}  // namespace runnel_apps::gateway
