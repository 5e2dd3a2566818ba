#include "retention.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace runnel::replay {
namespace {

std::string Date(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string Days(int64_t ms) { return absl::StrFormat("%.1f days", static_cast<double>(ms) / 86400000.0); }

}  // namespace

RetentionDecision DecideRetention(const RetentionInput& input) {
  RetentionDecision d;
  const int64_t margin_ms = absl::ToInt64Milliseconds(kRetentionMargin);
  if (!input.existing_configs) {
    // The tool creates the topic: keep historical records forever rather
    // than let them expire a while after the replay.
    if (input.oldest_ms && *input.oldest_ms < input.now_ms - margin_ms) {
      d.create_retention_ms = "-1";
      d.message = absl::StrCat("creating topic ", input.topic, " with retention.ms=-1 (no time retention): its ",
                               "oldest record is dated ", Date(*input.oldest_ms),
                               ", which the default retention would delete on arrival or soon after");
    }
    return d;
  }
  const auto& configs = *input.existing_configs;
  auto get = [&](const std::string& name) -> std::string {
    auto it = configs.find(name);
    return it == configs.end() ? "" : it->second;
  };
  const std::string policy = get("cleanup.policy");
  if (!policy.empty() && policy.find("delete") == std::string::npos) {
    return d;  // compacted only: no time retention
  }
  int64_t retention_ms = -1;
  if (!absl::SimpleAtoi(get("retention.ms"), &retention_ms)) retention_ms = 7 * 86400000LL;
  if (retention_ms >= 0 && input.oldest_ms && *input.oldest_ms < input.now_ms - retention_ms + margin_ms) {
    d.ok = false;
    d.message = absl::StrCat(
        "refusing to replay into ", input.topic, ": its retention.ms is ", retention_ms, " (", Days(retention_ms),
        ") and the CSV's oldest row is dated ", Date(*input.oldest_ms), " (",
        Days(input.now_ms - *input.oldest_ms),
        " ago). The broker judges retention by record timestamps, so it would delete those rows "
        "within minutes of their arrival.\n"
        "Fix: replay into a new topic with --create-topic (the tool sets retention.ms=-1 there), or lift the "
        "topic's time retention first:\n"
        "  kafka-configs.sh --bootstrap-server B --alter --entity-type topics --entity-name ",
        input.topic, " --add-config retention.ms=-1");
    return d;
  }
  int64_t retention_bytes = -1;
  if (absl::SimpleAtoi(get("retention.bytes"), &retention_bytes) && retention_bytes >= 0 &&
      input.bytes > retention_bytes) {
    d.message = absl::StrCat("warning: ", input.topic, " has retention.bytes=", retention_bytes,
                             " per partition and the replay sends ", input.bytes,
                             " bytes of keys and values: the oldest records may be deleted by size");
  }
  return d;
}

}  // namespace runnel::replay
