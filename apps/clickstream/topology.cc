#include "topology.h"

#include <vector>

#include "aggregates.h"
#include "event.h"
#include "oracle.h"
#include "runnel/runnel.h"

namespace runnel_apps::clickstream {
namespace {

using runnel::Change;
using runnel::KeyValue;
using runnel::Materialized;
using runnel::Named;
using runnel::Windowed;
namespace serdes = runnel::serdes;

// Counts well-formed events per type into clickstream_events_total{type}
// (the instance's registry) and passes them on. One instance per task, on
// its stream thread.
class CountEventsProcessor final : public runnel::Processor<std::string, ClickEvent, std::string, ClickEvent> {
 public:
  absl::Status Init(runnel::ProcessorContext<std::string, ClickEvent>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor::Init(context)));
    context.metrics().SetHelp("clickstream_events_total", "Well-formed clickstream events processed, by type.");
    for (EventType t : kEventTypes) {
      counters_[static_cast<size_t>(t)] =
          context.metrics().GetCounter("clickstream_events_total", {{"type", std::string(EventTypeName(t))}});
    }
    return absl::OkStatus();
  }
  absl::Status Process(runnel::Record<std::string, ClickEvent> r) override {
    counters_[static_cast<size_t>(r.value.type)]->Increment();
    return context().Forward(std::move(r));
  }

 private:
  runnel::Counter* counters_[std::size(kEventTypes)] = {};
};

// A session table's changes as a stream that keeps deletions: a session
// merged into a larger one becomes a tombstone (null value), so the sink
// deletes its row. (KTable::ToStream drops deletions.)
class SessionChangesProcessor final
    : public runnel::Processor<Windowed<std::string>, Change<SessionTotals>, Windowed<std::string>,
                               std::optional<SessionTotals>> {
 public:
  absl::Status Process(runnel::Record<Windowed<std::string>, Change<SessionTotals>> r) override {
    return context().Forward(runnel::Record<Windowed<std::string>, std::optional<SessionTotals>>{
        std::move(r.key), std::move(r.value.new_value), r.timestamp, {}});
  }
};

}  // namespace

runnel::SerdePtr<Windowed<std::string>> EventsPerMinuteKeySerde() {
  return serdes::TimeWindowed(serdes::String(), kMinuteMs);
}
runnel::SerdePtr<Windowed<std::string>> UserSessionKeySerde() { return serdes::SessionWindowed(serdes::String()); }
runnel::SerdePtr<std::optional<SessionTotals>> UserSessionValueSerde() {
  return serdes::Nullable(SessionJsonSerde());
}

absl::StatusOr<std::shared_ptr<const runnel::Topology>> BuildTopology(const TopologyOptions& options) {
  const auto grace = absl::Milliseconds(options.grace_ms);
  runnel::StreamsBuilder builder;
  auto events =
      builder.Stream(options.input, runnel::Consumed(serdes::String(), EventSerde()))
          .Process(runnel::ProcessorSupplier<std::string, ClickEvent, std::string, ClickEvent>(
                       [] { return std::make_unique<CountEventsProcessor>(); }),
                   Named("count-events"));
  auto by_user = events.GroupByKey();

  // Per minute: per user, then summed over users.
  auto minute_totals =
      by_user.WindowedBy(runnel::TimeWindows::OfSizeAndGrace(absl::Milliseconds(kMinuteMs), grace))
          .Aggregate([] { return MinuteTotals{}; },
                     [](const std::string&, const ClickEvent& e, MinuteTotals t) { return Add(t, e); },
                     Materialized<std::string, MinuteTotals>::As("user-minute", serdes::String(), MinuteTotalsSerde()),
                     Named("user-minute"))
          .GroupBy(
              [](const Windowed<std::string>& k, const MinuteTotals& t) {
                return KeyValue<int64_t, MinuteTotals>{k.window.start.value(), t};
              },
              runnel::Grouped<int64_t, MinuteTotals>(serdes::Int64(), MinuteTotalsSerde(), "minute-totals"))
          .Aggregate([] { return MinuteTotals{}; },
                     [](const int64_t&, const MinuteTotals& t, MinuteTotals sum) { return Add(sum, t); },
                     [](const int64_t&, const MinuteTotals& t, MinuteTotals sum) { return Subtract(sum, t); },
                     Materialized<int64_t, MinuteTotals>::As("minute-totals", serdes::Int64(), MinuteTotalsSerde()),
                     Named("minute-totals"))
          .ToStream(Named("minute-totals-updates"));
  minute_totals
      .FlatMap(
          [](const int64_t& start, const MinuteTotals& t) {
            std::vector<KeyValue<Windowed<std::string>, int64_t>> rows;
            for (EventType type : kEventTypes) {
              if (CountOf(t, type) == 0) continue;
              rows.push_back({Windowed<std::string>{std::string(EventTypeName(type)),
                                                    runnel::Window{runnel::Timestamp(start),
                                                                   runnel::Timestamp(start + kMinuteMs)}},
                              CountOf(t, type)});
            }
            return rows;
          },
          Named("events-per-minute-rows"))
      .To(options.events_per_minute, runnel::Produced(EventsPerMinuteKeySerde(), serdes::Int64()));
  minute_totals.To(options.revenue_per_minute, runnel::Produced(serdes::Int64(), RevenueJsonSerde()));

  // Distinct users per 5 minutes: one row per (user, window), counted.
  by_user.WindowedBy(runnel::TimeWindows::OfSizeAndGrace(absl::Milliseconds(kFiveMinutesMs), grace))
      .Count(Materialized<std::string, int64_t>::As("user-5m", serdes::String(), serdes::Int64()), Named("user-5m"))
      .GroupBy(
          [](const Windowed<std::string>& k, const int64_t&) {
            return KeyValue<int64_t, int64_t>{k.window.start.value(), 1};
          },
          runnel::Grouped<int64_t, int64_t>(serdes::Int64(), serdes::Int64(), "active-users-5m"))
      .Count(Materialized<int64_t, int64_t>::As("active-users-5m", serdes::Int64(), serdes::Int64()),
             Named("active-users-5m"))
      .ToStream(Named("active-users-5m-updates"))
      .To(options.active_users_5m, runnel::Produced(serdes::Int64(), serdes::Int64()));

  // Sessions, with their deletions.
  auto sessions =
      by_user.WindowedBy(runnel::SessionWindows::OfInactivityGapAndGrace(absl::Milliseconds(kSessionGapMs), grace))
          .Aggregate([] { return SessionTotals{}; },
                     [](const std::string&, const ClickEvent& e, SessionTotals s) { return Add(s, e); },
                     [](const std::string&, SessionTotals a, const SessionTotals& b) { return Add(a, b); },
                     Materialized<std::string, SessionTotals>::As("user-sessions", serdes::String(),
                                                                  SessionTotalsSerde()),
                     Named("user-sessions"));
  const std::string changes = "user-sessions-changes";
  builder.topology_builder()
      .AddProcessor<Windowed<std::string>, Change<SessionTotals>, Windowed<std::string>, std::optional<SessionTotals>>(
          changes, [] { return std::make_unique<SessionChangesProcessor>(); }, {sessions.node_name()});
  runnel::KStream<Windowed<std::string>, std::optional<SessionTotals>>(&builder, changes)
      .To(options.user_sessions, runnel::Produced(UserSessionKeySerde(), UserSessionValueSerde()));
  return builder.Build();
}

}  // namespace runnel_apps::clickstream
