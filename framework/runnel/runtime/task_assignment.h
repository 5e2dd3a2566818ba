#ifndef RUNNEL_RUNTIME_TASK_ASSIGNMENT_H_
#define RUNNEL_RUNTIME_TASK_ASSIGNMENT_H_

// Sticky, co-partitioned task assignment computed by every member alike.
//
// librdkafka 2.0.2 has no pluggable assignor: `range` keeps co-partitioning
// but moves many tasks whenever a member joins or leaves, and
// `cooperative-sticky` is sticky but may split co-partitioned partitions.
// So the group still runs `range` (for membership and generations), and in
// its assignment callback each stream thread replaces what it was offered
// with its share of AssignTasks over the group's members, read from the
// coordinator (DescribeConsumerGroups) once the group is Stable. Every
// member of a generation sees the same member list (a generation becomes
// Stable only after every member has synced, and a member still inside its
// callback holds any next generation back), so every member computes the
// same assignment. A member that read a later generation's list is a zombie
// of the earlier one: its commits are fenced by the generation.
//
// AssignTasks is bounded-load rendezvous hashing: a task goes to the member
// that ranks it highest among those with room (at most ceil(tasks /
// members) each). A member joining takes only the tasks that now rank it
// highest (about 1/n of them) plus a few displaced by the bound; a member
// leaving gives up only its own. A member is named by its client.id, which
// carries the instance's persistent process id and the thread number, so a
// restarted instance ranks the same tasks highest and gets them back.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runnel/common/types.h"
#include "runnel/kafka/admin.h"
#include "runnel/topology/topology.h"

namespace runnel {

// `partitions_by_subtopology[s]` is the number of tasks (partitions) of
// sub-topology s. Returns each task's member. No members: empty.
std::map<TaskId, std::string> AssignTasks(const std::vector<std::string>& members,
                                          const std::vector<int32_t>& partitions_by_subtopology);

// The number of tasks of each sub-topology of `topology`: the most
// partitions among its source topics, as `partitions` reports them. Also
// records each topic's count in `topic_partitions` when given.
absl::StatusOr<std::vector<int32_t>> TasksPerSubtopology(
    const Topology& topology, const std::function<absl::StatusOr<int32_t>(const std::string&)>& partitions,
    std::map<std::string, int32_t>* topic_partitions = nullptr);

// The same, with each topic's partition count read through `admin`.
absl::StatusOr<std::vector<int32_t>> TasksPerSubtopology(const Topology& topology, kafka::Admin& admin,
                                                         absl::Duration timeout);

// Who runs what, as every member computes it from the group's description
// (a Stable group): each task's active process (by the process id in its
// members' client ids) and each process's query endpoint.
struct GroupAssignment {
  std::map<TaskId, std::string> active;          // task -> process id
  std::map<std::string, std::string> endpoints;  // process id -> endpoint ("" without one)
};
// `sticky`: the members run AssignTasks over `tasks_per_subtopology`;
// otherwise each member runs what the group assigned it.
GroupAssignment AssignmentOfGroup(const Topology& topology, const kafka::GroupDescription& group, bool sticky,
                                  const std::vector<int32_t>& tasks_per_subtopology);

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_TASK_ASSIGNMENT_H_
