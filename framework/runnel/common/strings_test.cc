#include "runnel/common/strings.h"

#include "gtest/gtest.h"

namespace runnel {
namespace {

TEST(EditDistanceTest, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("num.stream.thread", "num.stream.threads"), 1u);
  EXPECT_EQ(EditDistance("num.stream.threads", "num.stream.thread"), 1u);
  EXPECT_EQ(EditDistance("poll.ms", "pill.ms"), 1u);
  EXPECT_EQ(EditDistance("num.stream.thraeds", "num.stream.threads"), 1u);  // a swap
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("commit.interval", "commit.interval.ms"), 3u);
}

TEST(NearestTest, PicksTheClosestWithinTheDistance) {
  const std::vector<std::string> keys = {"num.stream.threads", "num.standby.replicas", "poll.ms", "state.dir"};
  EXPECT_EQ(Nearest("num.stream.thread", keys, 2), "num.stream.threads");
  EXPECT_EQ(Nearest("stat.dir", keys, 2), "state.dir");
  EXPECT_EQ(Nearest("bootstrap.servers", keys, 3), std::nullopt);
  // Nothing is suggested for a word that is a candidate already.
  EXPECT_EQ(Nearest("poll.ms", {"poll.ms"}, 3), std::nullopt);
  // Ties go to the first candidate.
  EXPECT_EQ(Nearest("ab", {"ac", "ad"}, 1), "ac");
}

TEST(NearestTest, TypoDistanceGrowsWithTheWord) {
  EXPECT_EQ(TypoDistance("ab"), 2u);
  EXPECT_EQ(TypoDistance("num.stream.thread"), 5u);
}

}  // namespace
}  // namespace runnel
