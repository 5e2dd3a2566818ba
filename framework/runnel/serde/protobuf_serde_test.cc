#include "runnel/serde/protobuf_serde.h"

#include "gtest/gtest.h"
#include "runnel/v1/record.pb.h"

namespace runnel::serdes {
namespace {

TEST(ProtobufSerdeTest, BinaryRoundTrip) {
  runnel::v1::RecordEnvelope in;
  in.set_topic("t");
  in.set_partition(3);
  in.set_offset(42);
  in.set_value(std::string("\x00\x01", 2));
  auto serde = Protobuf<runnel::v1::RecordEnvelope>();
  std::string bytes;
  ASSERT_TRUE(serde->Serialize(in, bytes).ok());
  auto out = serde->Deserialize(std::string_view(bytes));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->topic(), "t");
  EXPECT_EQ(out->offset(), 42);
  EXPECT_TRUE(out->has_value());
  EXPECT_FALSE(out->has_key());
  EXPECT_EQ(serde->Name(), "protobuf<runnel.v1.RecordEnvelope>");
}

TEST(ProtobufSerdeTest, GarbageIsInvalidArgument) {
  auto serde = Protobuf<runnel::v1::RecordEnvelope>();
  auto out = serde->Deserialize(std::string_view("\xff\xff\xff\xff"));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProtobufSerdeTest, JsonMapping) {
  auto serde = ProtobufJson<runnel::v1::RecordEnvelope>();
  auto out = serde->Deserialize(std::string_view(R"({"topic":"in","partition":2,"offset":"7"})"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->partition(), 2);
  EXPECT_EQ(out->offset(), 7);
  std::string text;
  ASSERT_TRUE(serde->Serialize(*out, text).ok());
  EXPECT_NE(text.find("\"topic\":\"in\""), std::string::npos) << text;
  EXPECT_EQ(serde->Deserialize(std::string_view("{\"partition\":\"x\"}")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace runnel::serdes
