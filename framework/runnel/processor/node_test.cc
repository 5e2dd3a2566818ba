#include "runnel/processor/node.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/serde/serdes.h"

namespace runnel::processor::internal {
namespace {

class Doubler final : public Processor<std::string, int64_t, std::string, int64_t> {
 public:
  absl::Status Process(Record<std::string, int64_t> r) override {
    r.value *= 2;
    return context().Forward(std::move(r));
  }
};

class Collect final : public InputNode<std::string, int64_t> {
 public:
  using InputNode::InputNode;
  absl::Status Process(Record<std::string, int64_t> r) override {
    seen.push_back(r.value);
    return absl::OkStatus();
  }
  std::vector<int64_t> seen;
};

class FailingHandler final : public DeserializationErrorHandler {
 public:
  absl::Status Handle(const RawRecord& r, std::string_view part, const absl::Status&,
                      std::string_view) override {
    handled.push_back(std::string(part) + "@" + std::to_string(r.offset.value()));
    return absl::OkStatus();
  }
  std::vector<std::string> handled;
};

TEST(NodeTest, ProcessorForwardsToEveryChildInOrder) {
  ProcessorNode<std::string, int64_t, std::string, int64_t> node("double", std::make_unique<Doubler>());
  Collect a("a"), b("b");
  ASSERT_TRUE(node.AddChild(&a).ok());
  ASSERT_TRUE(node.AddChild(&b).ok());
  NodeEnv env;
  ASSERT_TRUE(node.Init(env).ok());
  ASSERT_TRUE(node.Process({"k", 21, Timestamp(1), {}}).ok());
  EXPECT_THAT(a.seen, ::testing::ElementsAre(42));
  EXPECT_THAT(b.seen, ::testing::ElementsAre(42));
  EXPECT_EQ(node.Forward({"k", 1, Timestamp(1), {}}, "c").code(), absl::StatusCode::kInvalidArgument);
}

TEST(NodeTest, WiringChecksRecordTypes) {
  ProcessorNode<std::string, int64_t, std::string, int64_t> node("double", std::make_unique<Doubler>());
  SinkNode<int64_t, int64_t> wrong("sink", "t", serdes::Int64(), serdes::Int64(), nullptr);
  absl::Status s = node.AddChild(&wrong);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("'sink' cannot follow 'double'"));
}

TEST(NodeTest, SourceHandsUndeserializableRecordsToTheHandler) {
  SourceNode<std::string, int64_t> source("src", serdes::String(), serdes::Int64());
  Collect out("out");
  ASSERT_TRUE(source.AddChild(&out).ok());
  FailingHandler handler;
  NodeEnv env{.deserialization_handler = &handler};
  ASSERT_TRUE(source.Init(env).ok());
  std::string eight("\0\0\0\0\0\0\0\x07", 8);
  ASSERT_TRUE(source.ProcessRaw({.topic = "t", .offset = Offset(1), .key = "k", .value = eight}).ok());
  ASSERT_TRUE(source.ProcessRaw({.topic = "t", .offset = Offset(2), .key = "k", .value = "bad"}).ok());
  EXPECT_THAT(out.seen, ::testing::ElementsAre(7));
  EXPECT_THAT(handler.handled, ::testing::ElementsAre("value@2"));
}

}  // namespace
}  // namespace runnel::processor::internal
