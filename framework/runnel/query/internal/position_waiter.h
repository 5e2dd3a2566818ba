#ifndef RUNNEL_QUERY_INTERNAL_POSITION_WAITER_H_
#define RUNNEL_QUERY_INTERNAL_POSITION_WAITER_H_

// Parks the requests that wait for ReadOptions.min_position, so that a wait
// holds no worker thread: one thread of its own sleeps until a store copy's
// position advances (a StoreCopyStatus position listener signals it), a
// parked request's deadline passes (measured with the injected Clock), or
// `recheck` has passed (to notice cancelled requests and a clock that is
// moved by hand), then checks the parked requests and completes those that
// are done.
//
// Owned by the QueryServer. Wait from any thread; `done` runs on the
// waiter's thread and must not block (it schedules the read). Lifecycle:
// constructed running; the destructor completes what is still parked with
// UNAVAILABLE and joins its thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/query/v1/query.pb.h"
#include "runnel/runtime/local_stores.h"

namespace runnel::query::internal {

class PositionWaiter {
 public:
  explicit PositionWaiter(const Clock& clock, absl::Duration recheck = absl::Milliseconds(100));
  ~PositionWaiter();
  PositionWaiter(const PositionWaiter&) = delete;
  PositionWaiter& operator=(const PositionWaiter&) = delete;

  using Done = std::function<void(absl::Status)>;
  // Calls `done` once: OK when every copy in `statuses` has reached
  // options.min_position (see Reached), DEADLINE_EXCEEDED when `deadline`
  // passes first, CANCELLED when `cancelled()` turns true first.
  void Wait(std::vector<std::shared_ptr<const StoreCopyStatus>> statuses, v1::ReadOptions options,
            absl::Time deadline, std::function<bool()> cancelled, Done done);

  // Requests parked now (for tests).
  size_t parked() const;

 private:
  struct Parked {
    std::vector<std::shared_ptr<const StoreCopyStatus>> statuses;
    std::vector<int64_t> listeners;
    v1::ReadOptions options;
    absl::Time deadline;
    std::function<bool()> cancelled;
    Done done;
  };
  void Run();
  // Unregisters the listeners and calls done (without the lock).
  static void Complete(Parked& parked, absl::Status status);

  const Clock& clock_;
  const absl::Duration recheck_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool signalled_ = false;
  std::list<Parked> parked_;
  std::thread thread_;
};

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_POSITION_WAITER_H_
