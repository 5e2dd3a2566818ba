#include "runnel/processor/processing_error.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/common/status.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;

TEST(ProcessingErrorTest, TheInnermostNodeNamesItselfAndContextKeepsTheKind) {
  absl::Status s = ProcessingError("bad reading");
  EXPECT_TRUE(IsProcessingError(s));
  EXPECT_EQ(ProcessingErrorNode(s), "");
  s = processor::internal::AttributeProcessingError(s, "inner");
  s = processor::internal::AttributeProcessingError(s, "outer");
  EXPECT_EQ(ProcessingErrorNode(s), "inner");
  absl::Status annotated = Annotate(s, "task 0_1 at t-1@5");
  EXPECT_TRUE(IsProcessingError(annotated));
  EXPECT_EQ(ProcessingErrorNode(annotated), "inner");
  EXPECT_THAT(std::string(annotated.message()), HasSubstr("task 0_1 at t-1@5: bad reading"));
}

TEST(ProcessingErrorTest, OtherErrorsAreNotProcessingErrors) {
  EXPECT_FALSE(IsProcessingError(absl::UnavailableError("broker down")));
  EXPECT_FALSE(IsProcessingError(processor::internal::AttributeProcessingError(absl::InternalError("x"), "n")));
  EXPECT_FALSE(IsProcessingError(absl::OkStatus()));
}

TEST(ProcessingErrorTest, ExceptionsAreDescribedWithTheirType) {
  absl::Status s;
  try {
    throw std::out_of_range("index 7");
  } catch (...) {
    s = processor::internal::CurrentExceptionAsProcessingError("lookup");
  }
  EXPECT_TRUE(IsProcessingError(s));
  EXPECT_EQ(ProcessingErrorNode(s), "lookup");
  EXPECT_THAT(std::string(s.message()), HasSubstr("std::out_of_range: index 7"));
  try {
    throw 42;
  } catch (...) {
    s = processor::internal::CurrentExceptionAsProcessingError("lookup");
  }
  EXPECT_THAT(std::string(s.message()), HasSubstr("not derived from std::exception"));
}

}  // namespace
}  // namespace runnel
