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
  for (int i = 0; i < pipeline->options_.producers; ++i) {
    auto slot = std::make_unique<Slot>();
    Slot* s = slot.get();
    auto producer = runnel::kafka::Producer::Create(
        pipeline->options_.producer_config, [s](const runnel::kafka::DeliveryReport& report) {
          {
            std::lock_guard<std::mutex> lock(s->mu);
            ++s->delivered;
            if (!report.status.ok()) ++s->failed;
          }
          s->delivered_cv.notify_one();
        });
    if (!producer.ok()) {
      pipeline->Stop();
      return runnel::Annotate(producer.status(), "creating the Kafka producer");
    }
    slot->producer = *std::move(producer);
    pipeline->slots_.push_back(std::move(slot));
  }
  for (auto& slot : pipeline->slots_) {
    Slot* s = slot.get();
    slot->worker = std::thread([p = pipeline.get(), s] { p->Work(*s); });
  }
  return pipeline;
}

IngestPipeline::~IngestPipeline() { Stop(); }

void IngestPipeline::Submit(std::vector<ReadingRecord> records, absl::Time deadline, Done done) {
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the gateway is shutting down");
    } else if (queue_.size() >= options_.max_queued_requests) {
      refused = absl::UnavailableError(
          absl::StrCat(queue_.size(), " requests already wait for Kafka (max.queued.requests)"));
    } else {
      queue_.push_back(Request{std::move(records), deadline, std::move(done)});
    }
  }
  if (!refused.ok()) {
    done(std::move(refused));
    return;
  }
  work_cv_.notify_one();
}

void IngestPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && slots_.empty()) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  // Workers drain the queue (each request still bounded by its deadline).
  for (auto& slot : slots_) {
    if (slot->worker.joinable()) slot->worker.join();
  }
  // Producers go before their slots: their destructors flush, and the
  // delivery callback touches the slot.
  for (auto& slot : slots_) slot->producer.reset();
  slots_.clear();
}

std::vector<absl::Status> IngestPipeline::SendGroup(Slot& slot, std::vector<Request>& group) {
  std::vector<absl::Status> statuses(group.size());
  for (size_t i = 0; i < group.size(); ++i) {
    for (const ReadingRecord& record : group[i].records) {
      const absl::Duration wait = std::max(absl::ZeroDuration(), group[i].deadline - clock_.Now());
      absl::Status s = slot.producer->Send({.topic = options_.topic,
                                            .key = record.key,
                                            .value = record.value,
                                            .timestamp = runnel::Timestamp(record.timestamp_ms)},
                                           wait);
      if (!s.ok()) {
        statuses[i] = absl::UnavailableError(absl::StrCat("Kafka refused a record: ", s.message()));
        break;
      }
      ++slot.sent;
      records_sent_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return statuses;
}

void IngestPipeline::Work(Slot& slot) {
  while (true) {
    std::vector<Request> group;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      size_t records = 0;
      while (!queue_.empty() &&
             (group.empty() || records + queue_.front().records.size() <= options_.max_group_records)) {
        records += queue_.front().records.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
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
    if (live.empty()) continue;
    int64_t failed_before;
    {
      std::lock_guard<std::mutex> lock(slot.mu);
      failed_before = slot.failed;
    }
    std::vector<absl::Status> sends = SendGroup(slot, live);
    absl::Time deadline = live.front().deadline;
    for (const Request& r : live) deadline = std::min(deadline, r.deadline);
    bool all_reported;
    int64_t failures;
    {
      std::unique_lock<std::mutex> lock(slot.mu);
      const int64_t target = slot.sent;
      const absl::Duration left = std::max(absl::ZeroDuration(), deadline - clock_.Now());
      all_reported = slot.delivered_cv.wait_for(lock, absl::ToChronoNanoseconds(left),
                                                [&] { return slot.delivered >= target; });
      failures = slot.failed - failed_before;
    }
    absl::Status group_status;
    if (!all_reported) {
      group_status = absl::UnavailableError("Kafka did not acknowledge the readings in time");
    } else if (failures > 0) {
      group_status = absl::UnavailableError(
          absl::StrCat("Kafka failed to store ", failures, " record(s) of this or an earlier request"));
      delivery_failures_.fetch_add(failures, std::memory_order_relaxed);
    }
    groups_.fetch_add(1, std::memory_order_relaxed);
    if (!group_status.ok()) {
      groups_failed_.fetch_add(1, std::memory_order_relaxed);
      static runnel::RateLimiter limiter(5'000);
      int64_t suppressed = 0;
      if (limiter.Allow(clock_.NowMillis().value(), &suppressed)) {
        runnel::Logger("sensor-gateway")
            ->warn("{} request(s) answered 503: {} ({} similar messages suppressed)", live.size(),
                   std::string(group_status.message()), suppressed);
      }
    }
    for (size_t i = 0; i < live.size(); ++i) live[i].done(sends[i].ok() ? group_status : sends[i]);
  }
}

absl::StatusOr<int32_t> IngestPipeline::PartitionCount(absl::Duration timeout) {
  if (slots_.empty()) return absl::UnavailableError("the pipeline is stopped");
  return slots_.front()->producer->PartitionCount(options_.topic, timeout);
}

IngestPipeline::Stats IngestPipeline::stats() const {
  return Stats{.groups = groups_.load(),
               .groups_failed = groups_failed_.load(),
               .records_sent = records_sent_.load(),
               .delivery_failures = delivery_failures_.load()};
}

}  // namespace runnel_apps::gateway
