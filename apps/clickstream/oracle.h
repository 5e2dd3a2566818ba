#ifndef RUNNEL_APPS_CLICKSTREAM_ORACLE_H_
#define RUNNEL_APPS_CLICKSTREAM_ORACLE_H_

// The oracle: the four tables the app must end with, computed directly
// from the generated events (malformed ones skipped), by a method
// independent of the topology: sort, bucket, count.
//
//   events_per_minute   (window_start, event_type) -> events, for every
//                       type seen in that minute
//   revenue_per_minute  window_start -> (revenue cents, purchases), for every
//                       minute with any event (revenue 0.00 when none bought)
//   active_users_5m     window_start -> distinct users
//   user_sessions       (user_id, session_start) -> session: events of a user
//                       closer than the 30-minute gap (end - start <= gap
//                       merges) form one session [first ts, last ts]
//
// Times are epoch milliseconds; windows are tumbling, aligned to the epoch.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "event.h"
#include "generator.h"

namespace runnel_apps::clickstream {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kFiveMinutesMs = 5 * kMinuteMs;
inline constexpr int64_t kSessionGapMs = 30 * kMinuteMs;

struct Revenue {
  int64_t cents = 0;
  int64_t purchases = 0;
  bool operator==(const Revenue&) const = default;
};

struct Session {
  int64_t end_ms = 0;
  int64_t page_views = 0;
  int64_t events = 0;
  int64_t revenue_cents = 0;
  bool operator==(const Session&) const = default;
};

struct Tables {
  std::map<std::pair<int64_t, std::string>, int64_t> events_per_minute;
  std::map<int64_t, Revenue> revenue_per_minute;
  std::map<int64_t, int64_t> active_users_5m;
  std::map<std::pair<std::string, int64_t>, Session> user_sessions;
  bool operator==(const Tables&) const = default;
};

Tables ComputeOracle(const std::vector<ClickEvent>& events);
// The well-formed events of a generated run, in generation order.
std::vector<ClickEvent> WellFormed(const std::vector<GeneratedEvent>& generated);

// A readable account of how two table sets differ (at most `max_lines`
// lines), empty when equal. For test failures and the `oracle --check`
// tool.
std::string DescribeDifferences(const Tables& expected, const Tables& actual, int max_lines = 20);

}  // namespace runnel_apps::clickstream

#endif  // RUNNEL_APPS_CLICKSTREAM_ORACLE_H_
