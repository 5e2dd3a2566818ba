#include "runnel/common/clock.h"

#include "absl/time/clock.h"

namespace runnel {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

Clock& Clock::System() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace runnel
