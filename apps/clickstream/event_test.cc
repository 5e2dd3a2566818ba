#include "event.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel_apps::clickstream {
namespace {

using ::testing::HasSubstr;

ClickEvent Purchase() {
  return ClickEvent{.event_id = "e-1",
                    .user_id = "u-00042",
                    .type = EventType::kPurchase,
                    .ts_ms = 1'765'000'000'123,
                    .page = "/checkout",
                    .amount_cents = 123'405};
}

TEST(EventTest, FormattedEventParsesBackEqual) {
  const ClickEvent e = Purchase();
  EXPECT_EQ(FormatEvent(e),
            R"({"event_id":"e-1","user_id":"u-00042","type":"purchase","ts":1765000000123,"page":"/checkout",)"
            R"("amount":1234.05})");
  auto parsed = ParseEvent(FormatEvent(e));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, e);
  ClickEvent view = e;
  view.type = EventType::kPageView;
  view.amount_cents = 0;
  EXPECT_EQ(*ParseEvent(FormatEvent(view)), view);
}

TEST(EventTest, AmountsAreExactCents) {
  for (int64_t cents : {0L, 1L, 10L, 199L, 1005L, 49'999L, 100'000'001L}) {
    ClickEvent e = Purchase();
    e.amount_cents = cents;
    auto parsed = ParseEvent(FormatEvent(e));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->amount_cents, cents);
  }
  EXPECT_EQ(ParseEvent(R"({"event_id":"e","user_id":"u","type":"purchase","ts":1,"page":"/","amount":12})")
                ->amount_cents,
            1200);
}

TEST(EventTest, MalformedEventsAreRejectedNamingTheField) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"event_id":"e","user_id":"u","ty)", "invalid JSON"},
      {R"([1,2])", "not a JSON object"},
      {R"({"event_id":"e","type":"click","ts":1,"page":"/"})", "'user_id' is missing"},
      {R"({"event_id":"e","user_id":7,"type":"click","ts":1,"page":"/"})", "'user_id' must be a string"},
      {R"({"event_id":"e","user_id":"","type":"click","ts":1,"page":"/"})", "'user_id' must not be empty"},
      {R"({"event_id":"e","user_id":"u","type":"scroll","ts":1,"page":"/"})", "'type' must be page_view"},
      {R"({"event_id":"e","user_id":"u","type":"click","ts":"1","page":"/"})", "'ts' must be an integer"},
      {R"({"event_id":"e","user_id":"u","type":"click","ts":1.5,"page":"/"})", "'ts' must be an integer"},
      {R"({"event_id":"e","user_id":"u","type":"click","ts":-1,"page":"/"})", "'ts' must be >= 0"},
      {R"({"event_id":"e","user_id":"u","type":"click","ts":1})", "'page' is missing"},
      {R"({"event_id":"e","user_id":"u","type":"purchase","ts":1,"page":"/"})", "'amount' is missing"},
      {R"({"event_id":"e","user_id":"u","type":"purchase","ts":1,"page":"/","amount":"1.00"})",
       "'amount' must be a number"},
      {R"({"event_id":"e","user_id":"u","type":"purchase","ts":1,"page":"/","amount":1.005})",
       "'amount' must have at most 2 decimals"},
      {R"({"event_id":"e","user_id":"u","type":"purchase","ts":1,"page":"/","amount":-1})",
       "'amount' must be between"},
      {R"({"event_id":"e","user_id":"u","type":"click","ts":1,"page":"/","amount":1})",
       "'amount' is only allowed on a purchase"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseEvent(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << parsed.status();
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(EventTest, SerdeRejectsNullAndRoundTrips) {
  EXPECT_FALSE(EventSerde()->Deserialize(std::nullopt).ok());
  std::string bytes;
  ASSERT_TRUE(EventSerde()->Serialize(Purchase(), bytes).ok());
  EXPECT_EQ(*EventSerde()->Deserialize(bytes), Purchase());
}

TEST(EventTest, TypeNamesRoundTrip) {
  for (EventType t : kEventTypes) EXPECT_EQ(EventTypeFromName(EventTypeName(t)), t);
  EXPECT_EQ(EventTypeFromName("scroll"), std::nullopt);
  EXPECT_EQ(FormatCents(5), "0.05");
  EXPECT_EQ(FormatCents(123'456), "1234.56");
}

}  // namespace
}  // namespace runnel_apps::clickstream
