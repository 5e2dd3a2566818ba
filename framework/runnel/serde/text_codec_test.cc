#include "runnel/serde/text_codec.h"

#include "gtest/gtest.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

TEST(TextCodecTest, StringKeysAndInt64ValuesHaveTextForms) {
  auto codec = MakeTextCodec(serdes::String(), serdes::Int64());
  EXPECT_EQ(codec->key_serde, serdes::String()->Name());
  EXPECT_EQ(codec->value_serde, serdes::Int64()->Name());
  ASSERT_TRUE(codec->parse_key);
  EXPECT_EQ(*codec->parse_key("sensor-7"), "sensor-7");
  EXPECT_EQ(codec->key_text("sensor-7"), "sensor-7");
  std::string bytes;
  ASSERT_TRUE(serdes::Int64()->Serialize(-42, bytes).ok());
  EXPECT_EQ(codec->value_json(bytes), "-42");
  EXPECT_EQ(codec->value_json("short"), std::nullopt);  // not 8 bytes: not renderable
}

TEST(TextCodecTest, NumericKeysParseAndBadTextIsRefused) {
  auto codec = MakeTextCodec(serdes::Int64(), serdes::String());
  auto key = codec->parse_key("123");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->size(), 8u);
  EXPECT_EQ(codec->key_text(*key), "123");
  EXPECT_TRUE(absl::IsInvalidArgument(codec->parse_key("12x").status()));
  EXPECT_EQ(codec->value_json("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
}

// Found by tests/fuzz/serde: an int32 key's text outside int32 named
// another key ("4294967297" was key 1), and a double key printed with six
// digits named another key (1.2345678 printed as 1.23457).
TEST(TextCodecTest, IntegerKeyTextOutOfRangeIsRefused) {
  auto codec = MakeTextCodec(serdes::Int32(), serdes::Int32());
  EXPECT_TRUE(absl::IsInvalidArgument(codec->parse_key("4294967297").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(codec->parse_key("-2147483649").status()));
  auto max = codec->parse_key("2147483647");
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(codec->key_text(*max), "2147483647");
}

TEST(TextCodecTest, DoubleKeysPrintAsTheNumberTheyAre) {
  auto codec = MakeTextCodec(serdes::Double(), serdes::Double());
  auto key = codec->parse_key("1.2345678");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(codec->key_text(*key), "1.2345678");
  EXPECT_EQ(codec->value_json(*key), "1.2345678");
  auto big = codec->parse_key("123456789.125");
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(codec->key_text(*big), "123456789.125");
}

TEST(TextCodecTest, TypesWithoutTextFormAreBytesOnly) {
  struct Opaque {};
  auto codec = MakeTextCodec<Opaque, Opaque>(nullptr, nullptr);
  EXPECT_FALSE(codec->parse_key);
  EXPECT_FALSE(codec->key_text);
  EXPECT_FALSE(codec->value_json);
}

}  // namespace
}  // namespace runnel
