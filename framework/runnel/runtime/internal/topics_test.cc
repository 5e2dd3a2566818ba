#include "runnel/runtime/internal/topics.h"

#include "gtest/gtest.h"

namespace runnel::runtime::internal {
namespace {

// A topic another instance just created: the client's broker does not know
// it for the first calls, then it does.
TEST(RetryWhileMetadataCatchesUpTest, AnUnknownTopicIsAskedAgainUntilItIsKnown) {
  int calls = 0;
  auto result = RetryWhileMetadataCatchesUp<int>(
      [&]() -> absl::StatusOr<int> {
        if (++calls < 3) return absl::NotFoundError("Local: Unknown partition");
        return 42;
      },
      50, absl::Milliseconds(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(calls, 3);
}

TEST(RetryWhileMetadataCatchesUpTest, ATopicThatStaysUnknownIsNotFoundAfterTheAttempts) {
  int calls = 0;
  auto result = RetryWhileMetadataCatchesUp<int>(
      [&]() -> absl::StatusOr<int> {
        ++calls;
        return absl::NotFoundError("Local: Unknown partition");
      },
      4, absl::Milliseconds(1));
  EXPECT_TRUE(absl::IsNotFound(result.status()));
  EXPECT_EQ(calls, 4);
}

// The partition's leader moved (a broker restarted): the client asked the
// old one until its metadata caught up.
TEST(RetryWhileMetadataCatchesUpTest, ANotLeaderAnswerIsAskedAgain) {
  int calls = 0;
  auto result = RetryWhileMetadataCatchesUp<int>(
      [&]() -> absl::StatusOr<int> {
        if (++calls < 2) return absl::UnavailableError("Broker: Not leader for partition (NOT_LEADER_FOR_PARTITION)");
        return 7;
      },
      50, absl::Milliseconds(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(calls, 2);
}

TEST(RetryWhileMetadataCatchesUpTest, OtherErrorsAreAnsweredAtOnce) {
  int calls = 0;
  auto result = RetryWhileMetadataCatchesUp<int>(
      [&]() -> absl::StatusOr<int> {
        ++calls;
        return absl::InvalidArgumentError("bad topic name");
      },
      50, absl::Milliseconds(1));
  EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace runnel::runtime::internal
