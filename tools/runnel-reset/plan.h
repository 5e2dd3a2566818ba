#ifndef RUNNEL_TOOLS_RESET_PLAN_H_
#define RUNNEL_TOOLS_RESET_PLAN_H_

// What runnel-reset will do, worked out from facts gathered from the broker
// and the local disk, and printed before (dry run) or while it is done. Pure
// functions and value types: no I/O, any thread.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "runnel/common/types.h"
#include "runnel/kafka/admin.h"

namespace runnel::reset {

// Whether `topic` is one of application `app`'s internal topics, which a
// reset deletes: "<app>-...-changelog", "<app>-...-repartition" (as Kafka's
// StreamsResetter decides) and the recorded topology "<app>-topology".
bool IsInternalTopic(std::string_view app, std::string_view topic);

// The internal topics of `app` among `existing`, sorted.
std::vector<std::string> SelectInternalTopics(std::string_view app, const std::vector<std::string>& existing);

// The input topics when none are named: the topics the group has committed
// offsets for, minus internal topics (a repartition topic is read too, but
// is deleted rather than rewound), sorted. The tool does not know the
// topology, so a source the group never committed for is missed: name the
// inputs with --input-topics then.
std::vector<std::string> DefaultInputTopics(std::string_view app,
                                            const std::map<TopicPartition, Offset>& committed);

// One input partition as the broker sees it.
struct PartitionFacts {
  std::optional<Offset> committed;
  Offset low{0};   // log start
  Offset high{0};  // end (offset of the next record)
  // kTime / kDuration targets: the first offset stamped at or after the
  // time; std::nullopt when no record is that late.
  std::optional<Offset> at_time;
};

struct PartitionReset {
  TopicPartition partition;
  std::optional<Offset> committed;
  Offset target{0};
  std::string note;  // why the target is not simply what was asked, if so
};

// The offset each partition is set to for `target`: the log start, the end,
// the first record at the time (the end when no record is that late), or
// the given offset kept within [log start, end].
std::vector<PartitionReset> PlanOffsets(const OffsetTarget& target,
                                        const std::map<TopicPartition, PartitionFacts>& facts);

// The application's state directory on this machine.
struct LocalState {
  std::string dir;  // <state.dir>/<application.id>
  bool exists = false;
  // A Runnel state directory has a .lock or process.id file; wiping
  // anything else needs --force-wipe-state.
  bool looks_like_state = false;
  // A running instance holds its lock.
  bool in_use = false;
  std::vector<std::string> entries;  // what would be removed (names in dir)
};

struct Plan {
  std::string application_id;
  OffsetTarget target;
  int64_t now_ms = 0;  // the time --by-duration counts back from
  bool inputs_named = false;  // --input-topics given
  kafka::GroupDescription group;
  std::vector<PartitionReset> inputs;
  std::vector<std::string> internal_topics;
  // The group's committed offsets on internal topics (repartition topics):
  // removed, as the topics are deleted.
  std::vector<TopicPartition> internal_offsets;
  std::optional<LocalState> local_state;
};

// The plan as printed: input partitions with committed and new offsets,
// internal topics, local state, and what the user must do elsewhere.
std::string FormatPlan(const Plan& plan, bool execute, bool force_wipe_state);

// Why --execute must refuse now (live members, a locked state directory, a
// directory that is not Runnel's without --force-wipe-state), or
// std::nullopt.
std::optional<std::string> RefusalReason(const Plan& plan, bool force_wipe_state);

}  // namespace runnel::reset

#endif  // RUNNEL_TOOLS_RESET_PLAN_H_
