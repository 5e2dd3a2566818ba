#ifndef RUNNEL_APPS_CLICKSTREAM_TOPOLOGY_H_
#define RUNNEL_APPS_CLICKSTREAM_TOPOLOGY_H_

// The clickstream topology (run it with exactly_once_v2). Input: the
// generator's topic, key = user_id, value = event JSON (event.h), record
// timestamp = event time. Malformed values fail EventSerde and go to
// default.deserialization.exception.handler; well-formed ones count
// clickstream_events_total{type}.
//
//   events ── by user (no repartition) ─┬─ 1-min windows: MinuteTotals per user ─┐ store user-minute
//                                       │   └ table groupBy minute (repartition), add/subtract
//                                       │     -> store minute-totals ─┬─> events-per-minute topic
//                                       │                             └─> revenue-per-minute topic
//                                       ├─ 5-min windows: events per user          store user-5m
//                                       │   └ table groupBy window (repartition), count rows
//                                       │     -> store active-users-5m ──> active-users-5m topic
//                                       └─ session windows (30-min gap): SessionTotals
//                                             store user-sessions ──> user-sessions topic
//                                             (a merged-away session: a tombstone)
//
// Why windows per user first: every windowed (late-sensitive) step runs on
// the input's own partitioning, where the generator bounds how far out of
// order events are (below the grace period). The cross-user sums are table
// aggregations (add the new, subtract the old), which are exact in any
// order, so records crossing a repartition topic out of order (several
// upstream tasks at different speeds) cannot be late.
//
// Every aggregation emits on update through the record cache: once the input
// is processed and committed, every output topic's latest value per key is
// the full aggregate.
//
// Output topics (keys and values):
//   events-per-minute   TimeWindowedSerde<string type> (1 min)  -> int64 events
//   revenue-per-minute  int64 window start ms                   -> RevenueJsonSerde
//   active-users-5m     int64 window start ms                   -> int64 users
//   user-sessions       SessionWindowedSerde<string user>       -> SessionJsonSerde, or null (tombstone)
//
// Thread-safety: BuildTopology is pure; the Topology is immutable.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "aggregates.h"
#include "runnel/serde/windowed.h"
#include "runnel/topology/topology.h"

namespace runnel_apps::clickstream {

struct TopologyOptions {
  std::string input = "clickstream-events";
  std::string events_per_minute = "clickstream-events-per-minute";
  std::string revenue_per_minute = "clickstream-revenue-per-minute";
  std::string active_users_5m = "clickstream-active-users-5m";
  std::string user_sessions = "clickstream-user-sessions";
  // How far out of order (event time) an event may arrive and still count.
  int64_t grace_ms = 60'000;
};

absl::StatusOr<std::shared_ptr<const runnel::Topology>> BuildTopology(const TopologyOptions& options);

// The output topics' serdes (for the PostgreSQL routes and the tests).
runnel::SerdePtr<runnel::Windowed<std::string>> EventsPerMinuteKeySerde();
runnel::SerdePtr<runnel::Windowed<std::string>> UserSessionKeySerde();
runnel::SerdePtr<std::optional<SessionTotals>> UserSessionValueSerde();

}  // namespace runnel_apps::clickstream

#endif  // RUNNEL_APPS_CLICKSTREAM_TOPOLOGY_H_
