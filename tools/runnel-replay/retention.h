#ifndef RUNNEL_TOOLS_REPLAY_RETENTION_H_
#define RUNNEL_TOOLS_REPLAY_RETENTION_H_

// Whether replayed records would survive the topic's time retention. The
// broker deletes records whose timestamp is older than now - retention.ms
// (within minutes of landing), so a historical CSV replayed into a topic
// with the default 7 days would vanish. Pure function; any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace runnel::replay {

// Records due for deletion within this margin count as lost.
inline constexpr absl::Duration kRetentionMargin = absl::Hours(1);

struct RetentionInput {
  std::string topic;
  // The oldest record timestamp of the CSV; unset when the records are
  // stamped with the send time (no --time-column).
  std::optional<int64_t> oldest_ms;
  int64_t now_ms = 0;
  // Set when the topic exists: its configs as DescribeConfigs reports them.
  std::optional<std::map<std::string, std::string>> existing_configs;
  // Bytes the replay sends (keys and values), for retention.bytes.
  int64_t bytes = 0;
};

struct RetentionDecision {
  // False: refuse to send; `message` says what, why and how to fix it.
  bool ok = true;
  // For a topic the tool creates: retention.ms to set (unset: keep the
  // broker's default).
  std::optional<std::string> create_retention_ms;
  // What the tool decided, for the user (may be empty when nothing to say).
  std::string message;
};

RetentionDecision DecideRetention(const RetentionInput& input);

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_RETENTION_H_
