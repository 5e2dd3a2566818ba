#include "runnel/query/internal/rendering.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/serde/serdes.h"

namespace runnel::query::internal {

SegmentedStoreOptions SegmentOptions(const StoreSpec& spec) {
  SegmentedStoreOptions o;
  if (spec.retention_ms) o.retention_ms = *spec.retention_ms;
  return o;
}

void SetValue(const StoreSpec& spec, std::string_view bytes, v1::Value* value) {
  value->set_raw(std::string(bytes));
  if (spec.text != nullptr && spec.text->value_json) {
    if (auto json = spec.text->value_json(bytes)) value->set_json(*std::move(json));
  }
}

absl::Status SetWindow(const StoreSpec& spec, std::string_view key, int64_t start, int64_t end,
                       std::string_view stored, v1::WindowValue* out) {
  if (stored.size() < 8) {
    return absl::DataLossError(absl::StrCat("store '", spec.name, "': a stored window is shorter than its timestamp"));
  }
  out->mutable_key()->set_raw(std::string(key));
  out->set_start(start);
  out->set_end(end);
  out->set_timestamp(static_cast<int64_t>(serdes::ReadBigEndian64(stored.data())));
  SetValue(spec, stored.substr(8), out->mutable_value());
  return absl::OkStatus();
}

void Describe(const Self& self, const LocalStores::Copy& copy, int32_t partition, v1::Answer* answer) {
  answer->set_endpoint(self.endpoint);
  answer->set_process_id(self.process_id);
  answer->set_partition(partition);
  if (copy.status == nullptr) return;
  answer->set_standby(copy.status->standby() || !copy.status->ready());
  answer->set_lag(std::max<int64_t>(0, copy.status->Lag()));
  for (const auto& [tp, offset] : copy.status->Positions()) {
    v1::TopicOffset* p = answer->add_position();
    p->set_topic(tp.topic);
    p->set_partition(tp.partition.value());
    p->set_offset(offset.value());
  }
}

absl::Status FillMetadata(const Topology& topology, const KafkaStreams::GroupMetadata& metadata,
                          const v1::MetadataRequest& req, const std::string& endpoint, v1::MetadataResponse* resp) {
  resp->set_endpoint(endpoint);
  const std::vector<int32_t>& tasks = metadata.tasks_per_subtopology;
  auto partitions_of = [&](const StoreRef& ref) {
    if (ref.subtopology < 0 || ref.subtopology >= static_cast<int32_t>(tasks.size())) return 0;
    return tasks[static_cast<size_t>(ref.subtopology)];
  };
  for (const auto& [name, spec] : topology.stores()) {
    if (spec.layout == StoreSpec::Layout::kInternal) continue;
    v1::StoreInfo* info = resp->add_stores();
    info->set_name(name);
    info->set_kind(LayoutName(spec.layout));
    if (spec.text != nullptr) {
      info->set_key_serde(spec.text->key_serde);
      info->set_value_serde(spec.text->value_serde);
    }
    info->set_window_size_ms(spec.window_size_ms);
    if (auto ref = FindStore(topology, name, std::nullopt); ref.ok()) info->set_partitions(partitions_of(*ref));
  }
  std::map<std::string, v1::InstanceInfo> instances;
  for (const auto& [process, e] : metadata.endpoints) {
    instances[process].set_process_id(process);
    instances[process].set_endpoint(e);
  }
  auto add = [&](const std::string& process, TaskId task, bool standby) {
    for (const auto& store : topology.subtopologies()[static_cast<size_t>(task.subtopology)].stores) {
      if (topology.stores().at(store).layout == StoreSpec::Layout::kInternal) continue;
      auto& list = standby ? *instances[process].mutable_standby() : *instances[process].mutable_active();
      v1::StorePartitions* sp = nullptr;
      for (auto& existing : list) {
        if (existing.store() == store) sp = &existing;
      }
      if (sp == nullptr) {
        sp = list.Add();
        sp->set_store(store);
      }
      sp->add_partitions(task.partition.value());
    }
  };
  for (const auto& [task, process] : metadata.active) add(process, task, false);
  for (const auto& [task, processes] : metadata.standbys) {
    for (const auto& process : processes) add(process, task, true);
  }
  for (auto& [process, info] : instances) *resp->add_instances() = std::move(info);
  if (req.store().empty()) return absl::OkStatus();
  auto ref = FindStore(topology, req.store(), std::nullopt);
  if (!ref.ok()) return ref.status();
  if (req.key().form_case() == v1::Key::FORM_NOT_SET) return absl::OkStatus();
  auto bytes = KeyBytes(*ref, req.key(), "key");
  if (!bytes.ok()) return bytes.status();
  const int32_t partitions = partitions_of(*ref);
  if (ref->subtopology < 0 || partitions <= 0) return absl::OkStatus();
  const TaskId task{ref->subtopology, kafka::PartitionForKey(*bytes, partitions)};
  v1::KeyOwner* owner = resp->mutable_owner();
  owner->set_partition(task.partition.value());
  auto endpoint_of = [&](const std::string& process) {
    auto e = metadata.endpoints.find(process);
    return e == metadata.endpoints.end() ? std::string() : e->second;
  };
  if (auto a = metadata.active.find(task); a != metadata.active.end()) owner->set_active_endpoint(endpoint_of(a->second));
  if (auto s = metadata.standbys.find(task); s != metadata.standbys.end()) {
    for (const auto& process : s->second) owner->add_standby_endpoints(endpoint_of(process));
  }
  return absl::OkStatus();
}

}  // namespace runnel::query::internal
