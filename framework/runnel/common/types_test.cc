#include "runnel/common/types.h"

#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

TEST(TypesTest, StrongTypesDoNotConvertIntoEachOther) {
  static_assert(!std::is_convertible_v<Partition, Offset>);
  static_assert(!std::is_convertible_v<int32_t, Partition>);
  static_assert(!std::is_convertible_v<Offset, Timestamp>);
  EXPECT_LT(Offset(3), Offset(4));
  EXPECT_EQ(Partition(2).value(), 2);
}

TEST(TypesTest, TaskIdFormatsAndHashes) {
  TaskId a{1, Partition(3)};
  EXPECT_EQ(a.ToString(), "1_3");
  absl::flat_hash_set<TaskId> set{a, TaskId{1, Partition(3)}, TaskId{0, Partition(3)}};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ((TopicPartition{"t", Partition(5)}).ToString(), "t-5");
}

}  // namespace
}  // namespace runnel
