// RecordCollector over an in-memory producer: in-flight accounting, the
// first delivery error, flush, changelog offsets, partitioning, the
// exactly-once transaction and the full-queue wait.

#include "runnel/runtime/record_collector.h"

#include <deque>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/kafka/partitioner.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Keeps sent records in flight until the test delivers them; Flush
// delivers them all successfully unless `stuck`.
class FakeProducer final : public CollectorProducer {
 public:
  explicit FakeProducer(RecordCollector* collector) : collector_(collector) {}

  absl::Status Send(const kafka::OutgoingRecord& record, absl::Duration) override {
    ++send_calls;
    if (!send_errors.empty()) {
      absl::Status s = send_errors.front();
      send_errors.pop_front();
      if (!s.ok()) return s;
    }
    pending.push_back({std::string(record.topic), record.partition.value_or(Partition(0))});
    sent.push_back(pending.back());
    return absl::OkStatus();
  }
  absl::Status Flush(absl::Duration timeout) override {
    ++flushes;
    if (stuck) return absl::DeadlineExceededError(absl::StrCat("in flight after ", absl::FormatDuration(timeout)));
    while (!pending.empty()) Deliver(absl::OkStatus());
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(const std::string&, absl::Duration) override {
    ++partition_count_calls;
    return 8;
  }
  absl::Status BeginTransaction() override {
    ++transactions_begun;
    return begin_error;
  }

  // Reports the oldest pending record: delivered at the topic partition's
  // next offset, or failed with `status`.
  void Deliver(absl::Status status) {
    Sent record = pending.front();
    pending.pop_front();
    int64_t& next = next_offset[record.topic + "-" + std::to_string(record.partition.value())];
    collector_->OnDelivery(kafka::DeliveryReport{
        .status = status, .topic = record.topic, .partition = record.partition, .offset = Offset(next)});
    if (status.ok()) ++next;
  }

  struct Sent {
    std::string topic;
    Partition partition;
  };
  std::deque<Sent> pending;
  std::vector<Sent> sent;
  std::deque<absl::Status> send_errors;
  absl::Status begin_error;
  std::map<std::string, int64_t> next_offset;
  bool stuck = false;
  int send_calls = 0;
  int flushes = 0;
  int partition_count_calls = 0;
  int transactions_begun = 0;

 private:
  RecordCollector* collector_;
};

class RecordCollectorTest : public ::testing::Test {
 protected:
  explicit RecordCollectorTest(bool exactly_once = false)
      : collector_("thread-1", exactly_once, {"app-store-changelog"}, clock_, stop_) {
    collector_.Attach(&producer_);
  }

  absl::Status SendTo(std::string_view topic, int32_t partition) {
    return collector_.Send(SerializedRecord{.topic = topic, .partition = Partition(partition), .key = "k",
                                            .value = "v", .timestamp = Timestamp(1)});
  }

  ManualClock clock_;
  std::atomic<bool> stop_{false};
  RecordCollector collector_;
  FakeProducer producer_{&collector_};
};

class ExactlyOnceRecordCollectorTest : public RecordCollectorTest {
 protected:
  ExactlyOnceRecordCollectorTest() : RecordCollectorTest(/*exactly_once=*/true) {}
};

TEST_F(RecordCollectorTest, CountsSendsInFlightUntilTheirDeliveryIsReported) {
  ASSERT_TRUE(SendTo("out", 0).ok());
  ASSERT_TRUE(SendTo("out", 1).ok());
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(0), "k", "v", Timestamp(1)).ok());
  EXPECT_EQ(collector_.in_flight(), 3);
  producer_.Deliver(absl::OkStatus());
  EXPECT_EQ(collector_.in_flight(), 2);
  producer_.Deliver(absl::UnavailableError("broker down"));
  EXPECT_EQ(collector_.in_flight(), 1);
  producer_.Deliver(absl::OkStatus());
  EXPECT_EQ(collector_.in_flight(), 0);
}

TEST_F(RecordCollectorTest, AFailedSendIsNotCountedInFlight) {
  producer_.send_errors.push_back(absl::InvalidArgumentError("record too large"));
  EXPECT_TRUE(absl::IsInvalidArgument(SendTo("out", 0)));
  EXPECT_EQ(collector_.in_flight(), 0);
}

TEST_F(RecordCollectorTest, FlushReturnsTheFirstDeliveryErrorOnceThenOk) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(SendTo("out", i).ok());
  producer_.Deliver(absl::OkStatus());
  producer_.Deliver(absl::NotFoundError("first"));
  producer_.Deliver(absl::PermissionDeniedError("second"));
  absl::Status flushed = collector_.Flush(absl::Seconds(1));
  EXPECT_TRUE(absl::IsNotFound(flushed)) << flushed;
  EXPECT_THAT(flushed.message(), ::testing::HasSubstr("out-1"));
  EXPECT_TRUE(collector_.Flush(absl::Seconds(1)).ok());
}

TEST_F(RecordCollectorTest, FlushThatTimesOutKeepsTheDeliveryErrorForTheNextFlush) {
  ASSERT_TRUE(SendTo("out", 0).ok());
  ASSERT_TRUE(SendTo("out", 0).ok());
  producer_.Deliver(absl::NotFoundError("lost"));
  producer_.stuck = true;
  EXPECT_TRUE(absl::IsDeadlineExceeded(collector_.Flush(absl::Seconds(1))));
  EXPECT_EQ(collector_.in_flight(), 1);
  producer_.stuck = false;
  EXPECT_TRUE(absl::IsNotFound(collector_.Flush(absl::Seconds(1))));
  EXPECT_EQ(collector_.in_flight(), 0);
}

TEST_F(RecordCollectorTest, FlushDeliversEverythingSentBefore) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(SendTo("out", 0).ok());
  EXPECT_TRUE(collector_.Flush(absl::Seconds(1)).ok());
  EXPECT_EQ(producer_.flushes, 1);
  EXPECT_EQ(collector_.in_flight(), 0);
}

TEST_F(RecordCollectorTest, TracksTheEndOfEachChangelogPartitionDeliveredSinceTheLastTake) {
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(2), "k", "v", Timestamp(1)).ok());
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(2), "k", "v", Timestamp(1)).ok());
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(5), "k", "v", Timestamp(1)).ok());
  ASSERT_TRUE(SendTo("out", 2).ok());  // not a changelog
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(5), "k", "v", Timestamp(1)).ok());
  producer_.Deliver(absl::OkStatus());                  // changelog-2 @0
  producer_.Deliver(absl::OkStatus());                  // changelog-2 @1
  producer_.Deliver(absl::OkStatus());                  // changelog-5 @0
  producer_.Deliver(absl::OkStatus());                  // out-2
  producer_.Deliver(absl::UnavailableError("failed"));  // changelog-5, not delivered
  EXPECT_THAT(collector_.TakeDeliveredChangelogOffsets(),
              UnorderedElementsAre(Pair(TopicPartition{"app-store-changelog", Partition(2)}, Offset(2)),
                                   Pair(TopicPartition{"app-store-changelog", Partition(5)}, Offset(1))));
  EXPECT_THAT(collector_.TakeDeliveredChangelogOffsets(), IsEmpty());
}

TEST_F(RecordCollectorTest, PartitionsByThePartitionKeyAskingTheCountOncePerTopic) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(collector_
                    .Send(SerializedRecord{.topic = "out", .key = "window+key", .partition_key = "key",
                                           .value = "v", .timestamp = Timestamp(1)})
                    .ok());
  }
  EXPECT_EQ(producer_.partition_count_calls, 1);
  ASSERT_EQ(producer_.sent.size(), 3u);
  EXPECT_EQ(producer_.sent[0].partition, kafka::PartitionForKey("key", 8));
}

TEST_F(RecordCollectorTest, AtLeastOnceOpensNoTransactionAndKeepsNoSendError) {
  producer_.send_errors.push_back(absl::InvalidArgumentError("bad"));
  EXPECT_FALSE(SendTo("out", 0).ok());
  EXPECT_EQ(producer_.transactions_begun, 0);
  EXPECT_FALSE(collector_.in_transaction());
  EXPECT_TRUE(collector_.transaction_error().ok());
}

TEST_F(RecordCollectorTest, WaitsWhileTheQueueIsFullAndSendsOnce) {
  producer_.send_errors = {absl::UnavailableError("queue full"), absl::UnavailableError("queue full")};
  EXPECT_TRUE(SendTo("out", 0).ok());
  EXPECT_EQ(producer_.send_calls, 3);
  EXPECT_EQ(producer_.sent.size(), 1u);
  EXPECT_EQ(collector_.in_flight(), 1);
}

TEST_F(RecordCollectorTest, AStopRequestEndsTheWaitForAFullQueue) {
  producer_.send_errors = {absl::UnavailableError("queue full"), absl::UnavailableError("queue full")};
  stop_.store(true);
  EXPECT_TRUE(absl::IsCancelled(SendTo("out", 0)));
  EXPECT_EQ(producer_.send_calls, 1);
  EXPECT_EQ(collector_.in_flight(), 0);
}

TEST_F(RecordCollectorTest, AttachingAReplacementStartsWithNothingInFlightAndNoError) {
  ASSERT_TRUE(SendTo("out", 0).ok());
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(0), "k", "v", Timestamp(1)).ok());
  ASSERT_TRUE(SendTo("out", 0).ok());
  producer_.Deliver(absl::NotFoundError("lost"));
  producer_.Deliver(absl::OkStatus());
  FakeProducer replacement(&collector_);
  collector_.Attach(&replacement);
  EXPECT_EQ(collector_.in_flight(), 0);
  EXPECT_THAT(collector_.TakeDeliveredChangelogOffsets(), IsEmpty());
  EXPECT_TRUE(collector_.Flush(absl::Seconds(1)).ok());
  ASSERT_TRUE(SendTo("out", 0).ok());
  EXPECT_EQ(replacement.sent.size(), 1u);
}

TEST_F(ExactlyOnceRecordCollectorTest, TheFirstSendAfterACommitOpensTheTransaction) {
  ASSERT_TRUE(SendTo("out", 0).ok());
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(0), "k", "v", Timestamp(1)).ok());
  EXPECT_EQ(producer_.transactions_begun, 1);
  EXPECT_TRUE(collector_.in_transaction());
  collector_.TransactionCommitted();
  EXPECT_FALSE(collector_.in_transaction());
  ASSERT_TRUE(SendTo("out", 0).ok());
  EXPECT_EQ(producer_.transactions_begun, 2);
}

TEST_F(ExactlyOnceRecordCollectorTest, KeepsTheFirstSendErrorOfTheTransactionUntilItEnds) {
  producer_.send_errors = {absl::AbortedError("first"), absl::InternalError("second")};
  EXPECT_TRUE(absl::IsAborted(SendTo("out", 0)));
  EXPECT_TRUE(absl::IsInternal(SendTo("out", 0)));
  EXPECT_TRUE(absl::IsAborted(collector_.transaction_error())) << collector_.transaction_error();
  collector_.TransactionAborted();
  EXPECT_TRUE(collector_.transaction_error().ok());
  EXPECT_FALSE(collector_.in_transaction());
}

TEST_F(ExactlyOnceRecordCollectorTest, FailingToOpenTheTransactionIsTheTransactionsError) {
  producer_.begin_error = absl::FailedPreconditionError("fenced");
  EXPECT_TRUE(absl::IsFailedPrecondition(SendTo("out", 0)));
  EXPECT_TRUE(absl::IsFailedPrecondition(collector_.transaction_error()));
  EXPECT_FALSE(collector_.in_transaction());
  EXPECT_THAT(producer_.sent, IsEmpty());
}

TEST_F(ExactlyOnceRecordCollectorTest, AnAbortForgetsTheChangelogOffsetsItsRecordsReached) {
  ASSERT_TRUE(collector_.Send("app-store-changelog", Partition(0), "k", "v", Timestamp(1)).ok());
  producer_.Deliver(absl::OkStatus());
  collector_.TransactionAborted();
  EXPECT_THAT(collector_.TakeDeliveredChangelogOffsets(), IsEmpty());
}

TEST_F(ExactlyOnceRecordCollectorTest, AQueueFullWaitIsNotATransactionError) {
  producer_.send_errors = {absl::UnavailableError("queue full")};
  EXPECT_TRUE(SendTo("out", 0).ok());
  EXPECT_TRUE(collector_.transaction_error().ok());
  EXPECT_THAT(producer_.sent, ElementsAre(::testing::_));
}

}  // namespace
}  // namespace runnel
