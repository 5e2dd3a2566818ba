#include "runnel/dsl/streams_builder.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/serde/serdes.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;

// Runs one task of sub-topology 0 and records what its sinks send. (The
// broker-free TopologyTestDriver of the topology-and-state issue replaces
// this small harness.)
class Harness final : public RecordSink, public TaskContext {
 public:
  explicit Harness(const Topology& topology) {
    graph_ = *topology.CreateTaskGraph(0);
    env_.sink = this;
    env_.task = this;
    EXPECT_TRUE(graph_->Init(env_).ok());
  }
  void Pipe(std::string topic, std::string key, std::string value, int64_t ts = 0) {
    absl::Status s = graph_->SourceFor(topic)->ProcessRaw(
        {.topic = topic, .key = key, .value = value, .timestamp = Timestamp(ts)});
    EXPECT_TRUE(s.ok()) << s;
  }
  absl::Status Send(const SerializedRecord& r) override {
    out.push_back(std::string(r.topic) + ":" + std::string(r.key.value_or("<null>")) + "=" +
                  std::string(r.value.value_or("<null>")) + "@" +
                  std::to_string(r.timestamp.value()));
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 3; }
  std::string_view application_id() const override { return "app"; }
  TaskId task_id() const override { return {}; }
  const RecordMetadata* record_metadata() const override { return nullptr; }
  Timestamp stream_time() const override { return Timestamp(0); }
  const Clock& clock() const override { return Clock::System(); }
  void RequestCommit() override {}
  MetricsRegistry& metrics() override { return metrics_; }
  KeyValueStore* GetKeyValueStore(std::string_view) override { return nullptr; }
  Cancellable Schedule(absl::Duration, PunctuationType, Punctuator) override { return {}; }

  std::vector<std::string> out;

 private:
  std::unique_ptr<ProcessorGraph> graph_;
  processor::internal::NodeEnv env_;
  MetricsRegistry metrics_;
};

Consumed<std::string, std::string> Strings() { return {serdes::String(), serdes::String()}; }

TEST(StreamsBuilderTest, FilterMapValuesTo) {
  StreamsBuilder builder;
  builder.Stream("in", Strings())
      .Filter([](const std::string&, const std::string& v) { return v != "drop"; })
      .FilterNot([](const std::string& k, const std::string&) { return k == "skip"; })
      .MapValues([](const std::string& v) { return v + "!"; })
      .To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  Harness h(**topology);
  h.Pipe("in", "a", "x", 5);
  h.Pipe("in", "b", "drop");
  h.Pipe("in", "skip", "y");
  h.Pipe("in", "c", "z", 7);
  EXPECT_THAT(h.out, ElementsAre("out:a=x!@5", "out:c=z!@7"));
}

TEST(StreamsBuilderTest, MapChangesTypesAndFlatMapFansOut) {
  StreamsBuilder builder;
  builder.Stream("in", Strings())
      .Map([](const std::string& k, const std::string& v) {
        return KeyValue<int64_t, std::string>{static_cast<int64_t>(v.size()), k};
      })
      .FlatMap([](const int64_t& k, const std::string& v) {
        std::vector<KeyValue<std::string, int64_t>> out;
        for (int64_t i = 0; i < k; ++i) out.push_back({v, i});
        return out;
      })
      .To("out", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok());
  Harness h(**topology);
  h.Pipe("in", "key", "ab");
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0], std::string("out:key=") + std::string(8, '\0') + "@0");
}

TEST(StreamsBuilderTest, FlatMapValuesPeekForeachAndKeyedMapValues) {
  StreamsBuilder builder;
  std::vector<std::string> peeked, each;
  auto words = builder.Stream("in", Strings())
                   .FlatMapValues([](const std::string& v) {
                     std::vector<std::string> parts;
                     for (char c : v) parts.push_back(std::string(1, c));
                     return parts;
                   })
                   .Peek([&](const std::string& k, const std::string& v) { peeked.push_back(k + v); });
  words.Foreach([&](const std::string&, const std::string& v) { each.push_back(v); });
  words.MapValues([](const std::string& k, const std::string& v) { return k + "/" + v; })
      .To("out", Produced(serdes::String(), serdes::String()));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok());
  Harness h(**topology);
  h.Pipe("in", "k", "xy");
  EXPECT_THAT(peeked, ElementsAre("kx", "ky"));
  EXPECT_THAT(each, ElementsAre("x", "y"));
  EXPECT_THAT(h.out, ElementsAre("out:k=k/x@0", "out:k=k/y@0"));
}

TEST(StreamsBuilderTest, NamesAreDeterministicAndNamedWins) {
  auto build = [] {
    StreamsBuilder builder;
    builder.Stream("in", Strings())
        .Filter([](const auto&, const auto&) { return true; })
        .MapValues([](const std::string& v) { return v; }, Named("clean"))
        .To("out", Produced(serdes::String(), serdes::String()));
    return (*builder.Build())->Describe();
  };
  std::string text = build();
  EXPECT_EQ(text, build());
  EXPECT_EQ(text,
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [in])\n"
            "      --> KSTREAM-FILTER-0000000001\n"
            "    Processor: KSTREAM-FILTER-0000000001 (stores: [])\n"
            "      --> clean\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: clean (stores: [])\n"
            "      --> KSTREAM-SINK-0000000002\n"
            "      <-- KSTREAM-FILTER-0000000001\n"
            "    Sink: KSTREAM-SINK-0000000002 (topic: out)\n"
            "      <-- clean\n");
}

TEST(StreamsBuilderTest, CustomPartitionerChoosesThePartition) {
  StreamsBuilder builder;
  builder.Stream("in", Strings())
      .To("out", Produced<std::string, std::string>(
                     serdes::String(), serdes::String(),
                     [](const std::string&, const std::string& v, int32_t n) {
                       return std::optional<Partition>(Partition(static_cast<int32_t>(v.size()) % n));
                     }));
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok());
  class PartitionCapture final : public RecordSink {
   public:
    absl::Status Send(const SerializedRecord& r) override {
      partitions.push_back(r.partition ? r.partition->value() : -1);
      return absl::OkStatus();
    }
    absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 3; }
    std::vector<int32_t> partitions;
  } sink;
  auto graph = (*topology)->CreateTaskGraph(0);
  processor::internal::NodeEnv env{.sink = &sink};
  ASSERT_TRUE((*graph)->Init(env).ok());
  ASSERT_TRUE((*graph)->SourceFor("in")->ProcessRaw({.topic = "in", .key = "k", .value = "abcd"}).ok());
  EXPECT_THAT(sink.partitions, ElementsAre(1));
}

}  // namespace
}  // namespace runnel
