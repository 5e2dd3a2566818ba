#include "runnel/query/internal/position_waiter.h"

#include <atomic>
#include <future>
#include <memory>

#include "gtest/gtest.h"

namespace runnel::query::internal {
namespace {

// A copy whose changelog "cl"-0 is at `position`.
std::shared_ptr<StoreCopyStatus> CopyAt(int64_t position) {
  auto status = std::make_shared<StoreCopyStatus>(/*standby=*/false);
  status->SetChangelog(TopicPartition{"cl", Partition(0)});
  status->SetChangelogPosition(Offset(position));
  return status;
}

v1::ReadOptions AtLeast(int64_t offset) {
  v1::ReadOptions options;
  v1::TopicOffset* p = options.add_min_position();
  p->set_topic("cl");
  p->set_partition(0);
  p->set_offset(offset);
  return options;
}

struct Result {
  std::promise<absl::Status> promise;
  std::future<absl::Status> future = promise.get_future();
  PositionWaiter::Done Callback() {
    return [this](absl::Status s) { promise.set_value(std::move(s)); };
  }
  bool Ready(absl::Duration within) {
    return future.wait_for(absl::ToChronoMilliseconds(within)) == std::future_status::ready;
  }
};

TEST(PositionWaiterTest, APositionAdvanceWakesTheWaitWithoutPolling) {
  ManualClock clock;
  // A recheck of an hour: only the position's notification can end the wait.
  PositionWaiter waiter(clock, absl::Hours(1));
  auto status = CopyAt(5);
  Result result;
  waiter.Wait({status}, AtLeast(7), clock.Now() + absl::Seconds(10), [] { return false; }, result.Callback());
  EXPECT_FALSE(result.Ready(absl::Milliseconds(100)));
  EXPECT_EQ(waiter.parked(), 1u);
  status->SetChangelogPosition(Offset(6));
  EXPECT_FALSE(result.Ready(absl::Milliseconds(100)));
  status->SetChangelogPosition(Offset(7));
  ASSERT_TRUE(result.Ready(absl::Seconds(5)));
  EXPECT_TRUE(result.future.get().ok());
  EXPECT_EQ(waiter.parked(), 0u);
}

TEST(PositionWaiterTest, InputPositionsWakeItToo) {
  ManualClock clock;
  PositionWaiter waiter(clock, absl::Hours(1));
  auto status = std::make_shared<StoreCopyStatus>(/*standby=*/false);
  Result result;
  v1::ReadOptions options;
  v1::TopicOffset* p = options.add_min_position();
  p->set_topic("in");
  p->set_partition(2);
  p->set_offset(100);
  waiter.Wait({status}, options, absl::InfiniteFuture(), [] { return false; }, result.Callback());
  status->SetInputPositions({{TopicPartition{"in", Partition(2)}, Offset(100)}});
  ASSERT_TRUE(result.Ready(absl::Seconds(5)));
  EXPECT_TRUE(result.future.get().ok());
}

TEST(PositionWaiterTest, TheDeadlineByTheInjectedClockEndsTheWait) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  PositionWaiter waiter(clock, absl::Milliseconds(10));
  auto status = CopyAt(5);
  Result result;
  waiter.Wait({status}, AtLeast(7), clock.Now() + absl::Seconds(30), [] { return false; }, result.Callback());
  // Real time passes, the clock does not: still waiting.
  EXPECT_FALSE(result.Ready(absl::Milliseconds(200)));
  clock.Advance(absl::Seconds(31));
  ASSERT_TRUE(result.Ready(absl::Seconds(5)));
  EXPECT_EQ(result.future.get().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(PositionWaiterTest, ACancelledRequestStopsWaiting) {
  ManualClock clock;
  PositionWaiter waiter(clock, absl::Milliseconds(10));
  auto status = CopyAt(5);
  std::atomic<bool> cancelled{false};
  Result result;
  waiter.Wait({status}, AtLeast(7), absl::InfiniteFuture(), [&] { return cancelled.load(); }, result.Callback());
  EXPECT_FALSE(result.Ready(absl::Milliseconds(50)));
  cancelled = true;
  ASSERT_TRUE(result.Ready(absl::Seconds(5)));
  EXPECT_EQ(result.future.get().code(), absl::StatusCode::kCancelled);
}

TEST(PositionWaiterTest, AllCopiesMustReachThePosition) {
  ManualClock clock;
  PositionWaiter waiter(clock, absl::Hours(1));
  auto a = CopyAt(5), b = CopyAt(5);
  Result result;
  waiter.Wait({a, b}, AtLeast(6), absl::InfiniteFuture(), [] { return false; }, result.Callback());
  a->SetChangelogPosition(Offset(6));
  EXPECT_FALSE(result.Ready(absl::Milliseconds(100)));
  b->SetChangelogPosition(Offset(6));
  ASSERT_TRUE(result.Ready(absl::Seconds(5)));
  EXPECT_TRUE(result.future.get().ok());
}

TEST(PositionWaiterTest, ShuttingDownEndsParkedWaitsAsUnavailable) {
  ManualClock clock;
  auto status = CopyAt(5);
  Result result;
  {
    PositionWaiter waiter(clock, absl::Hours(1));
    waiter.Wait({status}, AtLeast(7), absl::InfiniteFuture(), [] { return false; }, result.Callback());
  }
  ASSERT_TRUE(result.Ready(absl::Seconds(1)));
  EXPECT_EQ(result.future.get().code(), absl::StatusCode::kUnavailable);
  // Its listener is gone: advancing the position calls nothing.
  status->SetChangelogPosition(Offset(8));
}

}  // namespace
}  // namespace runnel::query::internal
