#include "runnel/serde/windowed.h"

#include <string>

#include "gtest/gtest.h"

namespace runnel {
namespace {

// The bytes Kafka Streams' TimeWindowedSerializer<String> writes for key
// "ab" in the window starting at 1000 ms: the key, then the start as a
// big-endian long.
TEST(WindowedSerdeTest, TimeWindowedMatchesKafkaStreamsBytes) {
  auto serde = serdes::TimeWindowed(serdes::String(), 60'000);
  std::string bytes;
  ASSERT_TRUE(serde->Serialize(Windowed<std::string>{"ab", Window{Timestamp(1000), Timestamp(61'000)}}, bytes).ok());
  EXPECT_EQ(bytes, std::string("ab\x00\x00\x00\x00\x00\x00\x03\xe8", 10));
  auto back = serde->Deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->key, "ab");
  EXPECT_EQ(back->window.start, Timestamp(1000));
  EXPECT_EQ(back->window.end, Timestamp(61'000));
}

TEST(WindowedSerdeTest, TimeWindowedWithoutSizeEndsAtMaxLikeKafka) {
  auto serde = serdes::TimeWindowed(serdes::Int64());
  std::string bytes;
  ASSERT_TRUE(serde->Serialize(Windowed<int64_t>{7, Window{Timestamp(5), Timestamp(10)}}, bytes).ok());
  EXPECT_EQ(bytes.size(), 16u);
  auto back = serde->Deserialize(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key, 7);
  EXPECT_EQ(back->window.end, Timestamp(std::numeric_limits<int64_t>::max()));
}

// SessionKeySchema: the key, then the end, then the start.
TEST(WindowedSerdeTest, SessionWindowedMatchesKafkaStreamsBytes) {
  auto serde = serdes::SessionWindowed(serdes::String());
  std::string bytes;
  ASSERT_TRUE(serde->Serialize(Windowed<std::string>{"k", Window{Timestamp(1), Timestamp(258)}}, bytes).ok());
  EXPECT_EQ(bytes, std::string("k\x00\x00\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x00\x00\x00\x01", 17));
  auto back = serde->Deserialize(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->window, (Window{Timestamp(1), Timestamp(258)}));
}

TEST(WindowedSerdeTest, MalformedBytesAreInvalidArgument) {
  EXPECT_EQ(serdes::TimeWindowed(serdes::String())->Deserialize(std::string_view("abc")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(serdes::SessionWindowed(serdes::String())->Deserialize(std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string start_after_end("k\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02", 17);
  EXPECT_EQ(serdes::SessionWindowed(serdes::String())->Deserialize(start_after_end).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WindowedSerdeTest, AWindowedKeyIsPartitionedByItsBaseKeyBytesOnly) {
  auto time = serdes::TimeWindowed(serdes::String(), 1000);
  auto session = serdes::SessionWindowed(serdes::String());
  std::string a, b;
  ASSERT_TRUE(time->Serialize({"sensor-7", Window{Timestamp(0), Timestamp(1000)}}, a).ok());
  ASSERT_TRUE(time->Serialize({"sensor-7", Window{Timestamp(5000), Timestamp(6000)}}, b).ok());
  EXPECT_NE(a, b);
  EXPECT_EQ(time->PartitionBytes(a), "sensor-7");
  EXPECT_EQ(time->PartitionBytes(b), "sensor-7");
  ASSERT_TRUE(session->Serialize({"sensor-7", Window{Timestamp(10), Timestamp(20)}}, a).ok());
  EXPECT_EQ(session->PartitionBytes(a), "sensor-7");
  // Plain keys: the whole key.
  EXPECT_EQ(serdes::String()->PartitionBytes("sensor-7"), "sensor-7");
}

}  // namespace
}  // namespace runnel
