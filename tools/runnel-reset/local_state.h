#ifndef RUNNEL_TOOLS_RESET_LOCAL_STATE_H_
#define RUNNEL_TOOLS_RESET_LOCAL_STATE_H_

// The application's state directory on this machine: looking at it and
// wiping it. Wiping holds the directory's lock (the flock a running
// instance holds on <dir>/.lock, runtime/state_directory.h), so it never
// pulls stores from under a live instance.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plan.h"

namespace runnel::reset {

// <state_dir>/<application_id>: whether it exists, looks like a Runnel state
// directory, is locked by a running instance, and what is in it.
absl::StatusOr<LocalState> InspectLocalState(const std::string& state_dir, const std::string& application_id);

// Removes everything in `state.dir` but .lock and process.id (the
// instance's id: a restarted instance keeps its transactional.id and so
// fences a killed incarnation's open transactions at once). Refuses
// (kFailedPrecondition) while a running instance holds the lock, or when
// the directory does not look like a Runnel state directory and `force` is
// false. Returns how many entries were removed.
absl::StatusOr<int> WipeLocalState(const LocalState& state, bool force);

}  // namespace runnel::reset

#endif  // RUNNEL_TOOLS_RESET_LOCAL_STATE_H_
