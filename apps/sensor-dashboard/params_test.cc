#include "params.h"

#include "gtest/gtest.h"

namespace runnel_apps::dashboard {
namespace {

runnel::http::Request Get(std::string target) {
  auto r = runnel::http::Request::Make("GET", std::move(target), {}, "");
  EXPECT_TRUE(r.has_value());
  return *r;
}

TEST(ParamsTest, TimesAreIsoOrEpochMillis) {
  EXPECT_EQ(*ParseTimeParam("from", "1763389200000"), 1'763'389'200'000);
  EXPECT_EQ(*ParseTimeParam("from", "2025-11-17T14:20:00Z"), 1'763'389'200'000);
  EXPECT_EQ(*ParseTimeParam("from", "2025-11-17T16:20:00.5+02:00"), 1'763'389'200'500);
  EXPECT_EQ(*ParseTimeParam("from", "0"), 0);
}

TEST(ParamsTest, ABadTimeIsNamed) {
  for (const char* bad : {"", "yesterday", "2025-11-17", "2025-11-17T14:20:00", "-5", "1e12",
                          "99999999999999999999"}) {
    auto t = ParseTimeParam("to", bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(BadParameter(t.status()), "to") << bad;
  }
  EXPECT_EQ(BadParameter(absl::InvalidArgumentError("x")), "");
}

TEST(ParamsTest, WindowQueryDefaultsToTheLastHourOfMinuteWindows) {
  auto q = ParseWindowQuery(Get("/api/sensors/s1/windows"), 10'000'000);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->to_ms, 10'000'000);
  EXPECT_EQ(q->from_ms, 10'000'000 - 3'600'000);
  EXPECT_EQ(q->window, WindowKind::kOneMinute);
  q = ParseWindowQuery(Get("/x?from=2025-11-17T14:20:00Z&to=1763389260000&window=5m"), 0);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->from_ms, 1'763'389'200'000);
  EXPECT_EQ(q->to_ms, 1'763'389'260'000);
  EXPECT_EQ(q->window, WindowKind::kFiveMinutes);
}

TEST(ParamsTest, WindowQueryErrorsNameTheParameter) {
  EXPECT_EQ(BadParameter(ParseWindowQuery(Get("/x?from=20&to=10"), 0).status()), "from");
  EXPECT_EQ(BadParameter(ParseWindowQuery(Get("/x?window=10m"), 0).status()), "window");
  EXPECT_EQ(BadParameter(ParseWindowQuery(Get("/x?to=soon"), 0).status()), "to");
  EXPECT_EQ(BadParameter(ParseWindowQuery(Get("/x?since=1"), 0).status()), "since");
}

TEST(ParamsTest, TopQuery) {
  auto q = ParseTopQuery(Get("/api/top"));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->by, StatField::kMax);
  EXPECT_EQ(q->n, 10);
  q = ParseTopQuery(Get("/api/top?by=count&n=3"));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->by, StatField::kCount);
  EXPECT_EQ(q->n, 3);
  EXPECT_EQ(BadParameter(ParseTopQuery(Get("/api/top?by=median")).status()), "by");
  for (const char* n : {"0", "1001", "-1", "ten", "2.5", ""}) {
    EXPECT_EQ(BadParameter(ParseTopQuery(Get(std::string("/api/top?n=") + n)).status()), "n") << n;
  }
  EXPECT_EQ(BadParameter(ParseTopQuery(Get("/api/top?limit=3")).status()), "limit");
}

}  // namespace
}  // namespace runnel_apps::dashboard
