#include "row_mapper.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel::replay {
namespace {

using ::testing::HasSubstr;

// 2026-03-01T12:00:00Z
constexpr int64_t kNoon = 1772366400000;

TEST(ParseTimeTest, IsoWithZonesAndFractions) {
  EXPECT_EQ(*ParseTime("2026-03-01T12:00:00Z", TimeFormat::kIso), kNoon);
  EXPECT_EQ(*ParseTime("2026-03-01T12:00:00.250Z", TimeFormat::kIso), kNoon + 250);
  EXPECT_EQ(*ParseTime("2026-03-01T13:00:00+01:00", TimeFormat::kIso), kNoon);
  EXPECT_EQ(*ParseTime("2026-03-01T07:30:00.5-04:30", TimeFormat::kIso), kNoon + 500);
  EXPECT_EQ(*ParseTime("2026-03-01 12:00:00", TimeFormat::kIso), kNoon);  // no zone: UTC
  EXPECT_EQ(*ParseTime("2026-03-01T12:00", TimeFormat::kIso), kNoon);
  EXPECT_EQ(*ParseTime("2026-03-01T12:00:00.123456789Z", TimeFormat::kIso), kNoon + 123);
}

TEST(ParseTimeTest, EpochMillisAndSeconds) {
  EXPECT_EQ(*ParseTime("1772366400000", TimeFormat::kEpochMillis), kNoon);
  EXPECT_EQ(*ParseTime("1772366400", TimeFormat::kEpochSeconds), kNoon);
  EXPECT_EQ(*ParseTime("1772366400.25", TimeFormat::kEpochSeconds), kNoon + 250);
  EXPECT_FALSE(ParseTime("1772366400.5", TimeFormat::kEpochMillis).ok());
}

TEST(ParseTimeTest, AutoTellsMillisFromSecondsFromIso) {
  EXPECT_EQ(*ParseTime("1772366400000", TimeFormat::kAuto), kNoon);
  EXPECT_EQ(*ParseTime("1772366400", TimeFormat::kAuto), kNoon);
  EXPECT_EQ(*ParseTime("1772366400.5", TimeFormat::kAuto), kNoon + 500);
  EXPECT_EQ(*ParseTime("2026-03-01T12:00:00Z", TimeFormat::kAuto), kNoon);
}

TEST(ParseTimeTest, GarbageIsAnErrorQuotingTheText) {
  for (auto format : {TimeFormat::kIso, TimeFormat::kEpochMillis, TimeFormat::kEpochSeconds, TimeFormat::kAuto}) {
    auto t = ParseTime("yesterday", format);
    ASSERT_FALSE(t.ok());
    EXPECT_THAT(t.status().message(), HasSubstr("'yesterday'"));
  }
  EXPECT_FALSE(ParseTime("2026-13-01T00:00:00Z", TimeFormat::kIso).ok());
  EXPECT_FALSE(ParseTimeFormat("unix").ok());
}

TEST(JsonScalarTest, FiniteNumbersStayNumbersEverythingElseIsAString) {
  EXPECT_EQ(JsonScalar("21.5"), "21.5");
  EXPECT_EQ(JsonScalar("-3"), "-3");
  EXPECT_EQ(JsonScalar("1e3"), "1e3");
  EXPECT_EQ(JsonScalar("007"), "\"007\"");  // not JSON: leading zeros kept as text
  EXPECT_EQ(JsonScalar("nan"), "\"nan\"");
  EXPECT_EQ(JsonScalar("inf"), "\"inf\"");
  EXPECT_EQ(JsonScalar("1e999"), "\"1e999\"");
  EXPECT_EQ(JsonScalar("0x10"), "\"0x10\"");
  EXPECT_EQ(JsonScalar(""), "\"\"");
  EXPECT_EQ(JsonScalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
}

TEST(RowMapperTest, KeyTimeHeadersAndTheRestAsJson) {
  auto m = RowMapper::Create({"time", "sensor", "location", "temp_c", "note"},
                             {.key_column = "sensor", .time_column = "time", .header_columns = {"location"}});
  ASSERT_TRUE(m.ok()) << m.status();
  auto r = m->Map({"2026-03-01T12:00:00Z", "s-1", "lab", "21.5", "door open"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->key, "s-1");
  EXPECT_EQ(r->timestamp_ms, kNoon);
  EXPECT_EQ(r->headers, (Headers{{"location", "lab"}}));
  EXPECT_EQ(r->value, R"({"temp_c":21.5,"note":"door open"})");
}

TEST(RowMapperTest, ValueColumnIsSentRaw) {
  auto m = RowMapper::Create({"k", "payload"}, {.key_column = "k", .value_column = "payload"});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->Map({"a", "{\"x\":1}"})->value, "{\"x\":1}");
  EXPECT_FALSE(m->Map({"a", "b"})->timestamp_ms.has_value());
}

TEST(RowMapperTest, BadRowsSayWhy) {
  auto m = RowMapper::Create({"t", "k", "v"}, {.key_column = "k", .time_column = "t"});
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(m->Map({"1", "k"}).status().message(), HasSubstr("2 columns where the header has 3"));
  EXPECT_THAT(m->Map({"1772366400", "", "1"}).status().message(), HasSubstr("empty key in column 'k'"));
  EXPECT_THAT(m->Map({"noon", "k", "1"}).status().message(), HasSubstr("column 't': 'noon'"));
}

TEST(RowMapperTest, UnknownColumnsNameTheFlag) {
  EXPECT_THAT(RowMapper::Create({"a"}, {.key_column = "b"}).status().message(), HasSubstr("--key-column"));
  EXPECT_THAT(RowMapper::Create({"a"}, {.time_column = "b"}).status().message(), HasSubstr("--time-column"));
  EXPECT_THAT(RowMapper::Create({"a"}, {.header_columns = {"x"}}).status().message(),
              HasSubstr("--header-columns"));
  EXPECT_THAT(RowMapper::Create({"a", "a"}, {}).status().message(), HasSubstr("appears twice"));
}

}  // namespace
}  // namespace runnel::replay
