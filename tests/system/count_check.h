#ifndef RUNNEL_TESTS_SYSTEM_COUNT_CHECK_H_
#define RUNNEL_TESTS_SYSTEM_COUNT_CHECK_H_

// The keyed count's output (key -> decimal count, one record per update)
// checked against the oracle (how many input records each key has), record
// by record as `runnel-keyed-count verify` reads the output topic.
//
//   exactly once   every key's last count is the oracle's, and no key's
//                  count is ever seen twice or going back (an update written
//                  twice).
//   at least once  a failure may process input twice: counts repeat or go
//                  back, keys end above the oracle (duplicates, counted and
//                  reported). But no input may be lost: every key's last
//                  count must reach the oracle; one below it means input
//                  records that were never counted. (Updates in between may
//                  be missing without loss: a replay after a restart can
//                  count past an update whose send the crash cut off.)
//
// Either way a value that is not a count fails.
//
// Threading: one thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace runnel_system {

enum class Guarantee { kExactlyOnce, kAtLeastOnce };

class CountCheck {
 public:
  CountCheck(absl::flat_hash_map<std::string, int64_t> oracle, Guarantee guarantee);

  // One output record, in the order of its partition.
  void Add(std::string_view key, std::string_view value);
  // Every key's last count is where it must end (the oracle's; at least the
  // oracle's under at-least-once): reading can stop.
  bool Complete() const { return complete_keys_ == static_cast<int64_t>(oracle_.size()); }

  struct Result {
    int64_t keys = 0;
    int64_t output_records = 0;
    int64_t keys_wrong = 0;        // last count != oracle
    int64_t keys_short = 0;        // last count < oracle: input lost
    int64_t overcounted = 0;       // sum over keys of last - oracle, where above
    int64_t undercounted = 0;      // sum over keys of oracle - last, where below
    int64_t repeated_outputs = 0;  // a count seen again or going back
    int64_t bad_values = 0;
    bool exact = false;    // the exactly-once verdict
    bool no_loss = false;  // the at-least-once verdict
    bool passed = false;   // the verdict of the check's guarantee
  };
  Result Finish() const;
  // Result as one JSON line (no newline).
  std::string Json() const;

 private:
  bool Reached(int64_t count, int64_t want) const {
    return guarantee_ == Guarantee::kExactlyOnce ? count == want : count >= want;
  }

  absl::flat_hash_map<std::string, int64_t> oracle_;
  Guarantee guarantee_;
  absl::flat_hash_map<std::string, int64_t> last_;
  int64_t outputs_ = 0, repeated_ = 0, bad_values_ = 0;
  int64_t complete_keys_ = 0;  // oracle keys whose last count is Reached
};

}  // namespace runnel_system

#endif  // RUNNEL_TESTS_SYSTEM_COUNT_CHECK_H_
