#include "runnel/query/internal/position_waiter.h"

#include <algorithm>
#include <utility>

#include "runnel/query/internal/resolution.h"

namespace runnel::query::internal {

PositionWaiter::PositionWaiter(const Clock& clock, absl::Duration recheck)
    : clock_(clock), recheck_(recheck), thread_([this] { Run(); }) {}

PositionWaiter::~PositionWaiter() {
  std::list<Parked> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    left.swap(parked_);
  }
  wake_.notify_all();
  thread_.join();
  for (auto& p : left) Complete(p, absl::UnavailableError("the query server is shutting down"));
}

void PositionWaiter::Wait(std::vector<std::shared_ptr<const StoreCopyStatus>> statuses, v1::ReadOptions options,
                          absl::Time deadline, std::function<bool()> cancelled, Done done) {
  Parked parked{std::move(statuses), {}, std::move(options), deadline, std::move(cancelled), std::move(done)};
  // Registered before the request is parked (a listener only signals), and
  // outside mu_: a writer calls listeners under the status's own lock.
  for (const auto& status : parked.statuses) {
    if (status == nullptr) continue;
    parked.listeners.push_back(status->AddPositionListener([this] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        signalled_ = true;
      }
      wake_.notify_one();
    }));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      parked_.push_back(std::move(parked));
      signalled_ = true;
      wake_.notify_one();
      return;
    }
  }
  Complete(parked, absl::UnavailableError("the query server is shutting down"));
}

size_t PositionWaiter::parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size();
}

void PositionWaiter::Complete(Parked& parked, absl::Status status) {
  size_t i = 0;
  for (const auto& s : parked.statuses) {
    if (s != nullptr) s->RemovePositionListener(parked.listeners[i++]);
  }
  parked.done(std::move(status));
}

void PositionWaiter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    signalled_ = false;
    const absl::Time now = clock_.Now();
    std::list<std::pair<Parked, absl::Status>> finished;
    absl::Time next = now + recheck_;
    for (auto it = parked_.begin(); it != parked_.end();) {
      const bool reached = std::all_of(it->statuses.begin(), it->statuses.end(),
                                       [&](const auto& s) { return Reached(s.get(), it->options); });
      absl::Status status = absl::OkStatus();
      if (!reached) {
        if (it->cancelled && it->cancelled()) {
          status = absl::CancelledError("the client cancelled the request");
        } else if (now >= it->deadline) {
          status = absl::DeadlineExceededError(
              "the store did not reach the requested min_position before the deadline");
        } else {
          next = std::min(next, it->deadline);
          ++it;
          continue;
        }
      }
      finished.emplace_back(std::move(*it), std::move(status));
      it = parked_.erase(it);
    }
    if (!finished.empty()) {
      lock.unlock();
      for (auto& [parked, status] : finished) Complete(parked, std::move(status));
      lock.lock();
      continue;
    }
    if (stop_ || signalled_) continue;
    wake_.wait_for(lock, absl::ToChronoNanoseconds(std::max(next - now, absl::ZeroDuration())),
                   [this] { return stop_ || signalled_; });
  }
}

}  // namespace runnel::query::internal
