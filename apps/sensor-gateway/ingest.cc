#include "ingest.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"

namespace runnel_apps::gateway {

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
        .on_delivery = [p, s](const runnel::kafka::DeliveryReport& report) { p->OnDelivery(*s, report.status); },
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
    p->idle_.push_back(s);
    p->slots_.push_back(std::move(slot));
  }
  p->watchdog_ = std::thread([p] { p->Watchdog(); });
  return pipeline;
}

IngestPipeline::~IngestPipeline() { Stop(); }

void IngestPipeline::Submit(std::vector<ReadingRecord> records, absl::Time deadline, Done done) {
  absl::Status refused;
  Slot* slot = nullptr;
  std::vector<Request> group;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the gateway is shutting down");
    } else if (queue_.size() >= options_.max_queued_requests) {
      refused = absl::UnavailableError(
          absl::StrCat(queue_.size(), " requests already wait for Kafka (max.queued.requests)"));
    } else {
      queue_.push_back(Request{std::move(records), deadline, std::move(done)});
      if (!idle_.empty()) {
        slot = idle_.back();
        idle_.pop_back();
        group = TakeGroupLocked();
      }
    }
  }
  if (!refused.ok()) {
    done(std::move(refused));
    return;
  }
  if (slot != nullptr) RunGroups(*slot, std::move(group));
}

std::vector<IngestPipeline::Request> IngestPipeline::TakeGroupLocked() {
  std::vector<Request> group;
  size_t records = 0;
  while (!queue_.empty() &&
         (group.empty() || records + queue_.front().records.size() <= options_.max_group_records)) {
    records += queue_.front().records.size();
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return group;
}

void IngestPipeline::Finish(std::vector<Request>& group, const std::vector<absl::Status>& sends,
                            const absl::Status& status) {
  for (size_t i = 0; i < group.size(); ++i) group[i].done(sends[i].ok() ? status : sends[i]);
}

void IngestPipeline::RunGroups(Slot& slot, std::vector<Request> group) {
  while (true) {
    // Requests whose deadline passed while queued: refused, nothing sent.
    const absl::Time now = clock_.Now();
    std::vector<Request> live;
    live.reserve(group.size());
    for (Request& r : group) {
      if (r.deadline <= now) {
        r.done(absl::UnavailableError("Kafka did not take the readings in time (waited in the gateway's queue)"));
      } else {
        live.push_back(std::move(r));
      }
    }
    group.clear();
    if (!live.empty()) {
      int64_t failed_before;
      {
        std::lock_guard<std::mutex> lock(slot.mu);
        failed_before = slot.failed;
      }
      std::vector<absl::Status> sends(live.size());
      int64_t sent = 0;
      absl::Time deadline = live.front().deadline;
      for (size_t i = 0; i < live.size(); ++i) {
        deadline = std::min(deadline, live[i].deadline);
        for (const ReadingRecord& record : live[i].records) {
          // Never waits for queue space: this is an I/O or poller thread.
          absl::Status s = slot.producer->Send({.topic = options_.topic,
                                                .key = record.key,
                                                .value = record.value,
                                                .timestamp = runnel::Timestamp(record.timestamp_ms)},
                                               absl::ZeroDuration());
          if (!s.ok()) {
            sends[i] = absl::UnavailableError(absl::StrCat("Kafka refused a record: ", s.message()));
            break;
          }
          ++sent;
        }
      }
      records_sent_.fetch_add(sent, std::memory_order_relaxed);
      int64_t failures = 0;
      {
        std::lock_guard<std::mutex> lock(slot.mu);
        slot.sent += sent;
        if (slot.delivered < slot.sent) {
          // Acks pending: the delivery callback (or the watchdog) goes on.
          slot.group = std::move(live);
          slot.send_status = std::move(sends);
          slot.target = slot.sent;
          slot.failed_before = failed_before;
          slot.deadline = deadline;
          return;
        }
        failures = slot.failed - failed_before;  // every report came during the sends
      }
      Complete(live, sends, failures > 0
                                ? absl::UnavailableError(absl::StrCat("Kafka failed to store ", failures,
                                                                      " record(s) of this or an earlier request"))
                                : absl::OkStatus());
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) {
      idle_.push_back(&slot);
      cv_.notify_all();
      return;
    }
    group = TakeGroupLocked();
  }
}

void IngestPipeline::Complete(std::vector<Request>& group, const std::vector<absl::Status>& sends,
                              const absl::Status& status) {
  groups_.fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) {
    groups_failed_.fetch_add(1, std::memory_order_relaxed);
    static runnel::RateLimiter limiter(5'000);
    int64_t suppressed = 0;
    if (limiter.Allow(clock_.NowMillis().value(), &suppressed)) {
      runnel::Logger("sensor-gateway")
          ->warn("{} request(s) answered 503: {} ({} similar messages suppressed)", group.size(),
                 std::string(status.message()), suppressed);
    }
  }
  Finish(group, sends, status);
}

void IngestPipeline::Continue(Slot& slot) {
  std::vector<Request> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) {
      idle_.push_back(&slot);
      cv_.notify_all();
      return;
    }
    next = TakeGroupLocked();
  }
  RunGroups(slot, std::move(next));
}

void IngestPipeline::OnDelivery(Slot& slot, const absl::Status& status) {
  std::vector<Request> group;
  std::vector<absl::Status> sends;
  int64_t failures = 0;
  {
    std::lock_guard<std::mutex> lock(slot.mu);
    ++slot.delivered;
    if (!status.ok()) {
      ++slot.failed;
      delivery_failures_.fetch_add(1, std::memory_order_relaxed);
    }
    if (slot.group.empty() || slot.delivered < slot.target) return;
    group = std::move(slot.group);
    slot.group.clear();
    sends = std::move(slot.send_status);
    failures = slot.failed - slot.failed_before;
  }
  Complete(group, sends,
           failures > 0 ? absl::UnavailableError(absl::StrCat("Kafka failed to store ", failures,
                                                              " record(s) of this or an earlier request"))
                        : absl::OkStatus());
  Continue(slot);
}

void IngestPipeline::ServeDeliveries(Slot& slot) {
  std::lock_guard<std::mutex> lock(slot.serve_mu);
  if (slot.producer != nullptr) slot.producer->ServeDeliveries();
}

void IngestPipeline::Watchdog() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopped_; })) return;
    }
    // Reports whose post was dropped (no I/O threads yet or any more).
    if (options_.post) {
      for (auto& s : slots_) ServeDeliveries(*s);
    }
    const absl::Time now = clock_.Now();
    for (auto& s : slots_) {
      Slot& slot = *s;
      std::vector<Request> group;
      std::vector<absl::Status> sends;
      {
        std::lock_guard<std::mutex> lock(slot.mu);
        if (slot.group.empty() || now < slot.deadline) continue;
        group = std::move(slot.group);
        slot.group.clear();
        sends = std::move(slot.send_status);
      }
      Complete(group, sends, absl::UnavailableError("Kafka did not acknowledge the readings in time"));
      Continue(slot);
    }
  }
}

void IngestPipeline::Stop() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    // Groups in flight end by their deadlines (the watchdog sees to that),
    // and queued requests are taken by the slots as they free up.
    cv_.wait_for(lock, std::chrono::minutes(15),
                 [this] { return queue_.empty() && idle_.size() == slots_.size(); });
    stopped_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  // Producers go before their slots: their destructors flush, and the
  // delivery callback touches the slot.
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
  return Stats{.groups = groups_.load(),
               .groups_failed = groups_failed_.load(),
               .records_sent = records_sent_.load(),
               .delivery_failures = delivery_failures_.load()};
}

}  // namespace runnel_apps::gateway
