#include "runnel/sink/postgres_sink.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/serde/serdes.h"

namespace runnel::sink {
namespace {

using ::testing::HasSubstr;

class PostgresSinkOptionsTest : public ::testing::Test {
 protected:
  PostgresSinkOptions Valid() {
    PostgresSinkOptions o;
    o.name = "revenue-sink";
    o.conninfo = "host=127.0.0.1 dbname=x";
    o.kafka = {{"bootstrap.servers", "127.0.0.1:9092"}};
    o.routes.push_back({.topic = "revenue",
                        .mapping = {.table = "public.revenue",
                                    .key_columns = {{"id", "bigint"}},
                                    .value_columns = {{"amount", "numeric"}}},
                        .mapper = [](const kafka::ConsumedRecord&) -> absl::StatusOr<Row> { return Row{}; }});
    o.clock = &clock_;
    o.metrics = &metrics_;
    return o;
  }

  void ExpectInvalid(const PostgresSinkOptions& o, std::string_view field) {
    auto sink = PostgresSink::Create(o);
    ASSERT_FALSE(sink.ok()) << "accepted, expected an error naming " << field;
    EXPECT_TRUE(absl::IsInvalidArgument(sink.status())) << sink.status();
    EXPECT_THAT(sink.status().message(), HasSubstr(std::string(field)));
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
};

TEST_F(PostgresSinkOptionsTest, AcceptsAValidConfigurationWithoutIo) {
  auto sink = PostgresSink::Create(Valid());
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_EQ((*sink)->state(), PostgresSink::State::kCreated);
}

TEST_F(PostgresSinkOptionsTest, NamesTheFieldOfEveryBadOption) {
  auto o = Valid();
  o.name = "";
  ExpectInvalid(o, "PostgresSinkOptions.name");
  o = Valid();
  o.conninfo = "";
  ExpectInvalid(o, "PostgresSinkOptions.conninfo");
  o = Valid();
  o.routes.clear();
  ExpectInvalid(o, "PostgresSinkOptions.routes");
  o = Valid();
  o.routes[0].topic = "";
  ExpectInvalid(o, "routes[0].topic");
  o = Valid();
  o.routes[0].mapper = nullptr;
  ExpectInvalid(o, "routes[0].mapper");
  o = Valid();
  o.routes[0].mapping.key_columns.clear();
  ExpectInvalid(o, "routes[0].mapping.key_columns");
  o = Valid();
  o.routes[0].mapping.value_columns.push_back({"id", "text"});
  ExpectInvalid(o, "routes[0].mapping.value_columns[1].name: duplicate column 'id'");
  o = Valid();
  o.routes[0].mapping.table = "a.b.c";
  ExpectInvalid(o, "routes[0].mapping.table");
  o = Valid();
  o.routes[0].mapping.value_columns[0].type = "int; drop table x";
  ExpectInvalid(o, "routes[0].mapping.value_columns[0].type");
  o = Valid();
  o.routes.push_back(o.routes[0]);
  ExpectInvalid(o, "routes[1].topic");
  o = Valid();
  o.on_error = SinkErrorPolicy::kDeadLetter;
  ExpectInvalid(o, "PostgresSinkOptions.dead_letter_topic");
  o = Valid();
  o.max_batch_records = 0;
  ExpectInvalid(o, "PostgresSinkOptions.max_batch_records");
  o = Valid();
  o.clock = nullptr;
  ExpectInvalid(o, "PostgresSinkOptions.clock");
  o = Valid();
  o.metrics = nullptr;
  ExpectInvalid(o, "PostgresSinkOptions.metrics");
  o = Valid();
  o.kafka.clear();
  ExpectInvalid(o, "bootstrap.servers");
}

TEST_F(PostgresSinkOptionsTest, TypesMayBeLeftOutWhenTheSinkCreatesNoTables) {
  auto o = Valid();
  o.routes[0].mapping.value_columns[0].type = "";
  ExpectInvalid(o, "value_columns[0].type");
  o.create_tables = false;
  EXPECT_TRUE(PostgresSink::Create(o).ok());
}

TEST(MapRecordsTest, MapsKeyAndValueAndATombstoneToADelete) {
  RowMapper mapper = MapRecords<std::string, std::string>(
      serdes::String(), serdes::String(),
      [](const std::string& k) { return std::vector<SqlValue>{k}; },
      [](const std::string&, const std::string& v) { return std::vector<SqlValue>{v, std::nullopt}; });
  auto upsert = mapper(kafka::ConsumedRecord::FromParts({.key = "k", .value = "v"}));
  ASSERT_TRUE(upsert.ok()) << upsert.status();
  EXPECT_FALSE(upsert->is_delete);
  EXPECT_EQ(upsert->key, std::vector<SqlValue>{"k"});
  EXPECT_EQ(upsert->value, (std::vector<SqlValue>{"v", std::nullopt}));
  auto tombstone = mapper(kafka::ConsumedRecord::FromParts({.key = "k"}));
  ASSERT_TRUE(tombstone.ok());
  EXPECT_TRUE(tombstone->is_delete);
}

}  // namespace
}  // namespace runnel::sink
