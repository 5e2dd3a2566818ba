#include "oracle.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel_apps::clickstream {
namespace {

constexpr int64_t kT0 = 1'765'000'800'000;  // a multiple of 5 minutes

ClickEvent E(std::string user, EventType type, int64_t ts, int64_t cents = 0) {
  return ClickEvent{.event_id = "e", .user_id = std::move(user), .type = type, .ts_ms = ts, .page = "/",
                    .amount_cents = cents};
}

TEST(OracleTest, CountsPerMinuteRevenueAndDistinctUsers) {
  const std::vector<ClickEvent> events = {
      E("a", EventType::kPageView, kT0 + 1000),
      E("a", EventType::kPurchase, kT0 + 2000, 1999),
      E("b", EventType::kPageView, kT0 + 59'999),
      E("b", EventType::kClick, kT0 + 60'000),
      E("a", EventType::kPurchase, kT0 + 299'999, 1),
      E("c", EventType::kClick, kT0 + 300'000),
  };
  const Tables t = ComputeOracle(events);
  const std::map<std::pair<int64_t, std::string>, int64_t> per_minute = {
      {{kT0, "page_view"}, 2},       {{kT0, "purchase"}, 1},           {{kT0 + 60'000, "click"}, 1},
      {{kT0 + 240'000, "purchase"}, 1}, {{kT0 + 300'000, "click"}, 1}};
  EXPECT_EQ(t.events_per_minute, per_minute);
  const std::map<int64_t, Revenue> revenue = {{kT0, {1999, 1}},
                                              {kT0 + 60'000, {0, 0}},
                                              {kT0 + 240'000, {1, 1}},
                                              {kT0 + 300'000, {0, 0}}};
  EXPECT_EQ(t.revenue_per_minute, revenue);
  const std::map<int64_t, int64_t> users = {{kT0, 2}, {kT0 + 300'000, 1}};
  EXPECT_EQ(t.active_users_5m, users);
}

TEST(OracleTest, SessionsSplitOnlyAfterMoreThanTheGap) {
  const int64_t gap = kSessionGapMs;
  const std::vector<ClickEvent> events = {
      // Out of order on purpose: the oracle sorts.
      E("a", EventType::kPurchase, kT0 + gap, 500),  // exactly the gap after the first: same session
      E("a", EventType::kPageView, kT0),
      E("a", EventType::kPageView, kT0 + 2 * gap + 1),  // more than the gap: a new session
      E("b", EventType::kClick, kT0 + 5),
  };
  const Tables t = ComputeOracle(events);
  const std::map<std::pair<std::string, int64_t>, Session> sessions = {
      {{"a", kT0}, Session{.end_ms = kT0 + gap, .page_views = 1, .events = 2, .revenue_cents = 500}},
      {{"a", kT0 + 2 * gap + 1}, Session{.end_ms = kT0 + 2 * gap + 1, .page_views = 1, .events = 1}},
      {{"b", kT0 + 5}, Session{.end_ms = kT0 + 5, .events = 1}},
  };
  EXPECT_EQ(t.user_sessions, sessions);
}

TEST(OracleTest, SkipsMalformedEventsAndDescribesDifferences) {
  GeneratorOptions o{.seed = 5, .count = 3000, .users = 100, .malformed_share = 0.1, .start_ms = kT0};
  const auto generated = GenerateAll(o);
  const auto good = WellFormed(generated);
  EXPECT_LT(good.size(), generated.size());
  const Tables t = ComputeOracle(good);
  int64_t counted = 0;
  for (const auto& [k, n] : t.events_per_minute) counted += n;
  EXPECT_EQ(counted, static_cast<int64_t>(good.size()));
  int64_t in_sessions = 0;
  for (const auto& [k, s] : t.user_sessions) in_sessions += s.events;
  EXPECT_EQ(in_sessions, counted);
  EXPECT_GT(t.user_sessions.size(), 200u);  // several sessions per user

  EXPECT_EQ(DescribeDifferences(t, t), "");
  Tables changed = t;
  changed.active_users_5m.begin()->second += 1;
  changed.user_sessions.erase(changed.user_sessions.begin());
  const std::string diff = DescribeDifferences(t, changed);
  EXPECT_THAT(diff, ::testing::HasSubstr("active_users_5m: "));
  EXPECT_THAT(diff, ::testing::HasSubstr("user_sessions: missing "));
}

}  // namespace
}  // namespace runnel_apps::clickstream
