#include "runnel/kafka/producer.h"

#include <librdkafka/rdkafka.h>

#include <mutex>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/logging.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/errors.h"
#include "runnel/kafka/internal/conf.h"

namespace runnel::kafka {

// Delivery bookkeeping, shared with librdkafka's delivery callback (the
// client's opaque). The callback runs on whichever thread calls
// rd_kafka_poll/flush: the Impl's poller thread or a caller inside Flush.
class Producer::Impl : public internal::ClientContext {
 public:
  explicit Impl(const Clock& clock) : ClientContext(clock) {}
  std::function<void(const DeliveryReport&)> on_delivery;
  std::atomic<int64_t> in_flight{0};
  // Guards first_error (written by the delivery callback).
  absl::Mutex mu;
  absl::Status first_error ABSL_GUARDED_BY(mu);
  // Topic handles by name. A plain std::mutex: this is taken once per record
  // and absl::Mutex's deadlock bookkeeping showed up in profiles.
  std::mutex topics_mu;
  absl::flat_hash_map<std::string, rd_kafka_topic_t*> topics;
  std::atomic<bool> stop{false};
  std::thread poller;  // not started with deliveries_ready
  std::function<void()> deliveries_ready;

  static void QueueEvent(rd_kafka_t*, void* opaque) { static_cast<Impl*>(opaque)->deliveries_ready(); }

  static void DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(static_cast<internal::ClientContext*>(opaque));
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      absl::Status s = ErrorToStatus(m->err, absl::StrCat("delivery to ", rd_kafka_topic_name(m->rkt), "-",
                                                          m->partition));
      absl::MutexLock lock(&self->mu);
      if (self->first_error.ok()) self->first_error = s;
    }
    if (self->on_delivery) {
      DeliveryReport report{.status = ErrorToStatus(m->err, "delivery"),
                            .topic = rd_kafka_topic_name(m->rkt),
                            .partition = Partition(m->partition),
                            .offset = Offset(m->offset),
                            .tag = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private))};
      self->on_delivery(report);
    }
    self->in_flight.fetch_sub(1, std::memory_order_acq_rel);
  }
};

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const ClientConfig& config,
                                                           ProducerOptions options) {
  auto impl = std::make_unique<Impl>(*options.clock);
  impl->on_delivery = std::move(options.on_delivery);
  auto conf = internal::MakeConf({{"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"partitioner", "murmur2_random"}},
                                 config, impl.get());
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(*conf, &Impl::DeliveryCallback);
  auto rk = internal::NewClient(RD_KAFKA_PRODUCER, *conf);
  if (!rk.ok()) return rk.status();
  Impl* raw = impl.get();
  rd_kafka_t* handle = *rk;
  if (options.deliveries_ready) {
    // Reports (and client errors) arrive on the main queue; librdkafka
    // calls QueueEvent when an item lands on it empty.
    raw->deliveries_ready = std::move(options.deliveries_ready);
    rd_kafka_queue_t* main = rd_kafka_queue_get_main(handle);
    rd_kafka_queue_cb_event_enable(main, &Impl::QueueEvent, raw);
    // Whatever landed before the callback was in place (a client error)
    // would otherwise wait for the next event.
    const bool waiting = rd_kafka_queue_length(main) > 0;
    rd_kafka_queue_destroy(main);
    if (waiting) raw->deliveries_ready();
  } else {
    raw->poller = std::thread([raw, handle] {
      while (!raw->stop.load(std::memory_order_relaxed)) rd_kafka_poll(handle, 50);
    });
  }
  return std::unique_ptr<Producer>(new Producer(handle, std::move(impl)));
}

Producer::Producer(rd_kafka_s* rk, std::unique_ptr<Impl> impl) : rk_(rk), impl_(std::move(impl)) {}

Producer::~Producer() {
  if (impl_->deliveries_ready) {
    // No more calls into the owner once destruction began (the queue's lock
    // orders this after any call in progress).
    rd_kafka_queue_t* main = rd_kafka_queue_get_main(rk_);
    rd_kafka_queue_cb_event_enable(main, nullptr, nullptr);
    rd_kafka_queue_destroy(main);
  }
  // Serves the remaining reports on this thread, whoever served them before.
  rd_kafka_flush(rk_, 10'000);
  impl_->stop = true;
  if (impl_->poller.joinable()) impl_->poller.join();
  for (auto& [name, rkt] : impl_->topics) rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk_);
}

absl::Status Producer::Send(const OutgoingRecord& record, absl::Duration queue_full_wait) {
  rd_kafka_topic_t* rkt;
  {
    std::lock_guard<std::mutex> lock(impl_->topics_mu);
    auto it = impl_->topics.find(ToAbsl(record.topic));
    if (it == impl_->topics.end()) {
      std::string name(record.topic);
      rkt = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
      if (rkt == nullptr) {
        return ErrorToStatus(rd_kafka_last_error(), absl::StrCat("topic '", name, "'"));
      }
      impl_->topics.emplace(std::move(name), rkt);
    } else {
      rkt = it->second;
    }
  }
  // librdkafka's RD_KAFKA_V_* macros cast their argument text: pass plain
  // variables, never expressions.
  const int32_t partition = record.partition ? record.partition->value() : RD_KAFKA_PARTITION_UA;
  const void* key_data = record.key ? record.key->data() : nullptr;
  const size_t key_size = record.key ? record.key->size() : 0;
  void* value_data = record.value ? const_cast<char*>(record.value->data()) : nullptr;
  const size_t value_size = record.value ? record.value->size() : 0;
  const int64_t timestamp = record.timestamp ? record.timestamp->value() : 0;
  void* tag = reinterpret_cast<void*>(static_cast<uintptr_t>(record.tag));
  std::optional<absl::Time> deadline;  // set on the first full queue
  while (true) {
    rd_kafka_headers_t* headers = nullptr;
    if (record.headers != nullptr && !record.headers->empty()) {
      headers = rd_kafka_headers_new(record.headers->size());
      for (const auto& h : *record.headers) {
        rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value ? h.value->data() : nullptr,
                            h.value ? static_cast<ssize_t>(h.value->size()) : 0);
      }
    }
    impl_->in_flight.fetch_add(1, std::memory_order_acq_rel);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_data, key_size),
        RD_KAFKA_V_VALUE(value_data, value_size), RD_KAFKA_V_TIMESTAMP(timestamp),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(tag), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
    impl_->in_flight.fetch_sub(1, std::memory_order_acq_rel);
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return ErrorToStatus(err, absl::StrCat("producing to '", ToAbsl(record.topic), "'"));
    }
    const absl::Time now = impl_->clock().Now();
    if (!deadline) deadline = now + queue_full_wait;
    if (now >= *deadline) {
      return absl::UnavailableError(
          absl::StrCat("producer queue full for ", absl::FormatDuration(queue_full_wait),
                       " (broker slow or unreachable); ", InFlight(), " records in flight"));
    }
    // The poller thread (or the owner, with deliveries_ready) serves
    // delivery reports; give it a moment.
    absl::SleepFor(absl::Milliseconds(2));
  }
}

absl::Status Producer::Flush(absl::Duration timeout) {
  const absl::Time deadline = impl_->clock().Now() + timeout;
  while (impl_->in_flight.load(std::memory_order_acquire) > 0) {
    absl::Duration left = deadline - impl_->clock().Now();
    if (left <= absl::ZeroDuration()) {
      return internal::ExplainSecurityFailure(
          rk_, *impl_,
          absl::DeadlineExceededError(
              absl::StrCat(InFlight(), " records still in flight after ", absl::FormatDuration(timeout))));
    }
    rd_kafka_flush(rk_, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 100)));
  }
  absl::Status error;
  {
    absl::MutexLock lock(&impl_->mu);
    error = impl_->first_error;
    impl_->first_error = absl::OkStatus();
  }
  // Outside the lock: serving events may run the delivery callback, which takes it.
  return internal::ExplainSecurityFailure(rk_, *impl_, std::move(error));
}

int64_t Producer::InFlight() const { return impl_->in_flight.load(std::memory_order_acquire); }

void Producer::ServeDeliveries() { rd_kafka_poll(rk_, 0); }

namespace {
int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

absl::Status TakeError(rd_kafka_error_t* error, std::string_view context) {
  absl::Status s = ErrorToStatus(error, context);
  if (error != nullptr) rd_kafka_error_destroy(error);
  return s;
}
}  // namespace

absl::Status Producer::InitTransactions(absl::Duration timeout) {
  return TakeError(rd_kafka_init_transactions(rk_, Millis(timeout)), "init_transactions");
}

absl::Status Producer::BeginTransaction() {
  return TakeError(rd_kafka_begin_transaction(rk_), "begin_transaction");
}

absl::Status Producer::SendOffsetsToTransaction(
    const std::vector<std::pair<TopicPartition, Offset>>& offsets,
    const rd_kafka_consumer_group_metadata_s* group_metadata, absl::Duration timeout) {
  rd_kafka_topic_partition_list_t* list = internal::ToList(offsets);
  absl::Status s = TakeError(
      rd_kafka_send_offsets_to_transaction(rk_, list, group_metadata, Millis(timeout)),
      "send_offsets_to_transaction");
  rd_kafka_topic_partition_list_destroy(list);
  return s;
}

absl::Status Producer::CommitTransaction(absl::Duration timeout) {
  return TakeError(rd_kafka_commit_transaction(rk_, Millis(timeout)), "commit_transaction");
}

absl::Status Producer::AbortTransaction(absl::Duration timeout) {
  return TakeError(rd_kafka_abort_transaction(rk_, Millis(timeout)), "abort_transaction");
}

absl::StatusOr<int32_t> Producer::PartitionCount(const std::string& topic, absl::Duration timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, rkt, &md, Millis(timeout));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return ErrorToStatus(err, absl::StrCat("metadata of ", topic));
  absl::StatusOr<int32_t> result = absl::NotFoundError(absl::StrCat("topic '", topic, "' not found"));
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic == md->topics[i].topic) {
      if (md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = ErrorToStatus(md->topics[i].err, absl::StrCat("topic '", topic, "'"));
      } else {
        result = md->topics[i].partition_cnt;
      }
    }
  }
  rd_kafka_metadata_destroy(md);
  return result;
}

}  // namespace runnel::kafka
