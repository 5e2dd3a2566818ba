#ifndef RUNNEL_RUNTIME_TOPOLOGY_COMPATIBILITY_H_
#define RUNNEL_RUNTIME_TOPOLOGY_COMPATIBILITY_H_

// The topology compatibility check (docs/architecture.md, "Topology
// compatibility"). A running application leaves state behind under names
// its topology chose: changelog topics named after stores, repartition
// topics, tasks numbered by sub-topology over partitions. A new version of
// the topology that renames or drops a store, moves it to another
// sub-topology, changes its type, window size or serdes, or changes the
// partition count of what its tasks read would orphan that state or misread
// it. So every start compares the topology with the one recorded for the
// application, and refuses such changes (topology.compatibility.check=fail,
// the default), logs them and goes on (warn), or does neither (off).
//
// The record: the internal compacted topic <application.id>-topology (one
// partition), key "topology", value a runnel.v1.TopologySummary
// (proto/runnel/v1/topology_summary.proto) in protobuf's JSON form. It is
// written once the instance has started (RUNNING, every thread assigned,
// nothing restoring), by every instance (the value is the same), and never
// after a failed check.
//
// Two halves: the pure comparison (SummarizeTopology, CompareTopologies),
// unit-tested without a broker, and TopologyCompatibility, which reads and
// writes the record through the kafka module.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/admin.h"
#include "runnel/runtime/internal/topics.h"
#include "runnel/runtime/streams_config.h"
#include "runnel/topology/topology.h"
#include "runnel/v1/topology_summary.pb.h"

namespace runnel {

// topology.compatibility.check.
enum class CompatibilityMode { kFail, kWarn, kOff };
CompatibilityMode TopologyCompatibilityMode(const StreamsConfig& config);

// The topic holding an application's recorded topology.
std::string TopologyTopicName(std::string_view application_id);

// The state-relevant shape of `topology` (resolved for `application_id`).
// `partitions` holds every source and internal topic's partition count, as
// KafkaStreams computes them at start (Topology::SizeInternalTopics); a
// topic it lacks counts 0 (not known).
v1::TopologySummary SummarizeTopology(const Topology& topology, std::string_view application_id,
                                      const std::map<std::string, int32_t>& partitions);

// The record's value, and back. Parse fails (InvalidArgument) on text that
// is not a summary, and on a format_version newer than this code knows.
std::string SerializeTopologySummary(const v1::TopologySummary& summary);
absl::StatusOr<v1::TopologySummary> ParseTopologySummary(std::string_view value);

// One difference between the recorded topology and the new one.
struct TopologyChange {
  // kBreaking would orphan or misread state; kHarmless does not (new state
  // starts empty, a global store is rebuilt from its topic).
  enum class Severity { kBreaking, kHarmless };
  Severity severity = Severity::kBreaking;
  // What changed and what it means, for the log and the error: "store
  // 'counts' is gone: its changelog topic 'app-counts-changelog' still
  // holds its state".
  std::string message;
};

// Every state-relevant difference from `recorded` to `current`, breaking
// ones first. Node (processor) names and stateless parts do not count.
std::vector<TopologyChange> CompareTopologies(const v1::TopologySummary& recorded,
                                              const v1::TopologySummary& current);

// The FailedPrecondition Start returns for `changes` (those that break):
// each change on a line, what to do, and the recorded Describe().
absl::Status IncompatibleTopologyError(const std::vector<TopologyChange>& changes,
                                       const v1::TopologySummary& recorded);

// Reads the record at start, judges the new topology by it, and writes the
// new one once the instance has started.
//
// Ownership: KafkaStreams owns it from Start until it is destroyed.
// Threading: Check and RecordOnceStarted are called by the thread that
// runs Start; the recorder thread they start calls only the `progress`
// callback and the producer. Lifecycle: Check -> RecordOnceStarted ->
// destroyed (stops and joins the recorder thread).
class TopologyCompatibility {
 public:
  // Creates the topology topic when missing (one partition, compacted,
  // with the other internal topics' settings), reads its record to the end, and compares. Under fail
  // a breaking change, or a record it cannot read, is FailedPrecondition
  // naming each change; under warn each change is logged at warning; under
  // off nothing is read. Harmless changes are logged at warning in every
  // mode but off. Unavailable when the broker cannot be read.
  static absl::StatusOr<std::unique_ptr<TopologyCompatibility>> Check(
      kafka::Admin& admin, const StreamsConfig& config, const Topology& topology,
      const std::map<std::string, int32_t>& partitions, const runtime::internal::InternalTopicSettings& settings,
      const Clock& clock);
  ~TopologyCompatibility();
  TopologyCompatibility(const TopologyCompatibility&) = delete;
  TopologyCompatibility& operator=(const TopologyCompatibility&) = delete;

  // What the instance is doing, as the recorder thread sees it.
  enum class Progress { kStarting, kStarted, kStopped };
  // Starts a thread that asks `progress` every 100 ms and, at the first
  // kStarted, writes the new record (unless the recorded one is the same);
  // kStopped or destruction ends it without writing. A failed write is
  // logged (the next start then compares with the older record). Does
  // nothing under off. `progress` must stay callable until destruction.
  void RecordOnceStarted(std::function<Progress()> progress);

  // The record this instance writes (for tests).
  const std::string& value() const { return value_; }
  // Whether the recorder wrote it (for tests).
  bool recorded() const { return recorded_.load(); }

 private:
  TopologyCompatibility(const StreamsConfig& config, const Clock& clock, CompatibilityMode mode, std::string value,
                        bool unchanged);
  void RunRecorder(const std::function<Progress()>& progress);
  absl::Status Write();

  const StreamsConfig& config_;
  const Clock& clock_;
  const CompatibilityMode mode_;
  const std::string value_;
  // The recorded value equals value_: nothing to write.
  const bool unchanged_;
  std::atomic<bool> recorded_{false};
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread recorder_;
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_TOPOLOGY_COMPATIBILITY_H_
