#ifndef RUNNEL_APPS_CLICKSTREAM_EVENT_H_
#define RUNNEL_APPS_CLICKSTREAM_EVENT_H_

// A clickstream event, as the generator writes it to the input topic (key =
// user_id, record timestamp = ts, value = one JSON object):
//   {"event_id":"e-7-000123","user_id":"u-0042","type":"purchase",
//    "ts":1733580000123,"page":"/product/17","amount":12.34}
// Every field is required except `amount`, which a purchase must have (and
// other types must not): a non-negative number with at most 2 decimals,
// held in integer cents so sums are exact.
//
// ParseEvent is strict and its errors name the field; EventSerde() is the
// topology's value serde, so a malformed event fails deserialization and
// goes to default.deserialization.exception.handler (the dead-letter topic).
//
// Thread-safety: pure functions; the serde is stateless.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runnel/serde/serde.h"

namespace runnel_apps::clickstream {

enum class EventType { kPageView, kClick, kPurchase };

inline constexpr EventType kEventTypes[] = {EventType::kPageView, EventType::kClick, EventType::kPurchase};

// "page_view", "click", "purchase" (the `type` field and the metric label).
std::string_view EventTypeName(EventType type);
std::optional<EventType> EventTypeFromName(std::string_view name);

struct ClickEvent {
  std::string event_id;
  std::string user_id;
  EventType type = EventType::kPageView;
  int64_t ts_ms = 0;
  std::string page;
  int64_t amount_cents = 0;  // purchases only; 0 otherwise
  bool operator==(const ClickEvent&) const = default;
};

// The JSON text of a well-formed event (the generator's output).
std::string FormatEvent(const ClickEvent& event);

// Parses and validates one event. InvalidArgument naming the field (or the
// JSON error) for anything malformed.
absl::StatusOr<ClickEvent> ParseEvent(std::string_view text);

// Serializes with FormatEvent, deserializes with ParseEvent (a null value
// is malformed too).
runnel::SerdePtr<ClickEvent> EventSerde();

// "12.34" for 1234.
std::string FormatCents(int64_t cents);

}  // namespace runnel_apps::clickstream

#endif  // RUNNEL_APPS_CLICKSTREAM_EVENT_H_
