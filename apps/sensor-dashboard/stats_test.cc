#include "stats.h"

#include "gtest/gtest.h"
#include "runnel/http/json.h"

namespace runnel_apps::dashboard {
namespace {

constexpr char kReading[] =
    R"({"sensor_id":"sensor01","timestamp":"2025-11-17T14:20:00.000Z","type":"temperature",)"
    R"("value":25.3,"unit":"C","location":"lab"})";

Reading At(double value, int64_t ms, std::string location = "lab") {
  return Reading{.sensor_id = "s1", .timestamp = "t", .timestamp_ms = ms, .type = "temperature", .value = value,
                 .unit = "C", .location = std::move(location)};
}

TEST(StatsTest, TheGatewaysRecordValueParsesIntoAReading) {
  auto r = ParseReading(kReading);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sensor_id, "sensor01");
  EXPECT_EQ(r->timestamp_ms, 1'763'389'200'000);
  EXPECT_EQ(r->value, 25.3);
  EXPECT_EQ(r->location, "lab");
  EXPECT_EQ(ReadingToJson(*r), kReading);
}

TEST(StatsTest, AMalformedReadingNamesTheField) {
  EXPECT_EQ(ParseReading("{").status().code(), absl::StatusCode::kInvalidArgument);
  auto no_value = ParseReading(R"({"sensor_id":"a","timestamp":"2025-11-17T14:20:00Z","type":"t","unit":"C",)"
                               R"("location":"x"})");
  EXPECT_NE(no_value.status().message().find("'value'"), std::string_view::npos) << no_value.status();
  auto bad_time = ParseReading(R"({"sensor_id":"a","timestamp":"yesterday","type":"t","value":1,"unit":"C",)"
                               R"("location":"x"})");
  EXPECT_NE(bad_time.status().message().find("'timestamp'"), std::string_view::npos) << bad_time.status();
}

TEST(StatsTest, WindowFoldCountsSumsAndTracksMinAndMax) {
  WindowStats s;
  for (double v : {20.5, -3.0, 41.25, 7.0}) s = FoldWindow(s, v);
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.sum, 65.75);
  EXPECT_DOUBLE_EQ(s.mean(), 65.75 / 4);
  EXPECT_EQ(s.min, -3.0);
  EXPECT_EQ(s.max, 41.25);
  EXPECT_EQ(WindowStats().mean(), 0);
}

TEST(StatsTest, TheFirstValueSetsMinAndMaxEvenWhenPositive) {
  WindowStats s = FoldWindow(WindowStats(), 12.0);
  EXPECT_EQ(s.min, 12.0);
  EXPECT_EQ(s.max, 12.0);
}

TEST(StatsTest, SensorFoldKeepsTheLatestReadingByTimestamp) {
  SensorStats s;
  s = FoldSensor(s, At(10, 1000, "lab"));
  s = FoldSensor(s, At(30, 3000, "roof"));
  s = FoldSensor(s, At(20, 2000, "cellar"));  // late: counted, not latest
  EXPECT_EQ(s.all.count, 3);
  EXPECT_EQ(s.all.mean(), 20);
  EXPECT_EQ(s.all.min, 10);
  EXPECT_EQ(s.all.max, 30);
  EXPECT_EQ(s.last_value, 30);
  EXPECT_EQ(s.last_timestamp_ms, 3000);
  EXPECT_EQ(s.location, "roof");
}

TEST(StatsTest, SerdesRoundTripExactly) {
  SensorStats s = FoldSensor(FoldSensor(SensorStats(), At(0.1, 5)), At(0.2, 6));
  std::string bytes;
  ASSERT_TRUE(SensorStatsSerde()->Serialize(s, bytes).ok());
  auto back = SensorStatsSerde()->Deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->all, s.all);
  EXPECT_EQ(back->last_value, 0.2);
  EXPECT_EQ(back->last_timestamp_ms, 6);
  WindowStats w = FoldWindow(FoldWindow(WindowStats(), 1e-7), 3.0);
  ASSERT_TRUE(WindowStatsSerde()->Serialize(w, bytes).ok());
  EXPECT_EQ(*WindowStatsSerde()->Deserialize(bytes), w);
  EXPECT_FALSE(WindowStatsSerde()->Deserialize(std::nullopt).ok());
}

TEST(StatsTest, TheServedJsonHasTheDocumentedFields) {
  SensorStats s = FoldSensor(SensorStats(), At(21.5, 1000));
  EXPECT_EQ(runnel::http::SerializeJson(SensorStatsJson(s)),
            R"({"sensor_id":"s1","type":"temperature","unit":"C","location":"lab","count":1,"sum":21.5,)"
            R"("mean":21.5,"min":21.5,"max":21.5,"last_value":21.5,"last_timestamp":"t","last_timestamp_ms":1000})");
}

}  // namespace
}  // namespace runnel_apps::dashboard
