#include "runnel/topology/topology.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

using ::testing::HasSubstr;
using S = std::string;

class PassThrough final : public Processor<S, S, S, S> {
 public:
  absl::Status Process(Record<S, S> r) override { return context().Forward(std::move(r)); }
};

ProcessorSupplier<S, S, S, S> Pass() {
  return [] { return std::make_unique<PassThrough>(); };
}

TopologyBuilder& AddStringSource(TopologyBuilder& b, std::string name, std::string topic) {
  return b.AddSource<S, S>(std::move(name), {std::move(topic)}, serdes::String(), serdes::String());
}

TEST(TopologyTest, SplitsIntoSubtopologiesAndDescribes) {
  TopologyBuilder b;
  AddStringSource(b, "src-a", "a");
  b.AddProcessor<S, S, S, S>("p1", Pass(), {"src-a"});
  b.AddSink<S, S>("sink-a", "out-a", serdes::String(), serdes::String(), {"p1"});
  AddStringSource(b, "src-b", "b");
  b.AddSink<S, S>("sink-b", "out-b", serdes::String(), serdes::String(), {"src-b"});
  auto topology = b.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  const auto& subs = (*topology)->subtopologies();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_THAT(subs[0].nodes, ::testing::ElementsAre("src-a", "p1", "sink-a"));
  EXPECT_EQ((*topology)->SubtopologyForTopic("b"), 1);
  EXPECT_EQ((*topology)->SubtopologyForTopic("zzz"), -1);
  EXPECT_EQ((*topology)->Describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: src-a (topics: [a])\n"
            "      --> p1\n"
            "    Processor: p1 (stores: [])\n"
            "      --> sink-a\n"
            "      <-- src-a\n"
            "    Sink: sink-a (topic: out-a)\n"
            "      <-- p1\n"
            "   Sub-topology: 1\n"
            "    Source: src-b (topics: [b])\n"
            "      --> sink-b\n"
            "    Sink: sink-b (topic: out-b)\n"
            "      <-- src-b\n");
  EXPECT_THAT((*topology)->DescribeJson(),
              HasSubstr(R"({"name":"p1","type":"processor","stores":[],"successors":["sink-a"],"predecessors":["src-a"]})"));
}

TEST(TopologyTest, JoinedBranchesShareASubtopology) {
  TopologyBuilder b;
  AddStringSource(b, "s1", "t1");
  AddStringSource(b, "s2", "t2");
  b.AddProcessor<S, S, S, S>("merge", Pass(), {"s1", "s2"});
  auto topology = b.Build();
  ASSERT_TRUE(topology.ok());
  ASSERT_EQ((*topology)->subtopologies().size(), 1u);
  EXPECT_THAT((*topology)->subtopologies()[0].source_topics, ::testing::ElementsAre("t1", "t2"));
}

TEST(TopologyTest, BadGraphsNameTheNode) {
  {
    TopologyBuilder b;
    AddStringSource(b, "x", "t");
    b.AddProcessor<S, S, S, S>("x", Pass(), {"x"});
    EXPECT_THAT(b.Build().status().message(), HasSubstr("duplicate node name 'x'"));
  }
  {
    TopologyBuilder b;
    AddStringSource(b, "src", "t");
    b.AddProcessor<S, S, S, S>("p", Pass(), {"nope"});
    EXPECT_THAT(b.Build().status().message(), HasSubstr("node 'p': parent 'nope' does not exist"));
  }
  {
    TopologyBuilder b;
    AddStringSource(b, "src", "t");
    b.AddProcessor<S, S, S, S>("p", Pass(), {"src", "q"});
    b.AddProcessor<S, S, S, S>("q", Pass(), {"p"});
    EXPECT_THAT(b.Build().status().message(), HasSubstr("cycle through node 'p'"));
  }
  {
    TopologyBuilder b;
    AddStringSource(b, "s1", "t");
    AddStringSource(b, "s2", "t");
    EXPECT_THAT(b.Build().status().message(), HasSubstr("topic 't' is read by two sources"));
  }
  {
    TopologyBuilder b;
    EXPECT_EQ(b.Build().status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// A processor given a store declared for another (a join reading a table)
// pulls both into one sub-topology, whose topics must then be
// co-partitioned; stateless sub-topologies are not checked.
TEST(TopologyTest, ConnectedStoresMergeSubtopologiesThatMustBeCoPartitioned) {
  TopologyBuilder b;
  AddStringSource(b, "table-src", "users");
  b.AddProcessor<S, S, S, S>("table", Pass(), {"table-src"});
  b.AddStateStore(StoreSpec{.name = "users-store"}, {"table"});
  AddStringSource(b, "stream-src", "orders");
  b.AddProcessor<S, S, S, S>("join", Pass(), {"stream-src"});
  b.ConnectProcessorAndStateStores("join", {"users-store"});
  AddStringSource(b, "plain-src", "clicks");
  b.AddSink<S, S>("plain-sink", "out", serdes::String(), serdes::String(), {"plain-src"});
  auto topology = b.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  ASSERT_EQ((*topology)->subtopologies().size(), 2u);
  EXPECT_THAT((*topology)->subtopologies()[0].source_topics, ::testing::ElementsAre("orders", "users"));
  EXPECT_THAT((*topology)->Describe(), HasSubstr("Processor: join (stores: [users-store])"));
  EXPECT_TRUE((*topology)->CheckCoPartitioned({{"users", 6}, {"orders", 6}, {"clicks", 1}}).ok());
  absl::Status s = (*topology)->CheckCoPartitioned({{"users", 6}, {"orders", 3}, {"clicks", 1}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("sub-topology 0 keeps state (stores: users-store)"));
  EXPECT_THAT(s.message(), HasSubstr("orders (3), users (6)"));
}

TEST(TopologyTest, ConnectingAnUndeclaredStoreOrNoProcessorFails) {
  {
    TopologyBuilder b;
    AddStringSource(b, "src", "t");
    b.AddProcessor<S, S, S, S>("p", Pass(), {"src"});
    b.ConnectProcessorAndStateStores("p", {"nope"});
    EXPECT_THAT(b.Build().status().message(),
                HasSubstr("processor 'p' uses state store 'nope', which is not declared"));
  }
  {
    TopologyBuilder b;
    AddStringSource(b, "src", "t");
    b.AddProcessor<S, S, S, S>("p", Pass(), {"src"});
    b.AddStateStore(StoreSpec{.name = "s"}, {"p"});
    b.ConnectProcessorAndStateStores("src", {"s"});
    EXPECT_THAT(b.Build().status().message(), HasSubstr("cannot connect stores to 'src': no processor"));
  }
}

class Capture final : public RecordSink {
 public:
  absl::Status Send(const SerializedRecord& r) override {
    out.push_back(std::string(r.topic) + ":" + std::string(r.key.value_or("<null>")) + "=" +
                  std::string(r.value.value_or("<null>")));
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 4; }
  std::vector<std::string> out;
};

TEST(TopologyTest, TaskGraphsAreIndependentInstances) {
  TopologyBuilder b;
  AddStringSource(b, "src", "in");
  b.AddSink<S, S>("sink", "out", serdes::String(), serdes::String(), {"src"});
  auto topology = b.Build();
  ASSERT_TRUE(topology.ok());
  auto g1 = (*topology)->CreateTaskGraph(0);
  auto g2 = (*topology)->CreateTaskGraph(0);
  ASSERT_TRUE(g1.ok() && g2.ok());
  EXPECT_NE((*g1)->SourceFor("in"), (*g2)->SourceFor("in"));
  EXPECT_EQ((*g1)->SourceFor("other"), nullptr);
  Capture sink;
  processor::internal::NodeEnv env{.sink = &sink};
  ASSERT_TRUE((*g1)->Init(env).ok());
  ASSERT_TRUE((*g1)->SourceFor("in")->ProcessRaw({.topic = "in", .key = "k", .value = "v"}).ok());
  EXPECT_THAT(sink.out, ::testing::ElementsAre("out:k=v"));
  EXPECT_EQ((*topology)->CreateTaskGraph(3).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace runnel
