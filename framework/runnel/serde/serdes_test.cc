#include "runnel/serde/serdes.h"

#include <limits>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace runnel::serdes {
namespace {

template <typename T>
std::string Hex(const SerdePtr<T>& serde, const T& value) {
  std::string out = "garbage";
  EXPECT_TRUE(serde->Serialize(value, out).ok());
  return absl::BytesToHexString(out);
}

// Expected bytes are what Kafka's Java LongSerializer / IntegerSerializer /
// DoubleSerializer write (big-endian, two's complement, IEEE-754 bits).
TEST(SerdesTest, Int64MatchesJavaLongSerializer) {
  EXPECT_EQ(Hex<int64_t>(Int64(), 1), "0000000000000001");
  EXPECT_EQ(Hex<int64_t>(Int64(), -1), "ffffffffffffffff");
  EXPECT_EQ(Hex<int64_t>(Int64(), 0x0102030405060708), "0102030405060708");
  EXPECT_EQ(Hex<int64_t>(Int64(), std::numeric_limits<int64_t>::min()), "8000000000000000");
  for (int64_t v : {int64_t{0}, int64_t{-42}, std::numeric_limits<int64_t>::max()}) {
    std::string bytes;
    ASSERT_TRUE(Int64()->Serialize(v, bytes).ok());
    EXPECT_EQ(*Int64()->Deserialize(bytes), v);
  }
}

TEST(SerdesTest, Int32MatchesJavaIntegerSerializer) {
  EXPECT_EQ(Hex<int32_t>(Int32(), 258), "00000102");
  EXPECT_EQ(Hex<int32_t>(Int32(), -2), "fffffffe");
  std::string bytes;
  ASSERT_TRUE(Int32()->Serialize(-123456, bytes).ok());
  EXPECT_EQ(*Int32()->Deserialize(bytes), -123456);
}

TEST(SerdesTest, DoubleMatchesJavaDoubleSerializer) {
  EXPECT_EQ(Hex<double>(Double(), 1.0), "3ff0000000000000");
  EXPECT_EQ(Hex<double>(Double(), -2.5), "c004000000000000");
  std::string bytes;
  ASSERT_TRUE(Double()->Serialize(3.14159, bytes).ok());
  EXPECT_DOUBLE_EQ(*Double()->Deserialize(bytes), 3.14159);
}

TEST(SerdesTest, FixedWidthRejectsWrongSizesAndNull) {
  EXPECT_EQ(Int64()->Deserialize(std::string_view("abc")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Int32()->Deserialize(std::string_view("abcdefgh")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Double()->Deserialize(std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SerdesTest, StringKeepsBytesAndReadsNullAsEmpty) {
  std::string in("h\xc3\xa9llo\0x", 7);
  std::string bytes;
  ASSERT_TRUE(String()->Serialize(in, bytes).ok());
  EXPECT_EQ(bytes, in);
  EXPECT_EQ(*String()->Deserialize(bytes), in);
  EXPECT_EQ(*String()->Deserialize(std::nullopt), "");
  EXPECT_FALSE(String()->IsNull(""));
}

TEST(SerdesTest, NullableTellsNullFromEmpty) {
  auto serde = Nullable(String());
  EXPECT_EQ(*serde->Deserialize(std::nullopt), std::nullopt);
  EXPECT_EQ(*serde->Deserialize(std::string_view("")), std::optional<std::string>(""));
  EXPECT_TRUE(serde->IsNull(std::nullopt));
  EXPECT_FALSE(serde->IsNull(std::string("")));
  auto longs = Nullable(Int64());
  EXPECT_EQ(*longs->Deserialize(std::nullopt), std::nullopt);
  EXPECT_EQ(longs->Name(), "nullable<int64>");
}

}  // namespace
}  // namespace runnel::serdes
