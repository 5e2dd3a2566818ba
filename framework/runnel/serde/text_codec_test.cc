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

TEST(TextCodecTest, TypesWithoutTextFormAreBytesOnly) {
  struct Opaque {};
  auto codec = MakeTextCodec<Opaque, Opaque>(nullptr, nullptr);
  EXPECT_FALSE(codec->parse_key);
  EXPECT_FALSE(codec->key_text);
  EXPECT_FALSE(codec->value_json);
}

}  // namespace
}  // namespace runnel
