#include "runnel/kafka/errors.h"

#include <librdkafka/rdkafka.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::kafka {
namespace {

TEST(ErrorsTest, CodesMapToWhatTheCallerShouldDo) {
  EXPECT_TRUE(ErrorToStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR__TRANSPORT, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR__TIMED_OUT, "x").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR_PRODUCER_FENCED, "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, "x").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "x").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorToStatus(RD_KAFKA_RESP_ERR_INVALID_PARTITIONS, "x").code(), absl::StatusCode::kInvalidArgument);
  absl::Status s = ErrorToStatus(RD_KAFKA_RESP_ERR__FATAL, "producing");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), ::testing::StartsWith("fatal: producing"));
}

TEST(ErrorsTest, ErrorObjectsKeepTheirKind) {
  EXPECT_TRUE(ErrorToStatus(static_cast<const rd_kafka_error_t*>(nullptr), "x").ok());
  rd_kafka_error_t* fenced = rd_kafka_error_new(RD_KAFKA_RESP_ERR__FENCED, "zombie");
  EXPECT_EQ(ErrorToStatus(fenced, "commit").code(), absl::StatusCode::kFailedPrecondition);
  rd_kafka_error_destroy(fenced);
}

}  // namespace
}  // namespace runnel::kafka
