#include "runnel/kafka/dead_letter_headers.h"

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel::kafka {

std::string DeadLetterHeaderName(std::string_view field) {
  return absl::StrCat(ToAbsl(kDeadLetterHeaderPrefix), ToAbsl(field));
}

Headers DeadLetterHeaders(const Headers& original, const DeadLetterOrigin& origin) {
  Headers headers = original;
  headers.push_back({DeadLetterHeaderName("topic"), origin.topic});
  headers.push_back({DeadLetterHeaderName("partition"), absl::StrCat(origin.partition)});
  headers.push_back({DeadLetterHeaderName("offset"), absl::StrCat(origin.offset)});
  headers.push_back({DeadLetterHeaderName("timestamp"), absl::StrCat(origin.timestamp_ms)});
  headers.push_back({DeadLetterHeaderName("part"), origin.part});
  headers.push_back({DeadLetterHeaderName("code"), origin.code});
  headers.push_back({DeadLetterHeaderName("message"), origin.message});
  headers.push_back({DeadLetterHeaderName("application.id"), origin.application_id});
  headers.push_back({DeadLetterHeaderName("node"), origin.node});
  return headers;
}

}  // namespace runnel::kafka
