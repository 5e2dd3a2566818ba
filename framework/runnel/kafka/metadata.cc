#include "runnel/kafka/metadata.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runnel/kafka/errors.h"
#include "runnel/kafka/internal/conf.h"

namespace runnel::kafka {
namespace {

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

absl::StatusOr<std::unique_ptr<Metadata>> Metadata::Create(const ClientConfig& config, const Clock& clock) {
  auto context = std::make_unique<internal::ClientContext>(clock);
  auto conf = internal::MakeConf({}, config, context.get());
  if (!conf.ok()) return conf.status();
  auto rk = internal::NewClient(RD_KAFKA_PRODUCER, *conf);
  if (!rk.ok()) return rk.status();
  return std::unique_ptr<Metadata>(new Metadata(*rk, std::move(context)));
}

Metadata::Metadata(rd_kafka_s* rk, std::unique_ptr<internal::ClientContext> context)
    : rk_(rk), context_(std::move(context)) {}
Metadata::~Metadata() { rd_kafka_destroy(rk_); }

absl::StatusOr<std::vector<BrokerDescription>> Metadata::Brokers(absl::Duration timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, nullptr, &md, Millis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::ExplainSecurityFailure(rk_, *context_, ErrorToStatus(err, "metadata of the cluster's brokers"));
  }
  std::vector<BrokerDescription> out;
  for (int i = 0; i < md->broker_cnt; ++i) {
    out.push_back({.id = md->brokers[i].id, .host = md->brokers[i].host, .port = md->brokers[i].port});
  }
  rd_kafka_metadata_destroy(md);
  std::sort(out.begin(), out.end(), [](const BrokerDescription& a, const BrokerDescription& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<std::vector<PartitionDescription>> Metadata::Partitions(const std::string& topic,
                                                                       absl::Duration timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, rkt, &md, Millis(timeout));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::ExplainSecurityFailure(rk_, *context_, ErrorToStatus(err, absl::StrCat("metadata of ", topic)));
  }
  absl::StatusOr<std::vector<PartitionDescription>> result =
      absl::NotFoundError(absl::StrCat("topic '", topic, "' does not exist"));
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) break;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = ErrorToStatus(t.err, absl::StrCat("topic '", topic, "'"));
      break;
    }
    std::vector<PartitionDescription> partitions;
    for (int p = 0; p < t.partition_cnt; ++p) {
      const auto& mp = t.partitions[p];
      partitions.push_back({.partition = mp.id,
                            .leader = mp.leader,
                            .replicas = std::vector<int32_t>(mp.replicas, mp.replicas + mp.replica_cnt),
                            .isr = std::vector<int32_t>(mp.isrs, mp.isrs + mp.isr_cnt)});
    }
    std::sort(partitions.begin(), partitions.end(),
              [](const PartitionDescription& a, const PartitionDescription& b) { return a.partition < b.partition; });
    result = std::move(partitions);
  }
  rd_kafka_metadata_destroy(md);
  return result;
}

}  // namespace runnel::kafka
