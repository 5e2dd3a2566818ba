// ChangelogReader against an in-memory consumer: restores to an end
// (including one past a trailing commit marker), following with no end,
// failures of the stores, and the patience measured on the injected clock.

#include "runnel/runtime/changelog_reader.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/runtime/internal/fake_changelog_consumer.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// Records what it was given, per partition; fails when told to.
class RecordingSink final : public ChangelogSink {
 public:
  absl::Status Apply(const TopicPartition& tp, const std::vector<const kafka::ConsumedRecord*>& records,
                     Offset next) override {
    ++calls;
    if (!fail_with.ok()) return fail_with;
    for (const auto* r : records) {
      offsets[tp].push_back(r->offset().value());
      keys[tp].push_back(std::string(*r->key()));
    }
    nexts[tp].push_back(next.value());
    return absl::OkStatus();
  }

  absl::Status fail_with;
  int calls = 0;
  std::map<TopicPartition, std::vector<int64_t>> offsets;
  std::map<TopicPartition, std::vector<std::string>> keys;
  std::map<TopicPartition, std::vector<int64_t>> nexts;
};

class ChangelogReaderTest : public ::testing::Test {
 protected:
  void Fill(const TopicPartition& tp, int n) {
    for (int i = 0; i < n; ++i) consumer_.Append(tp, absl::StrCat("k", i), absl::StrCat("v", i));
  }
  ChangelogPartition Restoring(const TopicPartition& tp, Offset start, Offset end) {
    return {.tp = tp, .start = start, .end = end, .sink = &sink_, .owner = "task 0_0", .store = tp.topic};
  }
  ChangelogReader Reader() {
    return ChangelogReader(consumer_, {.clock = &clock_,
                                       .restored_records = metrics_.GetCounter("records"),
                                       .restored_bytes = metrics_.GetCounter("bytes"),
                                       .restore_micros = metrics_.GetCounter("micros")});
  }
  // Restores in 1 s slices until done; at most `slices` of them.
  static absl::StatusOr<bool> RestoreAll(ChangelogReader& reader, int slices = 100) {
    for (int i = 0; i < slices; ++i) {
      auto done = reader.Restore(absl::Seconds(1));
      if (!done.ok() || *done) return done;
    }
    return false;
  }

  const TopicPartition a_{"app-a-changelog", Partition(0)};
  const TopicPartition b_{"app-b-changelog", Partition(3)};
  ManualClock clock_;
  runtime::internal::FakeChangelogConsumer consumer_{&clock_};
  RecordingSink sink_;
  MetricsRegistry metrics_;
};

TEST_F(ChangelogReaderTest, RestoresFromTheCheckpointedOffsetToTheEndAndCountsIt) {
  Fill(a_, 10);
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(4), Offset(10))}).ok());
  EXPECT_TRUE(reader.restoring());
  auto done = RestoreAll(reader);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  EXPECT_FALSE(reader.restoring());
  EXPECT_THAT(sink_.offsets[a_], ElementsAre(4, 5, 6, 7, 8, 9));
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(10))));
  EXPECT_EQ(reader.records_applied(), 6);
  EXPECT_EQ(metrics_.GetCounter("records")->value(), 6);
  // "k4".."k9" and "v4".."v9": 2 + 2 bytes each.
  EXPECT_EQ(metrics_.GetCounter("bytes")->value(), 24);
}

TEST_F(ChangelogReaderTest, RestoresSeveralPartitionsEachToItsOwnEndAndNoFurther) {
  Fill(a_, 7);
  Fill(b_, 25);
  // Several polls per partition; b's last one hands out offset 20 too.
  consumer_.per_poll = 4;
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(0), Offset(7)), Restoring(b_, Offset(5), Offset(20))}).ok());
  auto done = RestoreAll(reader);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(*done);
  EXPECT_EQ(sink_.offsets[a_].size(), 7u);
  // b was restored to the end measured before the restore, not past it.
  ASSERT_EQ(sink_.offsets[b_].size(), 15u);
  EXPECT_EQ(sink_.offsets[b_].front(), 5);
  EXPECT_EQ(sink_.offsets[b_].back(), 19);
  EXPECT_EQ(metrics_.GetCounter("records")->value(), 22);
  EXPECT_EQ(consumer_.polls, 4);
  // Positions say what was applied: b stops at its end, whatever it read.
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(7)), Pair(b_, Offset(20))));
}

TEST_F(ChangelogReaderTest, EachPartitionCountsItsRecordsAsTheyAreApplied) {
  Fill(a_, 7);
  Fill(b_, 25);
  consumer_.per_poll = 4;
  ChangelogReader reader = Reader();
  Counter* a_records = metrics_.GetCounter("store_records", {{"store", "a"}});
  Counter* b_records = metrics_.GetCounter("store_records", {{"store", "b"}});
  ChangelogPartition a = Restoring(a_, Offset(0), Offset(7));
  a.restored_records = a_records;
  ChangelogPartition b = Restoring(b_, Offset(5), Offset(20));
  b.restored_records = b_records;
  ASSERT_TRUE(reader.Assign({std::move(a), std::move(b)}).ok());
  // One slice of one poll: counted before the restore completes.
  ASSERT_TRUE(reader.Restore(absl::ZeroDuration()).ok());
  EXPECT_GT(a_records->value() + b_records->value(), 0);
  auto done = RestoreAll(reader);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(*done);
  EXPECT_EQ(a_records->value(), 7);
  EXPECT_EQ(b_records->value(), 15);
  EXPECT_EQ(metrics_.GetCounter("records")->value(), 22);
}

TEST_F(ChangelogReaderTest, AnEndPastATrailingCommitMarkerIsReachedThroughTheEndOfPartition) {
  // A transactional changelog: five records, a commit marker, a gap (an
  // aborted transaction's records a read_committed consumer never gets),
  // two more records and the last commit marker. The end (the last stable
  // offset) is 10; the last record is 8.
  Fill(a_, 5);
  consumer_.AppendMarker(a_);
  consumer_.AppendMarker(a_);
  consumer_.Append(a_, "k7", "v7");
  consumer_.Append(a_, "k8", "v8");
  consumer_.AppendMarker(a_);
  auto marks = consumer_.Watermarks(a_, absl::Seconds(1));
  ASSERT_TRUE(marks.ok());
  ASSERT_EQ(marks->second, Offset(10));

  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(0), marks->second)}).ok());
  auto done = reader.Restore(absl::Seconds(5));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done) << "the restore waits for a record at offset 9, which no record has";
  EXPECT_THAT(sink_.offsets[a_], ElementsAre(0, 1, 2, 3, 4, 7, 8));
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(10))));
  // The sink heard of the position past the marker, with no records.
  EXPECT_EQ(sink_.nexts[a_].back(), 10);
}

TEST_F(ChangelogReaderTest, AnEndOfPartitionPastTheRestoresEndDoesNotMoveItFurther) {
  // Records written after the end was measured come in the same fetch, and
  // so does the end of the partition past them.
  Fill(a_, 10);
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(0), Offset(5))}).ok());
  auto done = reader.Restore(absl::Seconds(1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  EXPECT_THAT(sink_.offsets[a_], ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(5))));
  EXPECT_EQ(sink_.nexts[a_].back(), 5);
}

TEST_F(ChangelogReaderTest, AStoreThatFailsStopsTheRestoreWithItsError) {
  Fill(a_, 10);
  consumer_.per_poll = 4;
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(0), Offset(10))}).ok());
  sink_.fail_with = absl::DataLossError("disk says no");
  auto done = reader.Restore(absl::Seconds(5));
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(done.status().message(), HasSubstr("disk says no"));
  EXPECT_THAT(done.status().message(), HasSubstr(absl::StrCat("applying ", a_.ToString())));
  // Nothing counts as applied, and the position did not move.
  EXPECT_EQ(reader.records_applied(), 0);
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(0))));
  EXPECT_EQ(metrics_.GetCounter("records")->value(), 0);
}

TEST_F(ChangelogReaderTest, APartitionThatStopsMovingFailsAfterThePatienceOnTheInjectedClock) {
  Fill(a_, 10);
  consumer_.per_poll = 2;
  consumer_.poll_cost = absl::Milliseconds(1);
  ChangelogReader reader(consumer_, {.clock = &clock_, .patience = absl::Seconds(60)});
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(0), Offset(10))}).ok());
  auto done = reader.Restore(absl::Milliseconds(1));
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
  consumer_.stalled = true;
  // Each empty poll waits out its timeout on the manual clock: a 30 s slice
  // is not yet patience's 60 s.
  const absl::Time before = clock_.Now();
  done = reader.Restore(absl::Seconds(30));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done);
  EXPECT_GE(clock_.Now() - before, absl::Seconds(30));
  done = reader.Restore(absl::Seconds(40));
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(done.status().message(), HasSubstr("at offset 2 of 10"));
}

TEST_F(ChangelogReaderTest, ASlowButMovingRestoreOutlastsThePatience) {
  Fill(a_, 10);
  consumer_.per_poll = 1;
  consumer_.poll_cost = absl::Seconds(20);  // 200 s in all, 20 s per record
  ChangelogReader reader(consumer_, {.clock = &clock_, .patience = absl::Seconds(60)});
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(0), Offset(10))}).ok());
  auto done = RestoreAll(reader);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  EXPECT_EQ(sink_.offsets[a_].size(), 10u);
}

TEST_F(ChangelogReaderTest, APartitionAlreadyAtItsEndIsNotAssignedAndTheRestoreIsDone) {
  Fill(a_, 3);
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({Restoring(a_, Offset(3), Offset(3))}).ok());
  EXPECT_FALSE(reader.restoring());
  EXPECT_THAT(consumer_.positions(), IsEmpty());
  auto done = reader.Restore(absl::Seconds(1));
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  EXPECT_EQ(consumer_.polls, 0);
  EXPECT_EQ(sink_.calls, 0);
}

TEST_F(ChangelogReaderTest, FollowingAppliesRecordsAsTheyArriveFromTheBeginning) {
  Fill(a_, 3);
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({{.tp = a_, .start = Offset(-2), .sink = &sink_, .owner = "standby", .store = "a"}}).ok());
  EXPECT_FALSE(reader.restoring());
  auto applied = reader.Follow(absl::Milliseconds(50));
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 3);
  consumer_.Append(a_, "late", "1");
  consumer_.Append(a_, "later", "2");
  applied = reader.Follow(absl::Milliseconds(50));
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 2);
  EXPECT_THAT(sink_.keys[a_], ElementsAre("k0", "k1", "k2", "late", "later"));
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(5))));
  // Nothing new: nothing applied, and the wait was spent on the clock.
  const absl::Time before = clock_.Now();
  applied = reader.Follow(absl::Milliseconds(50));
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 0);
  EXPECT_EQ(clock_.Now() - before, absl::Milliseconds(50));
}

TEST_F(ChangelogReaderTest, AForgottenPartitionIsNoLongerApplied) {
  ChangelogReader reader = Reader();
  ASSERT_TRUE(reader.Assign({{.tp = a_, .start = Offset(0), .sink = &sink_},
                             {.tp = b_, .start = Offset(0), .sink = &sink_}})
                  .ok());
  Fill(a_, 2);
  Fill(b_, 2);
  reader.Forget({a_});
  auto applied = reader.Follow(absl::Milliseconds(50));
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 2);
  EXPECT_FALSE(sink_.offsets.contains(a_));
  EXPECT_EQ(sink_.offsets[b_].size(), 2u);
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(b_, Offset(2))));
}

TEST_F(ChangelogReaderTest, APartitionThatFollowsOnAppliesRecordsPastItsRestoreEnd) {
  // The global stores: bootstrap to the end, and records that arrive
  // meanwhile are applied, since the consumer will not read them again.
  Fill(a_, 4);
  Fill(b_, 1);
  consumer_.per_poll = 1;
  ChangelogReader reader = Reader();
  ChangelogPartition pa = Restoring(a_, Offset(0), Offset(4));
  ChangelogPartition pb = Restoring(b_, Offset(1), Offset(1));  // up to date, still followed
  pa.follow_after_end = pb.follow_after_end = true;
  ASSERT_TRUE(reader.Assign({pa, pb}).ok());
  EXPECT_EQ(consumer_.positions().size(), 2u);
  consumer_.Append(a_, "k4", "v4");
  consumer_.Append(b_, "k1", "v1");
  auto done = RestoreAll(reader);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  auto applied = reader.Follow(absl::Milliseconds(50));
  ASSERT_TRUE(applied.ok());
  EXPECT_THAT(sink_.offsets[a_], ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(sink_.offsets[b_], ElementsAre(1));
  EXPECT_THAT(reader.Positions(), ElementsAre(Pair(a_, Offset(5)), Pair(b_, Offset(2))));
}

TEST(ChangelogWritesTest, KeysAndValuesWithTombstonesAndWithoutKeylessRecords) {
  std::vector<kafka::ConsumedRecord> records;
  records.push_back(kafka::ConsumedRecord::FromParts({.offset = Offset(0), .key = "a", .value = "1"}));
  records.push_back(kafka::ConsumedRecord::FromParts({.offset = Offset(1), .key = "b"}));
  records.push_back(kafka::ConsumedRecord::FromParts({.offset = Offset(2), .value = "keyless"}));
  std::vector<const kafka::ConsumedRecord*> pointers;
  for (const auto& r : records) pointers.push_back(&r);
  auto writes = ChangelogWrites(pointers);
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[0].key, "a");
  EXPECT_EQ(writes[0].value, "1");
  EXPECT_EQ(writes[1].key, "b");
  EXPECT_EQ(writes[1].value, std::nullopt);
}

}  // namespace
}  // namespace runnel
