// StreamTask on its own: the order records are taken in across partitions,
// max.task.idle.ms, and the offsets it reports for commit.

#include "runnel/runtime/stream_task.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/runtime/dead_letter.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// What the task's sink sends: values in order.
class CapturingSink final : public RecordSink {
 public:
  absl::Status Send(const SerializedRecord& r) override {
    values.emplace_back(*r.value);
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 1; }
  std::vector<std::string> values;
};

// Topics "a" and "b" merged into "out"; a value "throw" throws.
class StreamTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StreamsBuilder builder;
    auto a = builder.Stream("a", Consumed(serdes::String(), serdes::String()));
    a.Merge(builder.Stream("b", Consumed(serdes::String(), serdes::String())))
        .MapValues([](const std::string& v) {
          if (v == "throw") throw std::runtime_error("no");
          return v;
        })
        .To("out", Produced(serdes::String(), serdes::String()));
    auto topology = builder.Build();
    ASSERT_TRUE(topology.ok()) << topology.status();
    topology_ = *topology;
    ASSERT_EQ(topology_->subtopologies().size(), 1u);
  }

  std::unique_ptr<StreamTask> NewTask(int64_t max_idle_ms) {
    auto graph = topology_->CreateTaskGraph(0);
    EXPECT_TRUE(graph.ok()) << graph.status();
    auto task = std::make_unique<StreamTask>(TaskId{0, Partition(3)}, "app", *std::move(graph), &sink_,
                                             deserialization_.get(), processing_.get(), clock_);
    task->AddPartition(a_);
    task->AddPartition(b_);
    task->SetMaxTaskIdle(max_idle_ms);
    EXPECT_TRUE(task->Init().ok());
    return task;
  }

  static kafka::ConsumedRecord Record(const TopicPartition& tp, int64_t offset, int64_t ts, std::string value) {
    return kafka::ConsumedRecord::FromParts({.topic = tp.topic,
                                             .partition = tp.partition,
                                             .offset = Offset(offset),
                                             .key = "k",
                                             .value = std::move(value),
                                             .timestamp = Timestamp(ts)});
  }

  const TopicPartition a_{"a", Partition(3)}, b_{"b", Partition(3)};
  std::shared_ptr<const Topology> topology_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  CapturingSink sink_;
  std::unique_ptr<DeserializationErrorHandler> deserialization_ =
      MakeDeserializationErrorHandler(RecordErrorMode::kLogAndFail, "app", "", nullptr, &metrics_, clock_);
  std::unique_ptr<ProcessingErrorHandler> processing_ =
      MakeProcessingErrorHandler(RecordErrorMode::kLogAndFail, "app", "", nullptr, &metrics_, clock_);
};

TEST_F(StreamTaskTest, TakesTheLowestTimestampAcrossPartitionsAndAdvancesStreamTime) {
  auto task = NewTask(-1);
  task->AddRecord(Record(a_, 10, 1, "a1"));
  task->AddRecord(Record(a_, 11, 4, "a4"));
  task->AddRecord(Record(b_, 20, 2, "b2"));
  task->AddRecord(Record(b_, 21, 3, "b3"));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(sink_.values, ElementsAre("a1", "b2", "b3", "a4"));
  EXPECT_EQ(task->stream_time(), Timestamp(4));
  EXPECT_EQ(task->processed_count(), 4);
  EXPECT_EQ(task->queued(), 0u);
}

TEST_F(StreamTaskTest, WaitsForAnEmptyPartitionUntilItIsAtItsEnd) {
  auto task = NewTask(0);
  task->AddRecord(Record(a_, 10, 5, "a5"));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(sink_.values, IsEmpty());  // b may still have an earlier record on the broker
  task->MarkEndOfPartition(b_, Offset(0));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(sink_.values, ElementsAre("a5"));
}

TEST_F(StreamTaskTest, WithAnIdleTimeWaitsThatLongForACaughtUpPartition) {
  auto task = NewTask(1000);
  task->MarkEndOfPartition(b_, Offset(0));
  task->AddRecord(Record(a_, 10, 5, "a5"));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(sink_.values, IsEmpty());
  clock_.Advance(absl::Milliseconds(999));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(sink_.values, IsEmpty());
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(sink_.values, ElementsAre("a5"));
}

TEST_F(StreamTaskTest, ReportsTheNextOffsetPerPartitionAndNotTheFailedRecords) {
  auto task = NewTask(-1);
  task->AddRecord(Record(a_, 10, 1, "a1"));
  task->AddRecord(Record(b_, 20, 2, "b2"));
  task->AddRecord(Record(a_, 11, 3, "throw"));
  task->AddRecord(Record(b_, 21, 4, "b4"));
  absl::Status s = task->Process();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("task 0_3 at a-3@11"));
  // The failed record and what follows it are not processed.
  EXPECT_THAT(task->UncommittedOffsets(), ElementsAre(Pair(a_, Offset(11)), Pair(b_, Offset(21))));
  task->MarkCommitted(task->UncommittedOffsets());
  EXPECT_THAT(task->UncommittedOffsets(), IsEmpty());
  // After a rewind the queued records are gone and progress is the commit's.
  task->ResetToCommitted();
  EXPECT_EQ(task->queued(), 0u);
  task->AddRecord(Record(b_, 21, 4, "b4"));
  ASSERT_TRUE(task->Process().ok());
  EXPECT_THAT(task->UncommittedOffsets(), ElementsAre(Pair(b_, Offset(22))));
}

TEST_F(StreamTaskTest, PositionsForTheLagAreTheNextRecordToProcessOrTheReportedEnd) {
  auto task = NewTask(-1);
  std::vector<std::pair<TopicPartition, Offset>> positions;
  task->AppendPositions(positions);
  EXPECT_THAT(positions, IsEmpty());  // nothing polled, no end reported
  task->AddRecord(Record(a_, 10, 1, "a1"));
  task->AddRecord(Record(a_, 11, 2, "a2"));
  task->MarkEndOfPartition(b_, Offset(7));
  task->AppendPositions(positions);
  // a's first queued record; b's reported end.
  EXPECT_THAT(positions, ElementsAre(Pair(a_, Offset(10)), Pair(b_, Offset(7))));
  ASSERT_TRUE(task->Process().ok());
  // A trailing transaction marker: the end lies one past the last record.
  task->MarkEndOfPartition(a_, Offset(13));
  positions.clear();
  task->AppendPositions(positions);
  EXPECT_THAT(positions, ElementsAre(Pair(a_, Offset(13)), Pair(b_, Offset(7))));
  // A rewind forgets the ends: the consumer seeks back to the commit.
  task->ResetToCommitted();
  positions.clear();
  task->AppendPositions(positions);
  EXPECT_THAT(positions, IsEmpty());
}

TEST_F(StreamTaskTest, CountsItsRecordsAndMeasuresTheirEndToEndLatency) {
  clock_.Set(absl::FromUnixMillis(10'000));
  auto task = NewTask(-1);
  task->AddRecord(Record(a_, 10, 8'000, "a1"));  // 2 s old when processed
  task->AddRecord(Record(b_, 20, 9'500, "b1"));  // 0.5 s
  task->AddRecord(Record(a_, 11, 12'000, "a2"));  // from the future: 0
  ASSERT_TRUE(task->Process().ok());
  MetricsRegistry& m = task->metrics();
  EXPECT_EQ(m.GetCounter("runnel_task_records_consumed_total", {{"task", "0_3"}, {"topic", "a"}})->value(), 2);
  EXPECT_EQ(m.GetCounter("runnel_task_records_consumed_total", {{"task", "0_3"}, {"topic", "b"}})->value(), 1);
  EXPECT_EQ(m.GetCounter("runnel_task_records_processed_total", {{"task", "0_3"}})->value(), 3);
  EXPECT_EQ(m.GetCounter("runnel_task_records_produced_total", {{"task", "0_3"}, {"topic", "out"}})->value(), 3);
  Histogram::Snapshot e2e =
      m.GetHistogram("runnel_record_e2e_latency_seconds", {{"task", "0_3"}}, EndToEndLatencyBuckets())->Read();
  EXPECT_EQ(e2e.count, 3);
  EXPECT_DOUBLE_EQ(e2e.sum, 2.5);
  Histogram::Snapshot process =
      m.GetHistogram("runnel_process_latency_seconds", {{"task", "0_3"}}, ProcessLatencyBuckets())->Read();
  EXPECT_EQ(process.count, 3);
}

TEST_F(StreamTaskTest, CountsItselfInTheGaugeOfItsState) {
  auto task = NewTask(-1);
  MetricsRegistry& m = task->metrics();
  auto tasks = [&m](const char* state) { return m.GetGauge("runnel_tasks", {{"state", state}})->value(); };
  EXPECT_EQ(tasks("running"), 1);  // stateless: running once initialized
  EXPECT_EQ(tasks("created"), 0);
  task->set_restoring(true);
  EXPECT_EQ(tasks("restoring"), 1);
  EXPECT_EQ(tasks("running"), 0);
  task->set_restoring(false);
  task->Close();
  EXPECT_EQ(tasks("created") + tasks("restoring") + tasks("running"), 0);
}

}  // namespace
}  // namespace runnel
