#include "runnel/serde/json_serde.h"

#include "gtest/gtest.h"

namespace runnel::serdes {
namespace {

TEST(JsonSerdeTest, RoundTripsAnObject) {
  auto v = Json()->Deserialize(std::string_view(R"({"sensor":"s1","temp":21.5,"ok":true,"tags":["a"],"x":null})"));
  ASSERT_TRUE(v.ok()) << v.status();
  const auto& fields = v->struct_value().fields();
  EXPECT_EQ(fields.at("sensor").string_value(), "s1");
  EXPECT_DOUBLE_EQ(fields.at("temp").number_value(), 21.5);
  EXPECT_TRUE(fields.at("ok").bool_value());
  EXPECT_EQ(fields.at("tags").list_value().values(0).string_value(), "a");
  EXPECT_EQ(fields.at("x").kind_case(), JsonValue::kNullValue);

  std::string text;
  ASSERT_TRUE(Json()->Serialize(*v, text).ok());
  auto again = Json()->Deserialize(std::string_view(text));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->struct_value().fields().at("sensor").string_value(), "s1");
}

TEST(JsonSerdeTest, MalformedJsonIsInvalidArgument) {
  for (std::string_view bad : {"{", "{\"a\":}", "nope", "[1,2"}) {
    auto v = Json()->Deserialize(bad);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(JsonSerdeTest, NullPayloadIsJsonNull) {
  auto v = Json()->Deserialize(std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->kind_case(), JsonValue::kNullValue);
}

}  // namespace
}  // namespace runnel::serdes
