#ifndef RUNNEL_TOOLS_REPLAY_REPLAY_H_
#define RUNNEL_TOOLS_REPLAY_REPLAY_H_

// The two commands of runnel-replay:
//   ReplayCsv: a CSV file into a topic, row by row (docs/replay.md);
//   PlotTopic: a topic's numeric JSON field over record time, as a PNG.
// Each returns OK, kInvalidArgument for bad input (flags, a malformed row
// under --on-error fail), kFailedPrecondition when the retention check
// refuses, or the Kafka error that stopped it.
//
// Threads: the caller's, plus the producer's delivery thread (counters only).

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pacing.h"
#include "plot.h"
#include "row_mapper.h"
#include "runnel/common/clock.h"

namespace runnel::replay {

struct CsvOptions {
  std::string file;
  std::string bootstrap;
  // --command-config: librdkafka settings (security.protocol, sasl.*, ssl.*)
  // for every Kafka client of the tool; empty: none.
  std::string command_config;
  std::string topic;  // empty with plot_path: only plot, send nothing
  ColumnRoles roles;
  double speed = 0;  // 0 = asap, 1 = original pace, N = N times faster
  bool fail_on_error = false;
  int32_t partitions = 1;  // for a topic the tool creates
  bool create_topic = false;
  std::string plot_path;
  std::string plot_field;
  std::string plot_title;
  std::string plot_unit;
};

// Where a replay writes and what it runs on. Borrowed; must outlive the call.
struct ReplayEnv {
  const Clock& clock;
  Sleeper& sleeper;
  std::FILE* out;   // the summary
  std::FILE* err;   // progress, bad rows, decisions
  bool terminal;    // err is a terminal: draw a bar
};

struct ReplaySummary {
  int64_t rows_read = 0;
  int64_t sent = 0;
  int64_t skipped = 0;
  std::optional<int64_t> oldest_ms, newest_ms;
};

absl::StatusOr<ReplaySummary> ReplayCsv(const CsvOptions& options, const ReplayEnv& env);

struct PlotTopicOptions {
  std::string bootstrap;
  std::string command_config;  // as CsvOptions::command_config
  std::string topic;
  std::string field;
  std::string out;
  std::string title;
  std::string unit;
};

// Reads the topic from its start to its end now; values are JSON objects,
// `field` a number (or a string holding one); other records are counted and
// reported, not drawn.
absl::Status PlotTopic(const PlotTopicOptions& options, const ReplayEnv& env);

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_REPLAY_H_
