#ifndef RUNNEL_TOOLS_RESET_RESET_H_
#define RUNNEL_TOOLS_RESET_RESET_H_

// runnel-reset's work against the broker: gathering the plan (group,
// committed offsets, topics, offsets by time) and carrying it out.
// Single-threaded; each call is bounded by the admin timeouts.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "options.h"
#include "plan.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/admin.h"

namespace runnel::reset {

// Everything the reset would do. An input topic that does not exist, or
// a partition the broker cannot answer for, is an error naming it.
absl::StatusOr<Plan> MakePlan(const ResetOptions& options, kafka::Admin& admin, const Clock& clock);

// Carries out `plan`: refuses (kFailedPrecondition) when RefusalReason
// says so, then sets the input offsets, removes the group's offsets on
// internal topics, deletes the internal topics (waiting until the broker no
// longer lists them, so that the application can start at once), and wipes
// the local state. Appends one line per step to `log`. The broker refuses
// the offset change itself if an instance joined the group meanwhile.
absl::Status ExecutePlan(const Plan& plan, bool force_wipe_state, kafka::Admin& admin, const Clock& clock,
                         std::string& log);

}  // namespace runnel::reset

#endif  // RUNNEL_TOOLS_RESET_RESET_H_
