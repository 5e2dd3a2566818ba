#include "runnel/http/json.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace runnel::http {
namespace {

TEST(JsonTest, ParsesAndSerializesCompactly) {
  auto v = ParseJson(R"( {"a": 25.3, "b": [1, -2, 3.0, true, null], "c": "x\"y\n", "d": 18446744073709551615} )");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(SerializeJson(*v), R"({"a":25.3,"b":[1,-2,3.0,true,null],"c":"x\"y\n","d":18446744073709551615})");
}

TEST(JsonTest, NumbersReadBackExactly) {
  for (double d : {0.1, 1e21, 1e-7, -0.0, 123456789.125, 5e-324}) {
    std::string out;
    AppendJsonNumber(d, out);
    auto v = ParseJson(out);
    ASSERT_TRUE(v.ok()) << out;
    EXPECT_EQ(v->to_number<double>(), d) << out;
  }
  std::string out;
  AppendJsonNumber(std::numeric_limits<double>::infinity(), out);
  EXPECT_EQ(out, "null");
}

TEST(JsonTest, ControlCharactersAreEscaped) {
  std::string out;
  AppendJsonString(std::string("a\x01z\x1f", 4), out);
  EXPECT_EQ(out, R"("a\u0001z\u001f")");
}

TEST(JsonTest, ErrorsSayWhere) {
  auto v = ParseJson(R"({"a": })");
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(v.status()));
  EXPECT_NE(v.status().message().find("invalid JSON at byte"), std::string::npos) << v.status();
  EXPECT_FALSE(ParseJson("{} x").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson(std::string(100, '[') + std::string(100, ']')).ok());
}

TEST(JsonTest, HugeNumbersParseAsInfinity) {
  // Boost.JSON reads an overflowing number as infinity: callers that need
  // a finite value must check (the sensor gateway does).
  auto v = ParseJson("1e999");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(std::isinf(v->as_double()));
}

TEST(JsonTest, ErrorResponse) {
  Response r = JsonError(404, "no \"x\"");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":"no \"x\""})");
}

}  // namespace
}  // namespace runnel::http
