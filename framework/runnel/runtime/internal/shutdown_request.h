#ifndef RUNNEL_RUNTIME_INTERNAL_SHUTDOWN_REQUEST_H_
#define RUNNEL_RUNTIME_INTERNAL_SHUTDOWN_REQUEST_H_

// uncaught.error.policy=shutdown_application: how one instance stops every
// instance of its application (Kafka Streams' SHUTDOWN_APPLICATION, which
// rides on its assignor's error code; librdkafka 2.0.2 has no pluggable
// assignor, see task_assignment.h).
//
// The failing instance joins the application's group with one more consumer
// whose client.id carries kShutdownRequestMarker. That forces a rebalance;
// every stream thread reads the group's members in its assignment callback
// (task.assignor=sticky does that anyway), finds the marker and fails with
// ApplicationShutdownError, which always shuts its instance down (ERROR),
// whatever its own policy. The marker member takes no partitions and
// leaves after a linger long enough for every member's callback.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/runtime/streams_config.h"

namespace runnel::runtime::internal {

inline constexpr std::string_view kShutdownRequestMarker = "-runnel-shutdown-request-";

// The client.id of a shutdown-request member among `client_ids`, if any.
std::optional<std::string> FindShutdownRequest(const std::vector<std::string>& client_ids);

absl::Status ApplicationShutdownError(std::string_view requester);
bool IsApplicationShutdown(const absl::Status& status);

// Joins the group as the marker member of `process_id`, subscribed to
// `topics` (the application's source topics), waits until the group
// assigned it, lingers `linger`, and leaves. Blocks; up to `timeout` for
// the join.
absl::Status RequestApplicationShutdown(const StreamsConfig& config, std::string_view process_id,
                                        const std::vector<std::string>& topics, absl::Duration linger,
                                        absl::Duration timeout, const Clock& clock);

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_SHUTDOWN_REQUEST_H_
