#include "reading.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runnel/http/json.h"

namespace runnel_apps::gateway {
namespace {

constexpr char kSeedReading[] =
    R"({"sensor_id": "sensor01", "timestamp": "2025-11-17T14:20:00Z", "type": "temperature",
        "value": 25.3, "unit": "C", "location": "lab"})";

TEST(ReadingTest, TheSeedsReadingBecomesAKeyedTimestampedRecord) {
  ReadingError error;
  auto record = ParseReading(kSeedReading, error);
  ASSERT_TRUE(record) << error.message;
  EXPECT_EQ(record->key, "sensor01");
  EXPECT_EQ(record->timestamp_ms, 1'763'389'200'000);
  EXPECT_EQ(record->value,
            R"({"sensor_id":"sensor01","timestamp":"2025-11-17T14:20:00.000Z","type":"temperature",)"
            R"("value":25.3,"unit":"C","location":"lab"})");
}

TEST(ReadingTest, TimestampsWithOffsetsAndFractionsAreNormalizedToUtcMillis) {
  EXPECT_EQ(ParseTimestampMillis("2025-11-17T16:20:00.123456+02:00"), 1'763'389'200'123);
  EXPECT_EQ(ParseTimestampMillis("2025-11-17t14:20:00z"), 1'763'389'200'000);
  EXPECT_EQ(FormatTimestampMillis(1'763'389'200'123), "2025-11-17T14:20:00.123Z");
  EXPECT_EQ(FormatTimestampMillis(0), "1970-01-01T00:00:00.000Z");
}

TEST(ReadingTest, TimestampsWithoutZoneOrOutOfRangeAreRefused) {
  for (const char* bad : {"2025-11-17T14:20:00", "2025-11-17", "17/11/2025 14:20", "2025-13-01T00:00:00Z",
                          "1969-12-31T23:59:59Z", "", "2025-11-17T14:20:00Zjunk", "1763389200"}) {
    EXPECT_FALSE(ParseTimestampMillis(bad)) << bad;
  }
}

TEST(ReadingTest, IntegerValuesStayIntegers) {
  ReadingError error;
  auto record = ParseReading(
      R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","value":-7,"unit":"u","location":"l"})",
      error);
  ASSERT_TRUE(record) << error.message;
  EXPECT_NE(record->value.find(R"("value":-7,)"), std::string::npos) << record->value;
}

TEST(ReadingTest, StringsAreEscapedInTheStoredValue) {
  ReadingError error;
  auto record = ParseReading(
      R"({"sensor_id":"s\"1","timestamp":"2025-11-17T14:20:00Z","type":"t","value":1.5,"unit":"°C","location":"a\nb","extra":1})",
      error);
  ASSERT_TRUE(record) << error.message;
  EXPECT_EQ(record->key, "s\"1");
  EXPECT_EQ(record->value,
            R"({"sensor_id":"s\"1","timestamp":"2025-11-17T14:20:00.000Z","type":"t","value":1.5,"unit":"°C",)"
            R"("location":"a\nb"})");
}

struct BadCase {
  const char* body;
  const char* field;
};

TEST(ReadingTest, EachBadFieldIsNamed) {
  const BadCase cases[] = {
      {R"({"timestamp":"2025-11-17T14:20:00Z","type":"t","value":1,"unit":"u","location":"l"})", "sensor_id"},
      {R"({"sensor_id":7,"timestamp":"2025-11-17T14:20:00Z","type":"t","value":1,"unit":"u","location":"l"})",
       "sensor_id"},
      {R"({"sensor_id":"","timestamp":"2025-11-17T14:20:00Z","type":"t","value":1,"unit":"u","location":"l"})",
       "sensor_id"},
      {R"({"sensor_id":"s","type":"t","value":1,"unit":"u","location":"l"})", "timestamp"},
      {R"({"sensor_id":"s","timestamp":1763389200,"type":"t","value":1,"unit":"u","location":"l"})", "timestamp"},
      {R"({"sensor_id":"s","timestamp":"yesterday","type":"t","value":1,"unit":"u","location":"l"})", "timestamp"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","value":1,"unit":"u","location":"l"})", "type"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","unit":"u","location":"l"})", "value"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","value":"25.3","unit":"u","location":"l"})",
       "value"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","value":1e999,"unit":"u","location":"l"})",
       "value"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","value":null,"unit":"u","location":"l"})",
       "value"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","value":1,"location":"l"})", "unit"},
      {R"({"sensor_id":"s","timestamp":"2025-11-17T14:20:00Z","type":"t","value":1,"unit":"u","location":[]})",
       "location"},
  };
  for (const BadCase& c : cases) {
    ReadingError error;
    EXPECT_FALSE(ParseReading(c.body, error)) << c.body;
    EXPECT_EQ(error.field, c.field) << c.body << " -> " << error.message;
    EXPECT_FALSE(error.index);
  }
}

// Found by tests/fuzz/gateway_reading: the error quoted the first 64 bytes
// of a bad timestamp, cutting a multi-byte character in two, so the 400's
// body was not valid JSON (nor UTF-8).
TEST(ReadingTest, AQuotedBadTimestampIsCutOnACharacterBoundary) {
  const std::string timestamp = std::string(63, 'x') + "\u00e9tait";  // 'é' spans bytes 64-65
  const std::string body = absl::StrCat(R"({"sensor_id":"s","timestamp":")", timestamp,
                                        R"(","type":"t","value":1,"unit":"u","location":"l"})");
  ReadingError error;
  EXPECT_FALSE(ParseReading(body, error));
  EXPECT_EQ(error.field, "timestamp");
  EXPECT_NE(error.message.find(std::string(63, 'x') + "'"), std::string::npos) << error.message;
  EXPECT_TRUE(runnel::http::ParseJson(error.ToJson()).ok()) << error.ToJson();
}

TEST(ReadingTest, BodiesThatAreNotOneReading) {
  for (const char* body : {"", "not json", "{", "[1]", "42", R"({"a":1} trailing)"}) {
    ReadingError error;
    EXPECT_FALSE(ParseReading(body, error)) << body;
    EXPECT_TRUE(error.field.empty() || std::string(body) == "42") << body << ": " << error.field;
  }
}

TEST(ReadingsTest, AnArrayIsAllOrNothingAndTheErrorNamesTheIndex) {
  std::string body = "[";
  for (int i = 0; i < 5; ++i) {
    if (i > 0) body += ",";
    body += i == 3 ? R"({"sensor_id":"s3","timestamp":"2025-11-17T14:20:00Z","type":"t","value":"x","unit":"u","location":"l"})"
                   : kSeedReading;
  }
  body += "]";
  ReadingError error;
  EXPECT_FALSE(ParseReadings(body, 100, error));
  EXPECT_EQ(error.field, "value");
  EXPECT_EQ(error.index, 3u);
  EXPECT_EQ(error.ToJson(), R"({"error":"field 'value' must be a number","field":"value","index":3})");
}

TEST(ReadingsTest, ValidArraysLimitsAndEmptiness) {
  const std::string two = absl::StrCat("[", kSeedReading, ",", kSeedReading, "]");
  ReadingError error;
  auto records = ParseReadings(two, 2, error);
  ASSERT_TRUE(records) << error.message;
  EXPECT_EQ(records->size(), 2u);
  EXPECT_FALSE(ParseReadings(two, 1, error));
  EXPECT_EQ(error.index, 1u);
  EXPECT_NE(error.message.find("at most 1"), std::string::npos);
  EXPECT_FALSE(ParseReadings("[]", 10, error));
  EXPECT_FALSE(ParseReadings(kSeedReading, 10, error));
  EXPECT_TRUE(error.field.empty());
  EXPECT_FALSE(ParseReadings("[1]", 10, error));
  EXPECT_EQ(error.index, 0u);
}

}  // namespace
}  // namespace runnel_apps::gateway
