#ifndef RUNNEL_APPS_CLICKSTREAM_GENERATOR_H_
#define RUNNEL_APPS_CLICKSTREAM_GENERATOR_H_

// The clickstream generator: a deterministic function of its options (the
// same seed gives the same events, byte for byte), so tests regenerate what
// `runnel-clickstream generate` produced and compute the oracle from it.
//
// The model: `users` users, each living in sessions. A session is a burst
// of 3..20 events 5 s..3 min apart; between two sessions a user is idle for
// 31..90 min (over the 30-minute session gap, so sessions never touch). A
// user's first session starts within 10 min of the start time. Events are
// page views (60%), clicks (32%) and purchases (8%, 1.99..499.99 with 2
// decimals). Event time therefore spans about count/users x 7 min.
//
// Out of order, within bounds: each event is handed out (Next) after a
// delivery delay of 0..max_delay_ms event-time milliseconds, so an event is
// at most max_delay_ms older than the newest one handed out before it (keep
// it below the topology's grace period and no event is late).
//
// Malformed events: each event is, with probability malformed_share,
// replaced by a malformed version of itself (broken JSON, a missing field, a
// field of the wrong type, or an unknown event type), still keyed by its
// user and stamped with its time.
//
// Thread-compatible: one generator per thread.

#include <cstdint>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "event.h"

namespace runnel_apps::clickstream {

struct GeneratorOptions {
  uint64_t seed = 1;
  int64_t count = 10'000;
  int64_t users = 1'000;
  double malformed_share = 0.02;
  int64_t start_ms = 0;
  int64_t max_delay_ms = 20'000;
};

// One record for the input topic.
struct GeneratedEvent {
  std::string key;    // user_id
  std::string value;  // JSON text (malformed ones included)
  int64_t timestamp_ms = 0;
  // The event, unless it is malformed.
  std::optional<ClickEvent> event;
};

// InvalidArgument naming the option when out of range.
absl::Status ValidateGeneratorOptions(const GeneratorOptions& options);

class EventGenerator {
 public:
  // `options` must be valid (ValidateGeneratorOptions).
  explicit EventGenerator(const GeneratorOptions& options);

  // The next event, or nullopt after `count` events.
  std::optional<GeneratedEvent> Next();

 private:
  struct User {
    int64_t next_ms = 0;
    int64_t left_in_session = 0;
  };
  struct Pending {
    int64_t deliver_ms;
    int64_t seq;
    GeneratedEvent event;
    bool operator>(const Pending& o) const {
      return deliver_ms != o.deliver_ms ? deliver_ms > o.deliver_ms : seq > o.seq;
    }
  };

  int64_t Uniform(int64_t lo, int64_t hi);  // inclusive
  bool Chance(double p);
  GeneratedEvent Schedule();  // the next event in event-time order
  GeneratedEvent Corrupt(GeneratedEvent event);

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  std::vector<User> users_;
  // Users by their next event time (time, user index).
  std::priority_queue<std::pair<int64_t, int64_t>, std::vector<std::pair<int64_t, int64_t>>, std::greater<>> due_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  int64_t scheduled_ = 0;
  int64_t handed_out_ = 0;
};

// All `options.count` events, in the order Next hands them out.
std::vector<GeneratedEvent> GenerateAll(const GeneratorOptions& options);

}  // namespace runnel_apps::clickstream

#endif  // RUNNEL_APPS_CLICKSTREAM_GENERATOR_H_
