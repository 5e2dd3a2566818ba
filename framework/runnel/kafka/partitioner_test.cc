#include "runnel/kafka/partitioner.h"

#include "gtest/gtest.h"

namespace runnel::kafka {
namespace {

// Vectors from Kafka's own UtilsTest.testMurmur2 (org.apache.kafka.common.utils).
TEST(PartitionerTest, Murmur2MatchesKafkaTestVectors) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2(std::string_view("abc")), 479470107);
}

TEST(PartitionerTest, PartitionClearsTheSignBitLikeUtilsToPositive) {
  // -973932308 & 0x7fffffff = 1173551340.
  EXPECT_EQ(PartitionForKey("21", 1000).value(), 1173551340 % 1000);
  for (int n : {1, 3, 7, 100}) {
    Partition p = PartitionForKey("some-key", n);
    EXPECT_GE(p.value(), 0);
    EXPECT_LT(p.value(), n);
  }
}

}  // namespace
}  // namespace runnel::kafka
