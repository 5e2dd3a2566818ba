#ifndef RUNNEL_QUERY_INTERNAL_EXECUTOR_H_
#define RUNNEL_QUERY_INTERNAL_EXECUTOR_H_

// Fixed worker threads for what must not run on gRPC's callback threads:
// forwards, range merges and uncommitted reads.
//
// Owned by the QueryServer. Run from any thread. Lifecycle: constructed
// running; the destructor lets the workers finish the queued jobs and
// joins them.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace runnel::query::internal {

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Run(std::function<void()> job);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_EXECUTOR_H_
