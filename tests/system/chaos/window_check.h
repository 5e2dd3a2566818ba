#ifndef RUNNEL_TESTS_SYSTEM_CHAOS_WINDOW_CHECK_H_
#define RUNNEL_TESTS_SYSTEM_CHAOS_WINDOW_CHECK_H_

// The verdict of the chaos suite: the windowed count's output
// ("<key>@<window start>" -> decimal count, one record per closed window,
// emit-final) checked window by window against the oracle
// (chaos_input.h), as `runnel-chaos verify` reads the output topic
// read_committed.
//
//   exactly once   every oracle window is in the output exactly once with
//                  the oracle's count: 0 missing, 0 wrong, 0 duplicate, and
//                  no window the input does not have.
//   at least once  a failure may process input twice: a window may come out
//                  more than once (duplicate) or with a count above the
//                  oracle's (overcounted), both counted and reported. But
//                  no input may be lost: every oracle window must come out,
//                  its highest count at least the oracle's (short: below).
//
// Either way a value that is not a count fails.
//
// Threading: one thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace runnel_chaos {

enum class Guarantee { kExactlyOnce, kAtLeastOnce };

class WindowCheck {
 public:
  WindowCheck(absl::flat_hash_map<std::string, int64_t> oracle, Guarantee guarantee);

  // One output record.
  void Add(std::string_view window, std::string_view value);
  // Every oracle window has come out (with the oracle's count, or at least
  // it under at-least-once): reading can stop.
  bool Complete() const { return complete_ == static_cast<int64_t>(oracle_.size()); }

  struct Result {
    int64_t windows = 0;         // in the oracle
    int64_t output_records = 0;
    int64_t missing = 0;         // oracle windows never in the output
    int64_t wrong = 0;           // a count other than the oracle's (exactly once)
    int64_t short_windows = 0;   // highest count below the oracle's: input lost
    int64_t overcounted = 0;     // highest count above the oracle's
    int64_t duplicates = 0;      // output records after a window's first
    int64_t unexpected = 0;      // windows the input does not have
    int64_t bad_values = 0;
    bool exact = false;    // the exactly-once verdict
    bool no_loss = false;  // the at-least-once verdict
    bool passed = false;   // the verdict of the check's guarantee
  };
  Result Finish() const;
  // Result as one JSON object (no newline).
  std::string Json() const;
  // Up to `limit` missing and up to `limit` wrong or repeated windows, a
  // line each, for a failure message.
  std::string Examples(int limit) const;

 private:
  struct Seen {
    int64_t first = 0;
    int64_t highest = 0;
    int64_t times = 0;
    bool any_wrong = false;
  };
  bool Reached(const Seen& seen, int64_t want) const {
    return guarantee_ == Guarantee::kExactlyOnce ? seen.times == 1 && !seen.any_wrong : seen.highest >= want;
  }

  absl::flat_hash_map<std::string, int64_t> oracle_;
  Guarantee guarantee_;
  absl::flat_hash_map<std::string, Seen> seen_;
  int64_t outputs_ = 0, bad_values_ = 0;
  int64_t complete_ = 0;  // oracle windows for which Reached holds
};

}  // namespace runnel_chaos

#endif  // RUNNEL_TESTS_SYSTEM_CHAOS_WINDOW_CHECK_H_
