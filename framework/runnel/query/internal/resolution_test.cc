#include "runnel/query/internal/resolution.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/serde/serdes.h"

namespace runnel::query::internal {
namespace {

using ::testing::HasSubstr;

constexpr int32_t kPartitions = 6;

// "counts" (key-value, string keys), "windows" (a window store) and
// "scratch" (in memory) over one input.
std::shared_ptr<const Topology> TestTopology() {
  StreamsBuilder builder;
  auto grouped = builder.Stream("in", Consumed(serdes::String(), serdes::String())).GroupByKey();
  grouped.Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()));
  grouped.WindowedBy(TimeWindows::OfSizeAndGrace(absl::Minutes(1), absl::Hours(1)))
      .Count(Materialized<std::string, int64_t>::As("windows", serdes::String(), serdes::Int64()));
  builder.Stream("in2", Consumed(serdes::String(), serdes::String()))
      .GroupByKey()
      .Count(Materialized<std::string, int64_t>::As("scratch", serdes::String(), serdes::Int64()).InMemory());
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

class ResolutionTest : public ::testing::Test {
 protected:
  StoreRef Counts() {
    auto ref = FindStore(*topology_, "counts", StoreSpec::Layout::kKeyValue);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return *ref;
  }
  std::shared_ptr<const Topology> topology_ = TestTopology();
};

TEST_F(ResolutionTest, FindStoreNamesWhatIsWrong) {
  auto empty = FindStore(*topology_, "", std::nullopt);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("store"));
  auto missing = FindStore(*topology_, "nope", std::nullopt);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("queryable stores: [counts"));
  auto wrong_kind = FindStore(*topology_, "windows", StoreSpec::Layout::kKeyValue);
  EXPECT_EQ(wrong_kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_kind.status().message()), HasSubstr("is a window store"));
  auto in_memory = FindStore(*topology_, "scratch", std::nullopt);
  EXPECT_EQ(in_memory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(in_memory.status().message()), HasSubstr("in memory"));
  auto counts = FindStore(*topology_, "counts", StoreSpec::Layout::kKeyValue);
  ASSERT_TRUE(counts.ok());
  EXPECT_GE(counts->subtopology, 0);
}

TEST_F(ResolutionTest, KeysAndBoundsNameTheFieldThatDoesNotDecode) {
  const StoreRef ref = Counts();
  auto missing = KeyBytes(ref, v1::Key(), "key");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing key"));
  v1::Key text;
  text.set_text("sensor-1");
  auto bytes = KeyBytes(ref, text, "key");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, "sensor-1");
  v1::Key a, b;
  a.set_text("a");
  b.set_text("b");
  auto reversed = ResolveBounds(ref, &b, "key_from", &a, "key_to");
  EXPECT_EQ(reversed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(reversed.status().message()), HasSubstr("key_from is after key_to"));
  auto no_to = ResolveBounds(ref, &a, "from", nullptr, "to");
  ASSERT_TRUE(no_to.ok());
  EXPECT_EQ(no_to->lo, "a");
  EXPECT_FALSE(no_to->hi.has_value());
  v1::Key unset;
  auto bad_to = ResolveBounds(ref, &a, "from", &unset, "to");
  EXPECT_THAT(std::string(bad_to.status().message()), HasSubstr("missing to"));
}

TEST_F(ResolutionTest, OptionsAndLimitsAreChecked) {
  EXPECT_EQ(CheckLimit(0).value(), static_cast<size_t>(kMaxLimit));
  EXPECT_EQ(CheckLimit(7).value(), 7u);
  auto negative = CheckLimit(-3);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(negative.status().message()), HasSubstr("limit"));
  EXPECT_EQ(CheckLimit(kMaxLimit + 1).status().code(), absl::StatusCode::kInvalidArgument);
  v1::ReadOptions options;
  options.set_max_lag(-1);
  EXPECT_THAT(std::string(CheckOptions(options).message()), HasSubstr("max_lag"));
  options.set_max_lag(5);
  options.set_uncommitted(true);
  EXPECT_EQ(CheckOptions(options).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NoUncommittedRange(options).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(CheckTimeRange(10, 5).message()), HasSubstr("time_from (10) is after time_to (5)"));
  EXPECT_TRUE(CheckTimeRange(5, 5).ok());
}

// Routing over a hand-made assignment: this instance is "me" at
// me:1; "other" at other:1 owns what "me" does not.
class RoutingTest : public ResolutionTest {
 protected:
  void SetUp() override {
    metadata_ = std::make_shared<KafkaStreams::GroupMetadata>();
    metadata_->endpoints = {{"me", "me:1"}, {"other", "other:1"}, {"mute", ""}};
    for (int32_t p = 0; p < kPartitions; ++p) metadata_->active[Task(p)] = "other";
  }
  TaskId Task(int32_t partition) { return TaskId{Counts().subtopology, Partition(partition)}; }
  static int32_t PartitionOf(std::string_view key) { return kafka::PartitionForKey(key, kPartitions).value(); }

  // A local copy of `counts` for the key's partition.
  std::shared_ptr<StoreCopyStatus> AddCopy(std::string_view key, bool standby, bool ready) {
    auto status = std::make_shared<StoreCopyStatus>(standby);
    status->set_ready(ready);
    local_.Add("counts", Task(PartitionOf(key)), nullptr, status);
    return status;
  }

  absl::StatusOr<Target> RouteKey(std::string_view key, const v1::ReadOptions& options = {}) {
    RoutingContext context{local_, "me", partitions_, [this]() -> absl::StatusOr<std::shared_ptr<const KafkaStreams::GroupMetadata>> {
                             if (!metadata_status_.ok()) return metadata_status_;
                             return std::shared_ptr<const KafkaStreams::GroupMetadata>(metadata_);
                           }};
    return Route(Counts(), key, options, context);
  }

  LocalStores local_;
  std::shared_ptr<KafkaStreams::GroupMetadata> metadata_;
  absl::Status metadata_status_ = absl::OkStatus();
  int32_t partitions_ = kPartitions;
};

TEST_F(RoutingTest, AKeyGoesToItsPartitionsOwner) {
  auto target = RouteKey("sensor-1");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->partition, PartitionOf("sensor-1"));
  EXPECT_FALSE(target->local.has_value());
  EXPECT_EQ(target->remote, "other:1");
}

TEST_F(RoutingTest, AReadyLocalActiveCopyAnswersHere) {
  AddCopy("sensor-1", /*standby=*/false, /*ready=*/true);
  metadata_->active[Task(PartitionOf("sensor-1"))] = "me";
  auto target = RouteKey("sensor-1");
  ASSERT_TRUE(target.ok()) << target.status();
  ASSERT_TRUE(target->local.has_value());
  EXPECT_EQ(target->local->task, Task(PartitionOf("sensor-1")));
  EXPECT_TRUE(target->remote.empty());
}

TEST_F(RoutingTest, ALocalStandbyForwardsToTheOwnerUnlessStalenessIsAllowedAndForwardingIsNot) {
  auto status = AddCopy("sensor-1", /*standby=*/true, /*ready=*/false);
  status->SetChangelogEnd(Offset(10));
  status->SetChangelogPosition(Offset(7));  // lag 3
  auto forwarded = RouteKey("sensor-1");
  ASSERT_TRUE(forwarded.ok());
  EXPECT_EQ(forwarded->remote, "other:1");
  v1::ReadOptions options;
  options.set_no_forward(true);
  options.set_max_lag(3);
  auto here = RouteKey("sensor-1", options);
  ASSERT_TRUE(here.ok()) << here.status();
  EXPECT_TRUE(here->local.has_value());
  options.set_max_lag(2);
  auto too_stale = RouteKey("sensor-1", options);
  EXPECT_EQ(too_stale.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(too_stale.status().message()), HasSubstr("only a standby"));
}

TEST_F(RoutingTest, WithMaxLagARemoteStandbyAnswersWhenTheOwnerCannot) {
  const TaskId task = Task(PartitionOf("sensor-1"));
  metadata_->active.erase(task);
  metadata_->standbys[task] = {"me", "other"};
  v1::ReadOptions options;
  EXPECT_EQ(RouteKey("sensor-1", options).status().code(), absl::StatusCode::kUnavailable);
  options.set_max_lag(100);
  auto target = RouteKey("sensor-1", options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->remote, "other:1");
}

TEST_F(RoutingTest, AMissingOwnerIsUnavailableSayingWhy) {
  metadata_->active.erase(Task(PartitionOf("sensor-1")));
  auto none = RouteKey("sensor-1");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no instance owns it"));
  metadata_->active[Task(PartitionOf("sensor-1"))] = "mute";
  auto mute = RouteKey("sensor-1");
  EXPECT_EQ(mute.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(mute.status().message()), HasSubstr("has no application.server"));
  metadata_status_ = absl::UnavailableError("the group is rebalancing");
  auto rebalancing = RouteKey("sensor-1");
  EXPECT_EQ(rebalancing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(rebalancing.status().message()), HasSubstr("rebalancing"));
  partitions_ = 0;
  EXPECT_THAT(std::string(RouteKey("sensor-1").status().message()), HasSubstr("not known yet"));
}

TEST_F(RoutingTest, ARestoringOwnerCopyIsNotReadWithoutMaxLag) {
  AddCopy("sensor-1", /*standby=*/false, /*ready=*/false);
  metadata_->active[Task(PartitionOf("sensor-1"))] = "me";
  auto target = RouteKey("sensor-1");
  EXPECT_EQ(target.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(target.status().message()), HasSubstr("still restoring"));
}

TEST_F(RoutingTest, RangeCopiesAreReadyActivesOrStandbysWithinTheLagThatReachedThePosition) {
  auto active = AddCopy("sensor-1", /*standby=*/false, /*ready=*/true);
  active->SetChangelog(TopicPartition{"cl", Partition(0)});
  active->SetChangelogPosition(Offset(5));
  std::string other_key = "sensor-2";
  while (PartitionOf(other_key) == PartitionOf("sensor-1")) other_key += "x";
  auto standby = AddCopy(other_key, /*standby=*/true, /*ready=*/false);
  standby->SetChangelogEnd(Offset(4));
  standby->SetChangelogPosition(Offset(3));
  v1::ReadOptions options;
  EXPECT_EQ(RangeCopies(local_.FindCopies("counts"), options).size(), 1u);
  options.set_max_lag(1);
  EXPECT_EQ(RangeCopies(local_.FindCopies("counts"), options).size(), 2u);
  v1::TopicOffset* want = options.add_min_position();
  want->set_topic("cl");
  want->set_partition(0);
  want->set_offset(6);
  EXPECT_TRUE(RangeCopies(local_.FindCopies("counts"), options).empty());
  active->SetChangelogPosition(Offset(6));
  EXPECT_TRUE(Reached(active.get(), options));
  EXPECT_EQ(RangeCopies(local_.FindCopies("counts"), options).size(), 1u);
}

}  // namespace
}  // namespace runnel::query::internal
