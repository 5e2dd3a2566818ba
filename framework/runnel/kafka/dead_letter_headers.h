#ifndef RUNNEL_KAFKA_DEAD_LETTER_HEADERS_H_
#define RUNNEL_KAFKA_DEAD_LETTER_HEADERS_H_

// The headers of a Runnel dead-letter record: the original record's headers,
// then __runnel.errors.{topic,partition,offset,timestamp,part,code,message,
// application.id,node}. Shared by the runtime's record error handlers and
// the sinks, so tools read every dead-letter topic the same way.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "runnel/common/headers.h"

namespace runnel::kafka {

inline constexpr std::string_view kDeadLetterHeaderPrefix = "__runnel.errors.";

// Where a dead-lettered record came from and why it failed.
struct DeadLetterOrigin {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string part;  // "key", "value", "processing", "row", ...
  std::string code;  // absl::StatusCodeToString
  std::string message;
  std::string application_id;  // the application or sink name
  std::string node;            // the processor node or table
};

// "__runnel.errors.<field>".
std::string DeadLetterHeaderName(std::string_view field);
Headers DeadLetterHeaders(const Headers& original, const DeadLetterOrigin& origin);

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_DEAD_LETTER_HEADERS_H_
