#include "runnel/runtime/task_assignment.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runnel/runtime/state_directory.h"

namespace runnel {
namespace {

// FNV-1a then a 64-bit finalizer: stable across processes and builds.
uint64_t Rank(std::string_view member, const TaskId& task) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  mix(member);
  mix(absl::StrCat("/", task.subtopology, "_", task.partition.value()));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::map<TaskId, std::string> AssignTasks(const std::vector<std::string>& members,
                                          const std::vector<int32_t>& partitions_by_subtopology) {
  std::map<TaskId, std::string> out;
  if (members.empty()) return out;
  std::vector<std::string> sorted = members;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  int64_t total = 0;
  for (int32_t n : partitions_by_subtopology) total += std::max(n, 0);
  const int64_t k = static_cast<int64_t>(sorted.size());
  // Balanced per sub-topology too would be nicer for uneven ones; one bound
  // over all tasks keeps the rule simple and the moves few.
  const int64_t cap = (total + k - 1) / k;
  std::map<std::string, int64_t> load;
  std::vector<std::pair<uint64_t, const std::string*>> ranked(sorted.size());
  for (int32_t s = 0; s < static_cast<int32_t>(partitions_by_subtopology.size()); ++s) {
    for (int32_t p = 0; p < partitions_by_subtopology[s]; ++p) {
      const TaskId task{s, Partition(p)};
      for (size_t i = 0; i < sorted.size(); ++i) ranked[i] = {Rank(sorted[i], task), &sorted[i]};
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : *a.second < *b.second;
      });
      for (const auto& [rank, member] : ranked) {
        if (load[*member] < cap) {
          ++load[*member];
          out[task] = *member;
          break;
        }
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<int32_t>> TasksPerSubtopology(
    const Topology& topology, const std::function<absl::StatusOr<int32_t>(const std::string&)>& partitions,
    std::map<std::string, int32_t>* topic_partitions) {
  std::vector<int32_t> out;
  for (const auto& sub : topology.subtopologies()) {
    int32_t n = 0;
    for (const auto& topic : sub.source_topics) {
      auto count = partitions(topic);
      if (!count.ok()) return count.status();
      if (topic_partitions != nullptr) (*topic_partitions)[topic] = *count;
      n = std::max(n, *count);
    }
    out.push_back(n);
  }
  return out;
}

absl::StatusOr<std::vector<int32_t>> TasksPerSubtopology(const Topology& topology, kafka::Admin& admin,
                                                         absl::Duration timeout) {
  return TasksPerSubtopology(topology, [&admin, timeout](const std::string& topic) -> absl::StatusOr<int32_t> {
    auto description = admin.DescribeTopic(topic, timeout);
    if (!description.ok()) return description.status();
    return description->partitions;
  });
}

GroupAssignment AssignmentOfGroup(const Topology& topology, const kafka::GroupDescription& group, bool sticky,
                                  const std::vector<int32_t>& tasks_per_subtopology) {
  GroupAssignment out;
  std::vector<std::string> members;
  for (const auto& member : group.members) {
    auto process = ProcessIdOfClientId(member.client_id);
    if (!process) continue;
    members.push_back(member.client_id);
    std::string& endpoint = out.endpoints[*process];
    if (endpoint.empty()) endpoint = EndpointOfClientId(member.client_id);
    if (sticky) continue;
    for (const auto& tp : member.assignment) {
      const int32_t sub = topology.SubtopologyForTopic(tp.topic);
      if (sub >= 0) out.active[TaskId{sub, tp.partition}] = *process;
    }
  }
  if (sticky) {
    for (const auto& [task, member] : AssignTasks(members, tasks_per_subtopology)) {
      out.active[task] = *ProcessIdOfClientId(member);
    }
  }
  return out;
}

}  // namespace runnel
