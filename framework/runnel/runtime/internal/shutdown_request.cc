#include "runnel/runtime/internal/shutdown_request.h"

#include <atomic>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/consumer.h"

namespace runnel::runtime::internal {
namespace {

constexpr std::string_view kPayloadUrl = "type.runnel.dev/runnel.ApplicationShutdown";

// Takes nothing of what the group offers; notes that the group got this far.
class MarkerListener final : public kafka::RebalanceListener {
 public:
  void OnPartitionsRevoked(const std::vector<TopicPartition>&) override {}
  std::vector<TopicPartition> ChooseAssignment(const std::vector<TopicPartition>&) override {
    assigned = true;
    return {};
  }
  void OnPartitionsAssigned(const std::vector<TopicPartition>&) override {}
  void OnPartitionsLost(const std::vector<TopicPartition>&) override {}
  std::atomic<bool> assigned{false};
};

}  // namespace

std::optional<std::string> FindShutdownRequest(const std::vector<std::string>& client_ids) {
  for (const std::string& id : client_ids) {
    if (id.find(kShutdownRequestMarker) != std::string::npos) return id;
  }
  return std::nullopt;
}

absl::Status ApplicationShutdownError(std::string_view requester) {
  absl::Status s = absl::AbortedError(
      absl::StrCat("the application is shutting down: member '", ToAbsl(requester),
                   "' asked for it (uncaught.error.policy=shutdown_application after a stream thread failed)"));
  s.SetPayload(ToAbsl(kPayloadUrl), absl::Cord(ToAbsl(requester)));
  return s;
}

bool IsApplicationShutdown(const absl::Status& status) {
  return !status.ok() && status.GetPayload(ToAbsl(kPayloadUrl)).has_value();
}

absl::Status RequestApplicationShutdown(const StreamsConfig& config, std::string_view process_id,
                                        const std::vector<std::string>& topics, absl::Duration linger,
                                        absl::Duration timeout, const Clock& clock) {
  const std::string client_id =
      absl::StrCat(config.client_id_prefix(), ToAbsl(kShutdownRequestMarker), ToAbsl(process_id));
  kafka::ClientConfig consumer_config = config.ConsumerConfig(client_id);
  // A dynamic member: it must not take a stream thread's static identity.
  consumer_config.erase("group.instance.id");
  MarkerListener listener;
  auto consumer = kafka::Consumer::Create(consumer_config, {.listener = &listener, .clock = &clock});
  if (!consumer.ok()) return Annotate(consumer.status(), "creating the shutdown-request member");
  RUNNEL_RETURN_IF_ERROR((*consumer)->Subscribe(topics));
  auto log = Logger("runnel");
  log->warn("asking every instance of '{}' to shut down (member {})", config.application_id(), client_id);
  std::vector<kafka::ConsumedRecord> ignored;
  const absl::Time join_deadline = clock.Now() + timeout;
  absl::Status result;
  while (!listener.assigned.load()) {
    if (clock.Now() >= join_deadline) {
      result = absl::DeadlineExceededError(
          absl::StrCat("the shutdown-request member was not taken into the group within ",
                       absl::FormatDuration(timeout)));
      break;
    }
    absl::Status polled = (*consumer)->Poll(absl::Milliseconds(100), 1, ignored);
    ignored.clear();
    if (!polled.ok()) log->warn("shutdown-request member: {}", polled.ToString());
  }
  if (result.ok()) {
    const absl::Time leave_at = clock.Now() + linger;
    while (clock.Now() < leave_at) {
      absl::Status polled = (*consumer)->Poll(absl::Milliseconds(100), 1, ignored);
      ignored.clear();
      if (!polled.ok()) log->warn("shutdown-request member: {}", polled.ToString());
    }
  }
  absl::Status closed = (*consumer)->Close();
  if (!closed.ok()) log->warn("closing the shutdown-request member: {}", closed.ToString());
  return result;
}

}  // namespace runnel::runtime::internal
