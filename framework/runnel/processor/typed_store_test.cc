#include "runnel/processor/typed_store.h"

#include "gtest/gtest.h"
#include "runnel/serde/serdes.h"
#include "runnel/state/in_memory_kv_store.h"

namespace runnel {
namespace {

TEST(TypedKeyValueStoreTest, RoundTripsThroughSerdesAndJavaBytes) {
  InMemoryKeyValueStore bytes("counts");
  TypedKeyValueStore<std::string, int64_t> store(&bytes, serdes::String(), serdes::Int64());
  EXPECT_EQ(*store.Get("a"), std::nullopt);
  ASSERT_TRUE(store.Put("a", 258).ok());
  EXPECT_EQ(*store.Get("a"), 258);
  // Stored as Kafka's LongSerializer writes it: 8 bytes big-endian.
  EXPECT_EQ(**bytes.Get("a"), std::string("\0\0\0\0\0\0\x01\x02", 8));
  ASSERT_TRUE(store.Delete("a").ok());
  EXPECT_EQ(*store.Get("a"), std::nullopt);
}

TEST(TypedKeyValueStoreTest, UndecodableStoredValueNamesTheStore) {
  InMemoryKeyValueStore bytes("counts");
  ASSERT_TRUE(bytes.Put("a", "abc").ok());
  TypedKeyValueStore<std::string, int64_t> store(&bytes, serdes::String(), serdes::Int64());
  auto v = store.Get("a");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("store 'counts': stored value"), absl::string_view::npos) << v.status();
}

}  // namespace
}  // namespace runnel
