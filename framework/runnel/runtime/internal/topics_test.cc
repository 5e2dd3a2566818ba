#include "runnel/runtime/internal/topics.h"

#include "gtest/gtest.h"

namespace runnel::runtime::internal {
namespace {

// A topic another instance just created: the client's broker does not know
// it for the first calls, then it does.
TEST(RetryWhileUnknownTest, AnUnknownTopicIsAskedAgainUntilItIsKnown) {
  int calls = 0;
  auto result = RetryWhileUnknown<int>(
      [&]() -> absl::StatusOr<int> {
        if (++calls < 3) return absl::NotFoundError("Local: Unknown partition");
        return 42;
      },
      50, absl::Milliseconds(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(calls, 3);
}

TEST(RetryWhileUnknownTest, ATopicThatStaysUnknownIsNotFoundAfterTheAttempts) {
  int calls = 0;
  auto result = RetryWhileUnknown<int>(
      [&]() -> absl::StatusOr<int> {
        ++calls;
        return absl::NotFoundError("Local: Unknown partition");
      },
      4, absl::Milliseconds(1));
  EXPECT_TRUE(absl::IsNotFound(result.status()));
  EXPECT_EQ(calls, 4);
}

TEST(RetryWhileUnknownTest, OtherErrorsAreAnsweredAtOnce) {
  int calls = 0;
  auto result = RetryWhileUnknown<int>(
      [&]() -> absl::StatusOr<int> {
        ++calls;
        return absl::UnavailableError("broker down");
      },
      50, absl::Milliseconds(1));
  EXPECT_TRUE(absl::IsUnavailable(result.status()));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace runnel::runtime::internal
