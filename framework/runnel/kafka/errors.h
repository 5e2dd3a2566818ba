#ifndef RUNNEL_KAFKA_ERRORS_H_
#define RUNNEL_KAFKA_ERRORS_H_

// librdkafka error -> absl::Status, with the kinds of DESIGN.md 5.1:
// transient/broker-down -> kUnavailable; timed out -> kDeadlineExceeded;
// fenced/zombie -> kFailedPrecondition; transaction must be aborted ->
// kAborted; fatal -> kInternal ("fatal: ..."); unknown topic -> kNotFound;
// bad config or argument -> kInvalidArgument.

#include <string_view>

#include "absl/status/status.h"

struct rd_kafka_error_s;

namespace runnel::kafka {

// `code` is an rd_kafka_resp_err_t.
absl::Status ErrorToStatus(int code, std::string_view context);
// Consumes nothing: the caller still owns and destroys `error`. nullptr -> OK.
absl::Status ErrorToStatus(const rd_kafka_error_s* error, std::string_view context);

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_ERRORS_H_
