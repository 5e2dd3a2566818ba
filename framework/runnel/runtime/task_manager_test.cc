// TaskManager without a broker: which tasks an assignment creates, which a
// revocation or a loss closes, routing, seeking to the committed offsets,
// and the dirty close that leaves a failed thread nothing to commit.

#include "runnel/runtime/task_manager.h"

#include <filesystem>

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
using ::testing::UnorderedElementsAre;

// Counts what the tasks' sinks send.
class CountingSink final : public RecordSink {
 public:
  absl::Status Send(const SerializedRecord&) override {
    ++sent;
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 1; }
  int sent = 0;
};

class NoChangelog final : public ChangelogWriter {
 public:
  absl::Status Send(std::string_view, Partition, std::string_view, std::optional<std::string_view>,
                    Timestamp) override {
    return absl::OkStatus();
  }
};

class FakeInput final : public TaskInput {
 public:
  absl::Status Pause(const std::vector<TopicPartition>& partitions) override {
    paused.insert(paused.end(), partitions.begin(), partitions.end());
    return absl::OkStatus();
  }
  absl::Status Resume(const std::vector<TopicPartition>& partitions) override {
    resumed.insert(resumed.end(), partitions.begin(), partitions.end());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::pair<TopicPartition, Offset>>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration) override {
    if (unavailable_answers > 0) {
      --unavailable_answers;
      return absl::UnavailableError("committed offsets: Broker: Not coordinator (NOT_COORDINATOR)");
    }
    std::vector<std::pair<TopicPartition, Offset>> out;
    for (const auto& tp : partitions) {
      if (auto it = committed.find(tp); it != committed.end()) out.emplace_back(tp, it->second);
    }
    return out;
  }
  absl::Status Seek(const TopicPartition& partition, Offset offset, absl::Duration) override {
    seeks.emplace_back(partition, offset);
    return absl::OkStatus();
  }
  std::vector<TopicPartition> paused, resumed;
  std::map<TopicPartition, Offset> committed;
  std::vector<std::pair<TopicPartition, Offset>> seeks;
  int unavailable_answers = 0;  // Committed answers Unavailable this many times first
};

TopicPartition TP(std::string topic, int32_t partition) { return {std::move(topic), Partition(partition)}; }

// Sub-topology 0 merges topics "a" and "b" into "out"; sub-topology 1
// counts "c" by key into an in-memory store (a stateful task).
class TaskManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("runnel-task-manager-", getpid(), "-", ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::remove_all(dir_);
    StreamsBuilder builder;
    builder.Stream("a", Consumed(serdes::String(), serdes::String()))
        .Merge(builder.Stream("b", Consumed(serdes::String(), serdes::String())))
        .To("out", Produced(serdes::String(), serdes::String()));
    builder.Stream("c", Consumed(serdes::String(), serdes::String()))
        .GroupByKey()
        .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64())
                   .InMemory()
                   .WithLoggingDisabled());
    auto topology = builder.Build();
    ASSERT_TRUE(topology.ok()) << topology.status();
    topology_ = *topology;
    ASSERT_EQ(topology_->SubtopologyForTopic("a"), 0);
    ASSERT_EQ(topology_->SubtopologyForTopic("c"), 1);
    manager_ = std::make_unique<TaskManager>(
        "thread-1", topology_, [this](TaskId id) { return NewTask(id); },
        [] { return absl::UnimplementedError("no restore consumer in unit tests"); }, &input_, nullptr);
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<std::unique_ptr<StreamTask>> NewTask(TaskId id) {
    created_.push_back(id);
    if (id == fail_for_) return absl::InternalError("cannot build the task");
    auto graph = topology_->CreateTaskGraph(id.subtopology);
    if (!graph.ok()) return graph.status();
    StateEnv state{.application_id = "app", .app_dir = dir_, .cache_budget = &budget_, .changelog = &changelog_,
                   .clock = &clock_};
    return std::make_unique<StreamTask>(id, "app", *std::move(graph), &sink_, deserialization_.get(),
                                        processing_.get(), clock_, &topology_->stores(),
                                        topology_->subtopologies()[id.subtopology].stores, std::move(state));
  }

  std::vector<TaskId> TaskIds() const {
    std::vector<TaskId> ids;
    for (const auto& [id, task] : manager_->tasks()) ids.push_back(id);
    return ids;
  }

  // Queues `count` records on `tp` (offsets 0..count-1) and processes them
  // (`tp` must be its task's only partition: with another one empty the
  // task waits, see StreamTask::SetMaxTaskIdle).
  void Process(const TopicPartition& tp, int count) {
    StreamTask* task = manager_->TaskFor(tp.topic, tp.partition);
    ASSERT_NE(task, nullptr);
    for (int i = 0; i < count; ++i) {
      task->AddRecord(kafka::ConsumedRecord::FromParts({.topic = tp.topic,
                                                        .partition = tp.partition,
                                                        .offset = Offset(i),
                                                        .key = "k",
                                                        .value = "v",
                                                        .timestamp = Timestamp(i)}));
    }
    const int64_t before = task->processed_count();
    ASSERT_TRUE(task->Process().ok());
    ASSERT_EQ(task->processed_count() - before, count);
  }

  std::string dir_;
  std::shared_ptr<const Topology> topology_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  RecordCacheBudget budget_{1 << 20};
  CountingSink sink_;
  NoChangelog changelog_;
  FakeInput input_;
  std::unique_ptr<DeserializationErrorHandler> deserialization_ =
      MakeDeserializationErrorHandler(RecordErrorMode::kLogAndFail, "app", "", nullptr, &metrics_, clock_);
  std::unique_ptr<ProcessingErrorHandler> processing_ =
      MakeProcessingErrorHandler(RecordErrorMode::kLogAndFail, "app", "", nullptr, &metrics_, clock_);
  std::vector<TaskId> created_;
  std::optional<TaskId> fail_for_;
  std::unique_ptr<TaskManager> manager_;
};

TEST_F(TaskManagerTest, AssignCreatesOneTaskPerSubtopologyAndPartitionNumber) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0), TP("b", 0), TP("a", 1), TP("b", 1)}).ok());
  EXPECT_THAT(TaskIds(), ElementsAre(TaskId{0, Partition(0)}, TaskId{0, Partition(1)}));
  EXPECT_EQ(created_.size(), 2u);
  EXPECT_THAT(manager_->Find(TaskId{0, Partition(0)})->partitions(), ElementsAre(TP("a", 0), TP("b", 0)));
  EXPECT_THAT(input_.paused, IsEmpty());  // stateless: runs at once
}

TEST_F(TaskManagerTest, ALaterAssignmentJoinsTheExistingTask) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0)}).ok());
  StreamTask* task = manager_->Find(TaskId{0, Partition(0)});
  ASSERT_TRUE(manager_->Assign({TP("b", 0)}).ok());
  EXPECT_EQ(created_.size(), 1u);
  EXPECT_EQ(manager_->Find(TaskId{0, Partition(0)}), task);
  EXPECT_EQ(manager_->TaskFor("b", Partition(0)), task);
}

TEST_F(TaskManagerTest, IgnoresPartitionsOfTopicsTheTopologyDoesNotRead) {
  ASSERT_TRUE(manager_->Assign({TP("elsewhere", 0)}).ok());
  EXPECT_THAT(TaskIds(), IsEmpty());
  EXPECT_THAT(manager_->AssignedPartitions(), IsEmpty());
}

TEST_F(TaskManagerTest, AStatefulTaskRestoresFirstWithItsInputPaused) {
  ASSERT_TRUE(manager_->Assign({TP("a", 2), TP("c", 2)}).ok());
  EXPECT_THAT(input_.paused, ElementsAre(TP("c", 2)));
  EXPECT_TRUE(manager_->restoring());
  EXPECT_TRUE(manager_->Find(TaskId{1, Partition(2)})->restoring());
  EXPECT_FALSE(manager_->Find(TaskId{0, Partition(2)})->restoring());
}

TEST_F(TaskManagerTest, AFailedTaskCreationStopsTheAssignmentKeepingEarlierTasks) {
  fail_for_ = TaskId{0, Partition(1)};
  absl::Status s = manager_->Assign({TP("a", 0), TP("a", 1), TP("a", 2)});
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_THAT(TaskIds(), ElementsAre(TaskId{0, Partition(0)}));
  EXPECT_EQ(manager_->TaskFor("a", Partition(1)), nullptr);
}

TEST_F(TaskManagerTest, RevokeCommitsWithEveryTaskOpenThenClosesTasksLeftWithoutPartitions) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0), TP("b", 0), TP("a", 1)}).ok());
  Process(TP("a", 1), 3);
  std::vector<std::pair<TopicPartition, Offset>> committed;
  absl::Status s = manager_->Revoke({TP("a", 0), TP("a", 1)}, [&] {
    committed = manager_->UncommittedOffsets();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(committed, ElementsAre(Pair(TP("a", 1), Offset(3))));
  // Task 0_0 keeps b-0; task 0_1 had only a-1.
  EXPECT_THAT(TaskIds(), ElementsAre(TaskId{0, Partition(0)}));
  EXPECT_THAT(manager_->AssignedPartitions(), ElementsAre(TP("b", 0)));
  EXPECT_EQ(manager_->TaskFor("a", Partition(1)), nullptr);
}

TEST_F(TaskManagerTest, RevokeClosesTheTasksEvenWhenTheCommitFails) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0)}).ok());
  absl::Status s = manager_->Revoke({TP("a", 0)}, [] { return absl::UnavailableError("broker gone"); });
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(TaskIds(), IsEmpty());
}

TEST_F(TaskManagerTest, ALostTaskComesBackRebuiltFromTheCommittedOffsets) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0)}).ok());
  Process(TP("a", 0), 4);
  EXPECT_EQ(sink_.sent, 4);
  manager_->Lose({TP("a", 0)});
  EXPECT_THAT(TaskIds(), IsEmpty());
  ASSERT_TRUE(manager_->Assign({TP("a", 0)}).ok());
  EXPECT_EQ(created_.size(), 2u);
  EXPECT_THAT(manager_->UncommittedOffsets(), IsEmpty());
}

TEST_F(TaskManagerTest, RoutingForgetsTheLastRouteWhenItsPartitionGoes) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0)}).ok());
  // A polled record's topic: the same address every time.
  const std::string topic = "a";
  ASSERT_NE(manager_->TaskFor(topic, Partition(0)), nullptr);
  manager_->Lose({TP("a", 0)});
  EXPECT_EQ(manager_->TaskFor(topic, Partition(0)), nullptr);
  ASSERT_TRUE(manager_->Assign({TP("a", 0)}).ok());
  EXPECT_EQ(manager_->TaskFor(topic, Partition(0)), manager_->Find(TaskId{0, Partition(0)}));
}

// A thread that fails closes its tasks dirty before its consumer leaves the
// group: the revocation that leaving triggers must find nothing to commit
// (under exactly-once it would commit, in a new transaction, offsets whose
// output the aborted one held).
TEST_F(TaskManagerTest, CloseAllLeavesTheRevocationThatFollowsNothingToCommit) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0), TP("c", 0)}).ok());
  Process(TP("a", 0), 5);
  ASSERT_THAT(manager_->UncommittedOffsets(), ElementsAre(Pair(TP("a", 0), Offset(5))));
  manager_->CloseAll();
  EXPECT_THAT(TaskIds(), IsEmpty());
  EXPECT_FALSE(manager_->restoring());
  std::vector<std::pair<TopicPartition, Offset>> committed = {{TP("x", 0), Offset(1)}};
  ASSERT_TRUE(manager_
                  ->Revoke({TP("a", 0), TP("c", 0)},
                           [&] {
                             committed = manager_->UncommittedOffsets();
                             return absl::OkStatus();
                           })
                  .ok());
  EXPECT_THAT(committed, IsEmpty());
}

TEST_F(TaskManagerTest, MarkCommittedLeavesOnlyLaterProgressUncommitted) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0), TP("a", 1)}).ok());
  Process(TP("a", 0), 2);
  Process(TP("a", 1), 3);
  auto offsets = manager_->UncommittedOffsets();
  EXPECT_THAT(offsets, UnorderedElementsAre(Pair(TP("a", 0), Offset(2)), Pair(TP("a", 1), Offset(3))));
  manager_->MarkCommitted(offsets);
  EXPECT_THAT(manager_->UncommittedOffsets(), IsEmpty());
}

TEST_F(TaskManagerTest, SeeksToTheCommittedOffsetOrTheStartWithoutOne) {
  input_.committed[TP("a", 0)] = Offset(7);
  ASSERT_TRUE(manager_->SeekToCommitted({TP("a", 0), TP("a", 1)}).ok());
  EXPECT_THAT(input_.seeks, ElementsAre(Pair(TP("a", 0), Offset(7)), Pair(TP("a", 1), Offset(-2))));
}

// The group coordinator's broker died: NOT_COORDINATOR until the new one
// has loaded the group. A rewind waits for it instead of failing the thread.
TEST_F(TaskManagerTest, ARewindAsksAgainWhileTheCoordinatorMoves) {
  input_.committed[TP("a", 0)] = Offset(7);
  input_.unavailable_answers = 2;
  ASSERT_TRUE(manager_->SeekToCommitted({TP("a", 0)}).ok());
  EXPECT_EQ(input_.unavailable_answers, 0);
  EXPECT_THAT(input_.seeks, ElementsAre(Pair(TP("a", 0), Offset(7))));
}

TEST_F(TaskManagerTest, RewindSeeksEveryPartitionAndDropsUncommittedProgress) {
  ASSERT_TRUE(manager_->Assign({TP("a", 0), TP("a", 1)}).ok());
  Process(TP("a", 0), 3);
  input_.committed[TP("a", 0)] = Offset(1);
  ASSERT_TRUE(manager_->RewindToCommitted().ok());
  EXPECT_THAT(input_.seeks, UnorderedElementsAre(Pair(TP("a", 0), Offset(1)), Pair(TP("a", 1), Offset(-2))));
  EXPECT_THAT(manager_->UncommittedOffsets(), IsEmpty());
}

}  // namespace
}  // namespace runnel
