#include "runnel/kafka/admin.h"

#include <librdkafka/rdkafka.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runnel/kafka/errors.h"
#include "runnel/kafka/internal/conf.h"

namespace runnel::kafka {
namespace {

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

// One admin request: options with the timeout, a private result queue, and
// the wait for the result event. The event is destroyed with the request.
// The wait ends early, Unauthenticated, once the client saw an
// authentication or TLS failure: with a wrong password librdkafka retries
// forever and the request would only time out.
class Request {
 public:
  Request(rd_kafka_t* rk, internal::ClientContext& context, rd_kafka_admin_op_t op, absl::Duration timeout)
      : rk_(rk),
        context_(context),
        queue_(rd_kafka_queue_new(rk)),
        options_(rd_kafka_AdminOptions_new(rk, op)),
        timeout_(timeout) {
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(options_, Millis(timeout), err, sizeof err);
    rd_kafka_AdminOptions_set_operation_timeout(options_, Millis(timeout), err, sizeof err);
  }
  ~Request() {
    if (event_ != nullptr) rd_kafka_event_destroy(event_);
    rd_kafka_AdminOptions_destroy(options_);
    rd_kafka_queue_destroy(queue_);
  }
  rd_kafka_queue_t* queue() { return queue_; }
  rd_kafka_AdminOptions_t* options() { return options_; }

  // Waits for the result; the event's own error becomes the Status.
  absl::StatusOr<rd_kafka_event_t*> Wait(const char* what) {
    // Slices of 200 ms (librdkafka's own time: the request's deadline is
    // librdkafka's, not the injected clock's).
    constexpr int kSliceMs = 200;
    for (int waited = 0; event_ == nullptr && waited <= Millis(timeout_) + 1000; waited += kSliceMs) {
      event_ = rd_kafka_queue_poll(queue_, kSliceMs);
      if (event_ != nullptr) break;
      absl::Status unauthenticated = internal::ExplainSecurityFailure(
          rk_, context_, absl::UnavailableError(absl::StrCat(what, ": no answer yet")));
      if (absl::IsUnauthenticated(unauthenticated)) return unauthenticated;
    }
    if (event_ == nullptr) {
      return internal::ExplainSecurityFailure(
          rk_, context_,
          absl::DeadlineExceededError(absl::StrCat(what, ": no answer within ", absl::FormatDuration(timeout_))));
    }
    if (rd_kafka_event_error(event_) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return internal::ExplainSecurityFailure(
          rk_, context_,
          ErrorToStatus(rd_kafka_event_error(event_), absl::StrCat(what, ": ", rd_kafka_event_error_string(event_))));
    }
    return event_;
  }

 private:
  rd_kafka_t* rk_;
  internal::ClientContext& context_;
  rd_kafka_queue_t* queue_;
  rd_kafka_AdminOptions_t* options_;
  absl::Duration timeout_;
  rd_kafka_event_t* event_ = nullptr;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(const ClientConfig& config, AdminOptions options) {
  auto context = std::make_unique<internal::ClientContext>(*options.clock);
  auto conf = internal::MakeConf({}, config, context.get());
  if (!conf.ok()) return conf.status();
  auto rk = internal::NewClient(RD_KAFKA_PRODUCER, *conf);
  if (!rk.ok()) return rk.status();
  return std::unique_ptr<Admin>(new Admin(*rk, std::move(context)));
}

Admin::Admin(rd_kafka_s* rk, std::unique_ptr<internal::ClientContext> context)
    : rk_(rk), context_(std::move(context)) {}
Admin::~Admin() { rd_kafka_destroy(rk_); }

absl::Status Admin::CreateTopics(const std::vector<NewTopic>& topics, absl::Duration timeout) {
  if (topics.empty()) return absl::OkStatus();
  std::vector<rd_kafka_NewTopic_t*> handles;
  char err[512];
  absl::Status status;
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* h = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication_factor,
                                                   err, sizeof err);
    if (h == nullptr) {
      status = absl::InvalidArgumentError(absl::StrCat("topic '", t.name, "': ", err));
      break;
    }
    handles.push_back(h);
    for (const auto& [k, v] : t.configs) {
      if (rd_kafka_NewTopic_set_config(h, k.c_str(), v.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InvalidArgumentError(absl::StrCat("topic '", t.name, "': config '", k, "'"));
      }
    }
  }
  if (!status.ok()) {
    rd_kafka_NewTopic_destroy_array(handles.data(), handles.size());
    return status;
  }
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  rd_kafka_CreateTopics(rk_, handles.data(), handles.size(), request.options(), request.queue());
  rd_kafka_NewTopic_destroy_array(handles.data(), handles.size());
  auto event = request.Wait("create topics");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(*event), &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    std::string name = rd_kafka_topic_result_name(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      // Idempotent when the existing topic has the partitions asked for.
      // Created a moment ago by someone else (instances starting together),
      // it may not be in the metadata yet.
      auto existing = DescribeTopic(name, timeout);
      for (int retry = 0; absl::IsNotFound(existing.status()) && retry < 50; ++retry) {
        absl::SleepFor(absl::Milliseconds(200));
        existing = DescribeTopic(name, timeout);
      }
      if (!existing.ok()) return existing.status();
      for (const auto& t : topics) {
        if (t.name == name && t.partitions != existing->partitions) {
          return absl::FailedPreconditionError(
              absl::StrCat("topic '", name, "' exists with ", existing->partitions,
                           " partitions, not ", t.partitions));
        }
      }
      continue;
    }
    const char* msg = rd_kafka_topic_result_error_string(results[i]);
    return ErrorToStatus(e, absl::StrCat("create topic '", name, "'", msg ? absl::StrCat(": ", msg) : ""));
  }
  return absl::OkStatus();
}

absl::StatusOr<TopicDescription> Admin::DescribeTopic(const std::string& topic, absl::Duration timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, rkt, &md, Millis(timeout));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::ExplainSecurityFailure(rk_, *context_, ErrorToStatus(err, absl::StrCat("metadata of ", topic)));
  }
  absl::StatusOr<TopicDescription> result =
      absl::NotFoundError(absl::StrCat("topic '", topic, "' does not exist"));
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      break;
    }
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = ErrorToStatus(t.err, absl::StrCat("topic '", topic, "'"));
      break;
    }
    result = TopicDescription{.name = topic,
                              .partitions = t.partition_cnt,
                              .replication_factor = static_cast<int16_t>(
                                  t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0)};
  }
  rd_kafka_metadata_destroy(md);
  return result;
}

absl::StatusOr<std::map<std::string, std::string>> Admin::DescribeTopicConfigs(
    const std::string& topic, absl::Duration timeout) {
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  rd_kafka_DescribeConfigs(rk_, &resource, 1, request.options(), request.queue());
  rd_kafka_ConfigResource_destroy(resource);
  auto event = request.Wait("describe configs");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(*event), &n);
  if (n != 1) return absl::InternalError("describe configs: unexpected result count");
  if (rd_kafka_ConfigResource_error(resources[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrorToStatus(rd_kafka_ConfigResource_error(resources[0]),
                         absl::StrCat("configs of '", topic, "'"));
  }
  size_t count = 0;
  const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[0], &count);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < count; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    out[rd_kafka_ConfigEntry_name(entries[i])] = value ? value : "";
  }
  return out;
}

absl::Status Admin::DeleteTopics(const std::vector<std::string>& topics, absl::Duration timeout) {
  if (topics.empty()) return absl::OkStatus();
  std::vector<rd_kafka_DeleteTopic_t*> handles;
  for (const auto& t : topics) handles.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout);
  rd_kafka_DeleteTopics(rk_, handles.data(), handles.size(), request.options(), request.queue());
  rd_kafka_DeleteTopic_destroy_array(handles.data(), handles.size());
  auto event = request.Wait("delete topics");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(*event), &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    return ErrorToStatus(e, absl::StrCat("delete topic '", rd_kafka_topic_result_name(results[i]), "'"));
  }
  return absl::OkStatus();
}

absl::Status Admin::DeleteRecords(const std::map<TopicPartition, Offset>& before, absl::Duration timeout) {
  if (before.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(before.size()));
  for (const auto& [tp, offset] : before) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value())->offset = offset.value();
  }
  rd_kafka_DeleteRecords_t* request_records = rd_kafka_DeleteRecords_new(list);
  rd_kafka_topic_partition_list_destroy(list);
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout);
  rd_kafka_DeleteRecords(rk_, &request_records, 1, request.options(), request.queue());
  rd_kafka_DeleteRecords_destroy(request_records);
  auto event = request.Wait("delete records");
  if (!event.ok()) return event.status();
  const rd_kafka_topic_partition_list_t* results =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(*event));
  for (int i = 0; results != nullptr && i < results->cnt; ++i) {
    if (results->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ErrorToStatus(results->elems[i].err, absl::StrCat("delete records of ", results->elems[i].topic, "-",
                                                               results->elems[i].partition));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<TopicPartition, std::optional<Offset>>> Admin::ListOffsets(
    const std::map<TopicPartition, int64_t>& specs, absl::Duration timeout) {
  std::map<TopicPartition, std::optional<Offset>> out;
  if (specs.empty()) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(specs.size()));
  for (const auto& [tp, spec] : specs) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value())->offset = spec;
  }
  const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list, Millis(timeout));
  absl::Status status;
  for (int i = 0; status.ok() && i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    const TopicPartition tp{e.topic, Partition(e.partition)};
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = ErrorToStatus(e.err, absl::StrCat("list offsets of ", tp.ToString()));
    } else if (e.offset >= 0) {
      out[tp] = Offset(e.offset);
    } else {
      out[tp] = std::nullopt;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (!status.ok()) return status;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::vector<std::string> names;
    for (const auto& [tp, spec] : specs) names.push_back(tp.ToString());
    return internal::ExplainSecurityFailure(
        rk_, *context_, ErrorToStatus(err, absl::StrCat("list offsets of ", absl::StrJoin(names, ", "))));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Admin::ListTopics(absl::Duration timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 1, nullptr, &md, Millis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::ExplainSecurityFailure(rk_, *context_, ErrorToStatus(err, "list topics"));
  }
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i) out.emplace_back(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  return out;
}

absl::StatusOr<std::map<TopicPartition, Offset>> Admin::ListGroupOffsets(const std::string& group,
                                                                         absl::Duration timeout) {
  rd_kafka_ListConsumerGroupOffsets_t* req = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout);
  rd_kafka_ListConsumerGroupOffsets(rk_, &req, 1, request.options(), request.queue());
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  auto event = request.Wait("list group offsets");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(*event), &n);
  std::map<TopicPartition, Offset> out;
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return ErrorToStatus(e, absl::StrCat("offsets of group '", group, "'"));
    }
    const rd_kafka_topic_partition_list_t* list = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; list && j < list->cnt; ++j) {
      if (list->elems[j].offset >= 0) {
        out[{list->elems[j].topic, Partition(list->elems[j].partition)}] = Offset(list->elems[j].offset);
      }
    }
  }
  return out;
}

absl::StatusOr<GroupDescription> Admin::DescribeGroup(const std::string& group, absl::Duration timeout) {
  const char* groups[] = {group.c_str()};
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout);
  rd_kafka_DescribeConsumerGroups(rk_, groups, 1, request.options(), request.queue());
  auto event = request.Wait("describe group");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_ConsumerGroupDescription_t** descriptions =
      rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(*event), &n);
  if (n != 1) return absl::InternalError(absl::StrCat("describe group '", group, "': ", n, " results"));
  const rd_kafka_ConsumerGroupDescription_t* d = descriptions[0];
  if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(d)) {
    return ErrorToStatus(e, absl::StrCat("describe group '", group, "'"));
  }
  GroupDescription out;
  out.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
  for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(d); ++i) {
    const rd_kafka_MemberDescription_t* m = rd_kafka_ConsumerGroupDescription_member(d, i);
    const char* instance = rd_kafka_MemberDescription_group_instance_id(m);
    GroupMember member{.member_id = rd_kafka_MemberDescription_consumer_id(m),
                       .client_id = rd_kafka_MemberDescription_client_id(m),
                       .group_instance_id = instance != nullptr ? instance : "",
                       .host = rd_kafka_MemberDescription_host(m)};
    const rd_kafka_MemberAssignment_t* assignment = rd_kafka_MemberDescription_assignment(m);
    const rd_kafka_topic_partition_list_t* parts =
        assignment != nullptr ? rd_kafka_MemberAssignment_partitions(assignment) : nullptr;
    for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
      member.assignment.push_back({parts->elems[j].topic, Partition(parts->elems[j].partition)});
    }
    out.members.push_back(std::move(member));
  }
  return out;
}

absl::Status Admin::AlterGroupOffsets(const std::string& group,
                                      const std::map<TopicPartition, Offset>& offsets,
                                      absl::Duration timeout) {
  std::vector<std::pair<TopicPartition, Offset>> v(offsets.begin(), offsets.end());
  rd_kafka_topic_partition_list_t* list = internal::ToList(v);
  rd_kafka_AlterConsumerGroupOffsets_t* req = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout);
  rd_kafka_AlterConsumerGroupOffsets(rk_, &req, 1, request.options(), request.queue());
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  auto event = request.Wait("alter group offsets");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(*event), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return ErrorToStatus(e, absl::StrCat("alter offsets of group '", group, "'"));
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts && j < parts->cnt; ++j) {
      if (parts->elems[j].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return ErrorToStatus(parts->elems[j].err, absl::StrCat("alter offset of ", parts->elems[j].topic, "-",
                                                               parts->elems[j].partition));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Admin::DeleteGroup(const std::string& group, absl::Duration timeout) {
  rd_kafka_DeleteGroup_t* req = rd_kafka_DeleteGroup_new(group.c_str());
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_DELETEGROUPS, timeout);
  rd_kafka_DeleteGroups(rk_, &req, 1, request.options(), request.queue());
  rd_kafka_DeleteGroup_destroy(req);
  auto event = request.Wait("delete group");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(*event), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return ErrorToStatus(e, absl::StrCat("delete group '", group, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status Admin::DeleteGroupOffsets(const std::string& group, const std::vector<TopicPartition>& partitions,
                                       absl::Duration timeout) {
  if (partitions.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& tp : partitions) rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition.value());
  rd_kafka_DeleteConsumerGroupOffsets_t* req = rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  Request request(rk_, *context_, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, timeout);
  rd_kafka_DeleteConsumerGroupOffsets(rk_, &req, 1, request.options(), request.queue());
  rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
  auto event = request.Wait("delete group offsets");
  if (!event.ok()) return event.status();
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
      rd_kafka_event_DeleteConsumerGroupOffsets_result(*event), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return ErrorToStatus(e, absl::StrCat("delete offsets of group '", group, "'"));
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts && j < parts->cnt; ++j) {
      const rd_kafka_resp_err_t e = parts->elems[j].err;
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
      return ErrorToStatus(e, absl::StrCat("delete offset of group '", group, "' for ", parts->elems[j].topic, "-",
                                           parts->elems[j].partition));
    }
  }
  return absl::OkStatus();
}

}  // namespace runnel::kafka
