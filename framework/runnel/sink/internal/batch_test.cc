#include "runnel/sink/internal/batch.h"

#include "gtest/gtest.h"

namespace runnel::sink::internal {
namespace {

kafka::ConsumedRecord Record(std::string topic, int32_t partition, int64_t offset) {
  return kafka::ConsumedRecord::FromParts(
      {.topic = std::move(topic), .partition = Partition(partition), .offset = Offset(offset)});
}

Row Upsert(std::string key, std::string value) { return Row{.key = {key}, .value = {value}}; }
Row Delete(std::string key) { return Row{.key = {key}, .is_delete = true}; }

TEST(BatchTest, TheLastRowOfAKeyWins) {
  Batch batch(1);
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 0)), Upsert("a", "1"));
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 1)), Upsert("b", "1"));
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 2)), Upsert("a", "2"));
  ASSERT_EQ(batch.ops(0).size(), 2u);
  EXPECT_EQ(batch.ops(0)[0].row.value[0], "2");
  EXPECT_EQ(batch.ops(0)[0].record, 2u);
  EXPECT_EQ(batch.record_count(), 3u);
}

TEST(BatchTest, ADeleteAfterAnUpsertOfTheSameKeyDeletesAndTheReverseUpserts) {
  Batch batch(1);
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 0)), Upsert("a", "1"));
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 1)), Delete("a"));
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 2)), Delete("b"));
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 3)), Upsert("b", "3"));
  ASSERT_EQ(batch.ops(0).size(), 2u);
  EXPECT_TRUE(batch.ops(0)[0].row.is_delete);
  EXPECT_FALSE(batch.ops(0)[1].row.is_delete);
  EXPECT_EQ(batch.ops(0)[1].row.value[0], "3");
}

TEST(BatchTest, KeysAreDeduplicatedPerRoute) {
  Batch batch(2);
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 0)), Upsert("a", "1"));
  batch.AddRow(1, batch.AddRecord(Record("u", 0, 0)), Upsert("a", "1"));
  EXPECT_EQ(batch.ops(0).size(), 1u);
  EXPECT_EQ(batch.ops(1).size(), 1u);
}

TEST(BatchTest, TracksTheNextOffsetPerPartitionAndNeverMovesItBack) {
  Batch batch(1);
  batch.AddRecord(Record("t", 0, 5));
  batch.AddRecord(Record("t", 1, 9));
  const TopicPartition t0{"t", Partition(0)};
  batch.Advance(t0, Offset(8));  // an end of partition past a transaction marker
  batch.Advance(t0, Offset(3));
  EXPECT_EQ(batch.next_offsets().at(t0), Offset(8));
  EXPECT_EQ(batch.next_offsets().at(TopicPartition{"t", Partition(1)}), Offset(10));
}

TEST(BatchTest, DroppingAPartitionForgetsItsRowsAndOffset) {
  Batch batch(1);
  batch.AddRow(0, batch.AddRecord(Record("t", 0, 0)), Upsert("a", "1"));
  batch.AddRow(0, batch.AddRecord(Record("t", 1, 0)), Upsert("b", "1"));
  batch.DropPartition({"t", Partition(0)});
  ASSERT_EQ(batch.ops(0).size(), 1u);
  EXPECT_EQ(batch.ops(0)[0].row.key[0], "b");
  EXPECT_EQ(batch.next_offsets().size(), 1u);
  batch.AddRow(0, batch.AddRecord(Record("t", 1, 1)), Upsert("b", "2"));
  ASSERT_EQ(batch.ops(0).size(), 1u);
  EXPECT_EQ(batch.ops(0)[0].row.value[0], "2");
  batch.Clear();
  EXPECT_TRUE(batch.empty());
}

}  // namespace
}  // namespace runnel::sink::internal
