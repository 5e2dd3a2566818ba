// GlobalKTable and the KStream-GlobalKTable joins on the TopologyTestDriver:
// exact outputs against an oracle written out by hand.

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using OptKey = std::optional<std::string>;
using Out = TestKeyValue<OptKey, std::string>;

// The customer id before ':' in an order "customer:item"; no customer (an
// empty id) is a null table key.
std::optional<std::string> CustomerOf(const OptKey&, const std::string& order) {
  std::string id = order.substr(0, order.find(':'));
  if (id.empty()) return std::nullopt;
  return id;
}

std::string ItemOf(const std::string& order) { return order.substr(order.find(':') + 1); }

// orders (nullable key, "customer:item") joined with the global table of
// customers, inner into "joined" and left into "left-joined".
std::shared_ptr<const Topology> OrdersWithCustomers(bool in_memory) {
  StreamsBuilder builder;
  auto materialized = Materialized<std::string, std::string>::As("customers-store", serdes::String(), serdes::String());
  if (in_memory) materialized.InMemory();
  auto customers = builder.GlobalTable("customers", Consumed(serdes::String(), serdes::String()), materialized);
  auto orders = builder.Stream("orders", Consumed(serdes::Nullable(serdes::String()), serdes::String()));
  orders
      .Join(customers, CustomerOf,
            [](const std::string& order, const std::string& customer) { return ItemOf(order) + "@" + customer; })
      .To("joined", Produced(serdes::Nullable(serdes::String()), serdes::String()));
  orders
      .LeftJoin(customers, CustomerOf,
                [](const std::string& order, const std::optional<std::string>& customer) {
                  return ItemOf(order) + "@" + customer.value_or("null");
                })
      .To("left-joined", Produced(serdes::Nullable(serdes::String()), serdes::String()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

class GlobalTableJoinTest : public ::testing::TestWithParam<bool> {};

TEST_P(GlobalTableJoinTest, InnerAndLeftJoinsLookUpTheTableAsOfEachRecord) {
  auto driver = TopologyTestDriver::Create(OrdersWithCustomers(/*in_memory=*/GetParam()));
  ASSERT_TRUE(driver.ok()) << driver.status();
  auto customers = (*driver)->CreateInputTopic("customers", serdes::String(), serdes::Nullable(serdes::String()));
  auto orders = (*driver)->CreateInputTopic("orders", serdes::Nullable(serdes::String()), serdes::String());
  auto joined = (*driver)->CreateOutputTopic("joined", serdes::Nullable(serdes::String()), serdes::String());
  auto left = (*driver)->CreateOutputTopic("left-joined", serdes::Nullable(serdes::String()), serdes::String());

  ASSERT_TRUE(customers.PipeInput("c1", "Alice", Timestamp(1)).ok());
  ASSERT_TRUE(customers.PipeInput("c2", "Bob", Timestamp(2)).ok());
  // Global table updates produce no output.
  EXPECT_TRUE(joined.IsEmpty());
  EXPECT_TRUE(left.IsEmpty());

  ASSERT_TRUE(orders.PipeInput("o1", "c1:apple", Timestamp(10)).ok());
  // No row for c3 yet: the inner join drops it, the left join has no value.
  ASSERT_TRUE(orders.PipeInput("o2", "c3:pear", Timestamp(11)).ok());
  // A row arriving after a record does not join it retroactively.
  ASSERT_TRUE(customers.PipeInput("c3", "Carol", Timestamp(12)).ok());
  ASSERT_TRUE(orders.PipeInput("o3", "c3:fig", Timestamp(13)).ok());
  // A tombstone deletes the row.
  ASSERT_TRUE(customers.PipeInput("c1", std::nullopt, Timestamp(14)).ok());
  ASSERT_TRUE(orders.PipeInput("o4", "c1:kiwi", Timestamp(15)).ok());
  // An update replaces the row.
  ASSERT_TRUE(customers.PipeInput("c2", "Bobby", Timestamp(16)).ok());
  ASSERT_TRUE(orders.PipeInput("o5", "c2:plum", Timestamp(17)).ok());
  // A null stream key still joins: the key selector reads the value.
  ASSERT_TRUE(orders.PipeInput(std::nullopt, "c2:lime", Timestamp(18)).ok());
  // A null table key: dropped by the inner join, joined with nothing by the
  // left join.
  ASSERT_TRUE(orders.PipeInput("o6", ":nut", Timestamp(19)).ok());

  EXPECT_THAT(*joined.ReadKeyValuesToList(),
              ElementsAre(Out{"o1", "apple@Alice", Timestamp(10)}, Out{"o3", "fig@Carol", Timestamp(13)},
                          Out{"o5", "plum@Bobby", Timestamp(17)}, Out{std::nullopt, "lime@Bobby", Timestamp(18)}));
  EXPECT_THAT(*left.ReadKeyValuesToList(),
              ElementsAre(Out{"o1", "apple@Alice", Timestamp(10)}, Out{"o2", "pear@null", Timestamp(11)},
                          Out{"o3", "fig@Carol", Timestamp(13)}, Out{"o4", "kiwi@null", Timestamp(15)},
                          Out{"o5", "plum@Bobby", Timestamp(17)}, Out{std::nullopt, "lime@Bobby", Timestamp(18)},
                          Out{"o6", "nut@null", Timestamp(19)}));

  auto store = (*driver)->GetKeyValueStore("customers-store", serdes::String(), serdes::String());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*store->Get("c1"), std::nullopt);
  EXPECT_EQ(*store->Get("c2"), "Bobby");
  EXPECT_EQ(*store->Get("c3"), "Carol");
}

INSTANTIATE_TEST_SUITE_P(RocksDbAndInMemory, GlobalTableJoinTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "InMemory" : "RocksDb";
                         });

TEST(GlobalTableTest, DescribeListsTheGlobalStoreAsASubtopologyWithoutTasks) {
  auto topology = OrdersWithCustomers(/*in_memory=*/false);
  EXPECT_EQ(topology->Describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000002 (topics: [orders])\n"
            "      --> KSTREAM-JOIN-0000000003, KSTREAM-LEFTJOIN-0000000005\n"
            "    Processor: KSTREAM-JOIN-0000000003 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000004\n"
            "      <-- KSTREAM-SOURCE-0000000002\n"
            "    Sink: KSTREAM-SINK-0000000004 (topic: joined)\n"
            "      <-- KSTREAM-JOIN-0000000003\n"
            "    Processor: KSTREAM-LEFTJOIN-0000000005 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000006\n"
            "      <-- KSTREAM-SOURCE-0000000002\n"
            "    Sink: KSTREAM-SINK-0000000006 (topic: left-joined)\n"
            "      <-- KSTREAM-LEFTJOIN-0000000005\n"
            "   Sub-topology: 1 for global store (will not generate tasks)\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [customers])\n"
            "      --> KTABLE-SOURCE-0000000001\n"
            "    Processor: KTABLE-SOURCE-0000000001 (stores: [customers-store])\n"
            "      <-- KSTREAM-SOURCE-0000000000\n");
  EXPECT_THAT(topology->DescribeJson(), HasSubstr(R"("global_stores":[{"id":1,"store":"customers-store","nodes":[)"));
  // The global topic is nobody's task input, and its store is global.
  EXPECT_EQ(topology->SourceTopics(), std::set<std::string>{"orders"});
  EXPECT_EQ(topology->SubtopologyForTopic("customers"), -1);
  ASSERT_EQ(topology->global_stores().size(), 1u);
  EXPECT_EQ(topology->global_stores()[0].topic, "customers");
  EXPECT_TRUE(topology->IsGlobalStore("customers-store"));
  EXPECT_FALSE(topology->stores().at("customers-store").logging);
}

TEST(GlobalTableTest, NothingMayFollowAGlobalStoreSource) {
  StreamsBuilder builder;
  builder.GlobalTable("customers", Consumed(serdes::String(), serdes::String()),
                      Materialized<std::string, std::string>::As("customers-store", serdes::String(), serdes::String()));
  builder.Stream("orders", Consumed(serdes::String(), serdes::String()))
      .To("out", Produced(serdes::String(), serdes::String()));
  builder.topology_builder().AddSink<std::string, std::optional<std::string>>(
      "leak", "elsewhere", serdes::String(), serdes::Nullable(serdes::String()), {"KSTREAM-SOURCE-0000000000"});
  auto topology = builder.Build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(), HasSubstr("'leak' is connected to global store source"));
  EXPECT_THAT(topology.status().message(), HasSubstr("topic 'customers'"));
}

// A processor that tries to write the global store it reads.
class WritingProcessor final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  absl::Status Process(Record<std::string, std::string> r) override {
    KeyValueStore* store = context().GetKeyValueStore("customers-store");
    if (store == nullptr) return absl::NotFoundError("no global store");
    return store->Put(r.key, r.value);
  }
};

TEST(GlobalTableTest, TasksReadTheGlobalStoreButCannotWriteIt) {
  StreamsBuilder builder;
  builder.GlobalTable("customers", Consumed(serdes::String(), serdes::String()),
                      Materialized<std::string, std::string>::As("customers-store", serdes::String(), serdes::String()));
  builder.Stream("orders", Consumed(serdes::String(), serdes::String()))
      .Process<std::string, std::string>([] { return std::make_unique<WritingProcessor>(); });
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto driver = TopologyTestDriver::Create(*topology);
  ASSERT_TRUE(driver.ok()) << driver.status();
  auto orders = (*driver)->CreateInputTopic("orders", serdes::String(), serdes::String());
  absl::Status s = orders.PipeInput("c1", "x", Timestamp(1));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("global store 'customers-store' is read-only"));
  EXPECT_THAT(s.message(), HasSubstr("topic 'customers'"));
}

}  // namespace
}  // namespace runnel
