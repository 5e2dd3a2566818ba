#ifndef RUNNEL_TOOLS_RESET_OPTIONS_H_
#define RUNNEL_TOOLS_RESET_OPTIONS_H_

// runnel-reset's command line: what to reset and where input offsets go.
// Pure functions and value types: no I/O, any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace runnel::reset {

// Where the input partitions' committed offsets are set.
struct OffsetTarget {
  enum class Kind {
    kEarliest,  // the log start (the default)
    kLatest,    // the end: skip everything there is now
    kTime,      // the first record stamped at or after `millis` (epoch ms)
    kDuration,  // kTime at now - `millis`
    kOffset,    // `offset` on every partition, kept within the log
  };
  Kind kind = Kind::kEarliest;
  int64_t millis = 0;
  int64_t offset = 0;
  // The flag as given, for messages ("--to-datetime 2026-03-02T06:00:00Z").
  std::string describe = "--to-earliest";
};

struct ResetOptions {
  std::string application_id;
  std::string bootstrap;
  // --command-config: a properties file of librdkafka settings for the
  // tool's Kafka client (security.protocol, sasl.*, ssl.*); empty: none.
  std::string command_config;
  // Empty: taken from the group's committed offsets (minus internal topics).
  std::vector<std::string> input_topics;
  // Empty: every internal topic of the application the broker has.
  std::vector<std::string> internal_topics;
  OffsetTarget target;
  std::string state_dir;  // empty: no local state is wiped
  bool execute = false;
  bool force_wipe_state = false;
  bool help = false;
};

// Parses argv[1..]. Every flag takes a value except --execute,
// --force-wipe-state, --to-earliest, --to-latest and --help. A bad flag or
// value is kInvalidArgument naming it (exit code 2).
absl::StatusOr<ResetOptions> ParseArgs(const std::vector<std::string>& args);

// An ISO-8601 duration: PnDTnHnMnS (each part optional, S may have a
// fraction, W for weeks; years and months are refused: their length
// varies), e.g. P1D, PT1H30M, P2DT12H, PT0.5S. In milliseconds.
absl::StatusOr<int64_t> ParseIsoDuration(absl::string_view text);

// An ISO-8601 date and time in epoch milliseconds: 2026-03-01T12:00:00Z,
// 2026-03-01T12:00:00.250+01:00; no zone means UTC (as runnel-replay
// reads CSV times).
absl::StatusOr<int64_t> ParseDateTime(absl::string_view text);

// Formats epoch milliseconds as 2026-03-01T12:00:00.250Z.
std::string FormatMillis(int64_t millis);

extern const char kUsage[];

}  // namespace runnel::reset

#endif  // RUNNEL_TOOLS_RESET_OPTIONS_H_
