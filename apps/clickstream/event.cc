#include "event.h"

#include <cmath>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"

namespace runnel_apps::clickstream {
namespace {

absl::Status FieldError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("clickstream event: field '", runnel::ToAbsl(field), "' ", runnel::ToAbsl(what)));
}

const boost::json::value* Find(const boost::json::object& o, std::string_view field) {
  return o.if_contains(boost::json::string_view(field.data(), field.size()));
}

absl::StatusOr<std::string> StringField(const boost::json::object& o, std::string_view field) {
  const boost::json::value* v = Find(o, field);
  if (v == nullptr) return FieldError(field, "is missing");
  if (!v->is_string()) return FieldError(field, "must be a string");
  if (v->as_string().empty()) return FieldError(field, "must not be empty");
  return std::string(v->as_string().data(), v->as_string().size());
}

// Integral JSON numbers only: 1.5 or "17" is not a timestamp.
absl::StatusOr<int64_t> IntField(const boost::json::object& o, std::string_view field) {
  const boost::json::value* v = Find(o, field);
  if (v == nullptr) return FieldError(field, "is missing");
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return FieldError(field, "must be an integer");
}

// A non-negative amount with at most 2 decimals, in cents.
absl::StatusOr<int64_t> AmountCents(const boost::json::value& v) {
  double amount;
  if (v.is_int64()) {
    amount = static_cast<double>(v.as_int64());
  } else if (v.is_uint64()) {
    amount = static_cast<double>(v.as_uint64());
  } else if (v.is_double()) {
    amount = v.as_double();
  } else {
    return FieldError("amount", "must be a number");
  }
  if (!std::isfinite(amount) || amount < 0 || amount > 1e13) {
    return FieldError("amount", "must be between 0 and 1e13");
  }
  const double cents = amount * 100;
  const auto rounded = static_cast<int64_t>(std::llround(cents));
  if (std::fabs(cents - static_cast<double>(rounded)) > 1e-6) {
    return FieldError("amount", "must have at most 2 decimals");
  }
  return rounded;
}

class ClickEventSerde final : public runnel::Serde<ClickEvent> {
 public:
  absl::Status Serialize(const ClickEvent& event, std::string& out) const override {
    out = FormatEvent(event);
    return absl::OkStatus();
  }
  absl::StatusOr<ClickEvent> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return absl::InvalidArgumentError("clickstream event: null value");
    return ParseEvent(*data);
  }
  std::string_view Name() const override { return "clickstream-event"; }
};

}  // namespace

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kPageView:
      return "page_view";
    case EventType::kClick:
      return "click";
    case EventType::kPurchase:
      return "purchase";
  }
  return "unknown";
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (EventType t : kEventTypes) {
    if (EventTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string FormatCents(int64_t cents) {
  return absl::StrFormat("%s%d.%02d", cents < 0 ? "-" : "", std::llabs(cents) / 100, std::llabs(cents) % 100);
}

std::string FormatEvent(const ClickEvent& e) {
  std::string out = "{\"event_id\":";
  runnel::http::AppendJsonString(e.event_id, out);
  out += ",\"user_id\":";
  runnel::http::AppendJsonString(e.user_id, out);
  absl::StrAppend(&out, ",\"type\":\"", runnel::ToAbsl(EventTypeName(e.type)), "\",\"ts\":", e.ts_ms, ",\"page\":");
  runnel::http::AppendJsonString(e.page, out);
  if (e.type == EventType::kPurchase) absl::StrAppend(&out, ",\"amount\":", FormatCents(e.amount_cents));
  out += "}";
  return out;
}

absl::StatusOr<ClickEvent> ParseEvent(std::string_view text) {
  auto json = runnel::http::ParseJson(text);
  if (!json.ok()) return absl::InvalidArgumentError(absl::StrCat("clickstream event: ", json.status().message()));
  if (!json->is_object()) return absl::InvalidArgumentError("clickstream event: not a JSON object");
  const boost::json::object& o = json->as_object();
  ClickEvent e;
  auto event_id = StringField(o, "event_id");
  if (!event_id.ok()) return event_id.status();
  e.event_id = *std::move(event_id);
  auto user_id = StringField(o, "user_id");
  if (!user_id.ok()) return user_id.status();
  e.user_id = *std::move(user_id);
  auto type = StringField(o, "type");
  if (!type.ok()) return type.status();
  const std::optional<EventType> parsed_type = EventTypeFromName(*type);
  if (!parsed_type) return FieldError("type", absl::StrCat("must be page_view, click or purchase, got '", *type, "'"));
  e.type = *parsed_type;
  auto ts = IntField(o, "ts");
  if (!ts.ok()) return ts.status();
  if (*ts < 0) return FieldError("ts", "must be >= 0 (milliseconds since the epoch)");
  e.ts_ms = *ts;
  auto page = StringField(o, "page");
  if (!page.ok()) return page.status();
  e.page = *std::move(page);
  const boost::json::value* amount = Find(o, "amount");
  if (e.type == EventType::kPurchase) {
    if (amount == nullptr) return FieldError("amount", "is missing (required for a purchase)");
    auto cents = AmountCents(*amount);
    if (!cents.ok()) return cents.status();
    e.amount_cents = *cents;
  } else if (amount != nullptr) {
    return FieldError("amount", "is only allowed on a purchase");
  }
  return e;
}

runnel::SerdePtr<ClickEvent> EventSerde() {
  static const auto* serde = new runnel::SerdePtr<ClickEvent>(std::make_shared<ClickEventSerde>());
  return *serde;
}

}  // namespace runnel_apps::clickstream
