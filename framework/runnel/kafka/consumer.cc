#include "runnel/kafka/consumer.h"

#include <librdkafka/rdkafka.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/kafka/errors.h"
#include "runnel/kafka/internal/conf.h"

namespace runnel::kafka {
namespace {

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

std::vector<TopicPartition> FromList(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, Partition(list->elems[i].partition)});
  }
  return out;
}

absl::Status TakeError(rd_kafka_error_t* error, std::string_view context) {
  absl::Status s = ErrorToStatus(error, context);
  if (error != nullptr) rd_kafka_error_destroy(error);
  return s;
}

}  // namespace

// Rebalance handling (the client's opaque); the callback runs inside
// rd_kafka_consumer_poll (or consumer_close) on the consumer's thread.
class Consumer::Impl : public internal::ClientContext {
 public:
  explicit Impl(const Clock& clock) : ClientContext(clock) {}
  RebalanceListener* listener = nullptr;
  bool closed = false;
  // Errors returned by Poll (the client-level ones have their own limiter).
  RateLimiter poll_error_limiter{5000};

  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(static_cast<internal::ClientContext*>(opaque));
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    auto log = Logger("runnel");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        absl::Status s = TakeError(rd_kafka_incremental_assign(rk, partitions), "assign");
        if (!s.ok()) log->error("assigning partitions: {}", s.ToString());
        if (self->listener != nullptr) self->listener->OnPartitionsAssigned(FromList(partitions));
        return;
      }
      std::vector<TopicPartition> chosen = FromList(partitions);
      if (self->listener != nullptr) chosen = self->listener->ChooseAssignment(chosen);
      std::vector<std::pair<TopicPartition, Offset>> at;
      for (const auto& tp : chosen) at.emplace_back(tp, Offset(RD_KAFKA_OFFSET_INVALID));
      rd_kafka_topic_partition_list_t* list = internal::ToList(at);
      absl::Status s = ErrorToStatus(rd_kafka_assign(rk, list), "assign");
      rd_kafka_topic_partition_list_destroy(list);
      if (!s.ok()) log->error("assigning partitions: {}", s.ToString());
      if (self->listener != nullptr) self->listener->OnPartitionsAssigned(chosen);
      return;
    }
    if (self->listener != nullptr) {
      // Eager: what is taken away is the whole current assignment, which
      // may differ from what the assignor offered (ChooseAssignment).
      std::vector<TopicPartition> taken = FromList(partitions);
      if (!cooperative) {
        rd_kafka_topic_partition_list_t* current = nullptr;
        if (rd_kafka_assignment(rk, &current) == RD_KAFKA_RESP_ERR_NO_ERROR && current != nullptr) {
          taken = FromList(current);
          rd_kafka_topic_partition_list_destroy(current);
        }
      }
      if (rd_kafka_assignment_lost(rk)) {
        self->listener->OnPartitionsLost(taken);
      } else {
        self->listener->OnPartitionsRevoked(taken);
      }
    }
    absl::Status s = cooperative ? TakeError(rd_kafka_incremental_unassign(rk, partitions), "unassign")
                                 : ErrorToStatus(rd_kafka_assign(rk, nullptr), "unassign");
    if (!s.ok()) log->error("unassigning partitions: {}", s.ToString());
  }
};

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const ClientConfig& config,
                                                           ConsumerOptions options) {
  auto impl = std::make_unique<Impl>(*options.clock);
  impl->listener = options.listener;
  // enable.partition.eof=true, as StreamsConfig::ConsumerConfig sets it for
  // every consumer of the runtime (max.task.idle.ms, restores and bootstraps
  // end on partition ends): Poll reports the ends through its `eof`
  // argument, and a caller that passes none only skips those events.
  ClientConfig defaults{{"enable.auto.commit", "false"},
                        {"enable.auto.offset.store", "false"},
                        {"auto.offset.reset", "earliest"},
                        {"isolation.level", "read_committed"},
                        {"enable.partition.eof", "true"}};
  if (!config.contains("group.id")) {
    return absl::InvalidArgumentError("Kafka consumer needs a 'group.id'");
  }
  auto conf = internal::MakeConf(defaults, config, impl.get());
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(*conf, &Impl::RebalanceCallback);
  auto rk = internal::NewClient(RD_KAFKA_CONSUMER, *conf);
  if (!rk.ok()) return rk.status();
  rd_kafka_poll_set_consumer(*rk);
  return std::unique_ptr<Consumer>(new Consumer(*rk, std::move(impl)));
}

Consumer::Consumer(rd_kafka_s* rk, std::unique_ptr<Impl> impl) : rk_(rk), impl_(std::move(impl)) {}

Consumer::~Consumer() {
  (void)Close();
  rd_kafka_destroy(rk_);
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  return ErrorToStatus(err, "subscribe");
}

absl::Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  std::vector<std::pair<TopicPartition, Offset>> at;
  for (const auto& tp : partitions) at.emplace_back(tp, Offset(RD_KAFKA_OFFSET_INVALID));
  return AssignAt(at);
}

absl::Status Consumer::AssignAt(const std::vector<std::pair<TopicPartition, Offset>>& partitions) {
  auto* list = internal::ToList(partitions);
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  return ErrorToStatus(err, "assign");
}

absl::Status Consumer::Poll(absl::Duration timeout, size_t max_records, std::vector<ConsumedRecord>& out,
                            std::vector<std::pair<TopicPartition, Offset>>* eof) {
  int wait = Millis(timeout);
  for (size_t taken = 0; taken < max_records;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, wait);
    if (m == nullptr) break;
    wait = 0;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.emplace_back(m);
      ++taken;
      continue;
    }
    rd_kafka_resp_err_t err = m->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (eof != nullptr && m->rkt != nullptr) {
        eof->emplace_back(TopicPartition{rd_kafka_topic_name(m->rkt), Partition(m->partition)}, Offset(m->offset));
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    std::string detail = rd_kafka_message_errstr(m);
    rd_kafka_message_destroy(m);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk_, buf, sizeof buf);
      return absl::InternalError(absl::StrCat("fatal consumer error: ", buf));
    }
    int64_t suppressed = 0;
    if (impl_->poll_error_limiter.Allow(impl_->clock().NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("consumer: {} ({}); retrying{}", detail, rd_kafka_err2name(err),
                             suppressed ? absl::StrCat(" [", suppressed, " similar suppressed]") : "");
    }
  }
  return absl::OkStatus();
}

absl::Status Consumer::Commit(const std::vector<std::pair<TopicPartition, Offset>>& offsets) {
  if (offsets.empty()) return absl::OkStatus();
  auto* list = internal::ToList(offsets);
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, /*async=*/0);
  absl::Status s = ErrorToStatus(err, "commit");
  if (s.ok()) {
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        s = ErrorToStatus(list->elems[i].err,
                          absl::StrCat("commit of ", list->elems[i].topic, "-", list->elems[i].partition));
        break;
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return s;
}

absl::StatusOr<std::vector<std::pair<TopicPartition, Offset>>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions, absl::Duration timeout) {
  std::vector<std::pair<TopicPartition, Offset>> query;
  for (const auto& tp : partitions) query.emplace_back(tp, Offset(RD_KAFKA_OFFSET_INVALID));
  auto* list = internal::ToList(query);
  rd_kafka_resp_err_t err = rd_kafka_committed(rk_, list, Millis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(list);
    return ErrorToStatus(err, "committed offsets");
  }
  std::vector<std::pair<TopicPartition, Offset>> out;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset >= 0) {
      out.emplace_back(TopicPartition{list->elems[i].topic, Partition(list->elems[i].partition)},
                       Offset(list->elems[i].offset));
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

absl::Status Consumer::Seek(const TopicPartition& partition, Offset offset, absl::Duration timeout) {
  auto* list = internal::ToList({{partition, offset}});
  absl::Status s = TakeError(rd_kafka_seek_partitions(rk_, list, Millis(timeout)), "seek");
  if (s.ok() && list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    s = ErrorToStatus(list->elems[0].err, absl::StrCat("seek of ", partition.ToString()));
  }
  rd_kafka_topic_partition_list_destroy(list);
  return s;
}

absl::Status Consumer::Pause(const std::vector<TopicPartition>& partitions) {
  std::vector<std::pair<TopicPartition, Offset>> ps;
  for (const auto& tp : partitions) ps.emplace_back(tp, Offset(RD_KAFKA_OFFSET_INVALID));
  auto* list = internal::ToList(ps);
  absl::Status s = ErrorToStatus(rd_kafka_pause_partitions(rk_, list), "pause");
  rd_kafka_topic_partition_list_destroy(list);
  return s;
}

absl::Status Consumer::Resume(const std::vector<TopicPartition>& partitions) {
  std::vector<std::pair<TopicPartition, Offset>> ps;
  for (const auto& tp : partitions) ps.emplace_back(tp, Offset(RD_KAFKA_OFFSET_INVALID));
  auto* list = internal::ToList(ps);
  absl::Status s = ErrorToStatus(rd_kafka_resume_partitions(rk_, list), "resume");
  rd_kafka_topic_partition_list_destroy(list);
  return s;
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::Assignment() const {
  rd_kafka_topic_partition_list_t* list = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_assignment(rk_, &list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return ErrorToStatus(err, "assignment");
  auto out = FromList(list);
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

absl::StatusOr<std::pair<Offset, Offset>> Consumer::Watermarks(const TopicPartition& partition,
                                                               absl::Duration timeout) {
  int64_t low = 0, high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      rk_, partition.topic.c_str(), partition.partition.value(), &low, &high, Millis(timeout));
  if (err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION || err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
    // librdkafka 2.0.2 asks the leader its metadata cache names and does not
    // refresh the cache on this answer: after a leader moved (a broker of a
    // cluster killed and back as a follower), a client that only queries
    // watermarks (a restore consumer) would ask the old leader until the
    // periodic refresh, minutes later. A metadata request updates the cache.
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, partition.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk_, 0, rkt, &md, Millis(timeout)) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      err = rd_kafka_query_watermark_offsets(rk_, partition.topic.c_str(), partition.partition.value(), &low,
                                             &high, Millis(timeout));
    }
    rd_kafka_topic_destroy(rkt);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return ErrorToStatus(err, "watermarks");
  return std::make_pair(Offset(low), Offset(high));
}

std::optional<Offset> Consumer::CachedHighWatermark(const TopicPartition& partition) const {
  int64_t low = RD_KAFKA_OFFSET_INVALID, high = RD_KAFKA_OFFSET_INVALID;
  rd_kafka_resp_err_t err =
      rd_kafka_get_watermark_offsets(rk_, partition.topic.c_str(), partition.partition.value(), &low, &high);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || high < 0) return std::nullopt;
  return Offset(high);
}

void Consumer::GroupMetadataDeleter::operator()(rd_kafka_consumer_group_metadata_s* metadata) const {
  rd_kafka_consumer_group_metadata_destroy(metadata);
}

Consumer::GroupMetadataPtr Consumer::GroupMetadata() const {
  return GroupMetadataPtr(rd_kafka_consumer_group_metadata(rk_));
}

absl::Status Consumer::Close() {
  if (impl_->closed) return absl::OkStatus();
  impl_->closed = true;
  return ErrorToStatus(rd_kafka_consumer_close(rk_), "consumer close");
}

}  // namespace runnel::kafka
