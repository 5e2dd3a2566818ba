// The exception boundary and the processing-error handler, on the runtime's
// StreamTask through the test driver.

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runnel/common/status.h"
#include "runnel/dsl/streams_builder.h"
#include "runnel/processor/processing_error.h"
#include "runnel/runtime/dead_letter.h"
#include "runnel/serde/serdes.h"
#include "runnel/testing/topology_test_driver.h"

namespace runnel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using KV = TestKeyValue<std::string, int64_t>;

// in -> mapValues (throws on 2) -> out.
std::shared_ptr<const Topology> ThrowOnTwo() {
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), serdes::Int64()))
      .MapValues(
          [](int64_t v) {
            if (v == 2) throw std::runtime_error("two is not allowed");
            return v * 10;
          },
          Named("times-ten"))
      .To("out", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

std::unique_ptr<TopologyTestDriver> Driver(std::shared_ptr<const Topology> topology,
                                           std::map<std::string, std::string> config = {}) {
  auto driver = TopologyTestDriver::Create(std::move(topology), config);
  EXPECT_TRUE(driver.ok()) << driver.status();
  return *std::move(driver);
}

TEST(ExceptionBoundaryTest, AThrowingLambdaFailsTheTaskNamingWhereAndWhy) {
  auto driver = Driver(ThrowOnTwo());
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("k", 1, Timestamp(1)).ok());
  absl::Status s = in.PipeInput("k", 2, Timestamp(2));
  ASSERT_FALSE(s.ok());
  const std::string message(s.message());
  EXPECT_THAT(message, HasSubstr("task 0_0 at in-0@1"));
  EXPECT_THAT(message, HasSubstr("node 'times-ten'"));
  EXPECT_THAT(message, HasSubstr("std::runtime_error: two is not allowed"));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_processing_errors_total"), 1);
}

TEST(ExceptionBoundaryTest, LogAndContinueSkipsTheRecordCountsItAndGoesOn) {
  auto driver = Driver(ThrowOnTwo(), {{"processing.exception.handler", "log_and_continue"}});
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::Int64());
  for (int64_t v = 1; v <= 3; ++v) ASSERT_TRUE(in.PipeInput("k", v, Timestamp(v)).ok()) << v;
  auto out = driver->CreateOutputTopic("out", serdes::String(), serdes::Int64());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"k", 10, Timestamp(1)}, KV{"k", 30, Timestamp(3)}));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_processing_errors_total"), 1);
}

TEST(ExceptionBoundaryTest, DeadLetterKeepsTheRecordAndTheErrorInHeaders) {
  auto driver = Driver(ThrowOnTwo(), {{"processing.exception.handler", "dead_letter"},
                                      {"errors.dead.letter.queue.topic.name", "dlq"}});
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::Int64());
  for (int64_t v = 1; v <= 3; ++v) ASSERT_TRUE(in.PipeInput("k", v, Timestamp(v)).ok()) << v;
  auto& dlq = driver->Output("dlq");
  ASSERT_EQ(dlq.size(), 1u);
  auto envelope = EnvelopeFromDeadLetter(dlq[0].key, dlq[0].value, dlq[0].headers);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->topic(), "in");
  EXPECT_EQ(envelope->offset(), 1);
  EXPECT_EQ(envelope->key(), "k");
  EXPECT_EQ(*serdes::Int64()->Deserialize(envelope->value()), 2);
  EXPECT_EQ(envelope->error().part(), "processing");
  EXPECT_EQ(envelope->error().node(), "times-ten");
  EXPECT_THAT(envelope->error().message(), HasSubstr("two is not allowed"));
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_dead_letter_records_total"), 1);
  EXPECT_EQ(driver->CreateOutputTopic("out", serdes::String(), serdes::Int64()).ReadKeyValuesToList()->size(), 2u);
}

TEST(ExceptionBoundaryTest, DeadLetterNeedsATopicAtStartUp) {
  auto driver = TopologyTestDriver::Create(ThrowOnTwo(), {{"processing.exception.handler", "dead_letter"}});
  EXPECT_EQ(driver.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(driver.status().message()), HasSubstr("errors.dead.letter.queue.topic.name"));
}

// Rejects odd values with ProcessingError; throws from a wall-clock
// punctuator every other run, counting the runs.
class Picky final : public Processor<std::string, int64_t, std::string, int64_t> {
 public:
  explicit Picky(int* punctuations) : punctuations_(punctuations) {}
  absl::Status Init(ProcessorContext<std::string, int64_t>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor::Init(context)));
    context.Schedule(absl::Seconds(1), PunctuationType::kWallClockTime, [this](Timestamp) -> absl::Status {
      if (++*punctuations_ % 2 == 1) throw std::logic_error("odd punctuation");
      return absl::OkStatus();
    });
    return absl::OkStatus();
  }
  absl::Status Process(Record<std::string, int64_t> record) override {
    if (record.value % 2 != 0) return ProcessingError("odd values are rejected");
    return context().Forward(std::move(record));
  }

 private:
  int* punctuations_;
};

std::shared_ptr<const Topology> PickyTopology(int* punctuations) {
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), serdes::Int64()))
      .Process<std::string, int64_t>([punctuations] { return std::make_unique<Picky>(punctuations); },
                                     Named("picky"))
      .To("out", Produced(serdes::String(), serdes::Int64()));
  auto topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

TEST(ExceptionBoundaryTest, AProcessorRejectsARecordWithProcessingError) {
  int punctuations = 0;
  auto driver = Driver(PickyTopology(&punctuations), {{"processing.exception.handler", "log_and_continue"}});
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::Int64());
  for (int64_t v = 1; v <= 4; ++v) ASSERT_TRUE(in.PipeInput("k", v, Timestamp(v)).ok()) << v;
  auto out = driver->CreateOutputTopic("out", serdes::String(), serdes::Int64());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"k", 2, Timestamp(2)}, KV{"k", 4, Timestamp(4)}));
  const MetricsRegistry& metrics = driver->metrics();
  EXPECT_EQ(const_cast<MetricsRegistry&>(metrics)
                .GetCounter("runnel_processing_errors_total",
                            {{"handler", "log_and_continue"}, {"node", "picky"}, {"topic", "in"}})
                ->value(),
            2);
}

TEST(ExceptionBoundaryTest, AThrowingPunctuatorFailsOrIsSkippedByTheHandler) {
  int punctuations = 0;
  auto failing = Driver(PickyTopology(&punctuations));
  absl::Status s = failing->AdvanceWallClockTime(absl::Seconds(1));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("wall-clock punctuation"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("node 'picky'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("odd punctuation"));

  punctuations = 0;
  auto going_on = Driver(PickyTopology(&punctuations), {{"processing.exception.handler", "dead_letter"},
                                                        {"errors.dead.letter.queue.topic.name", "dlq"}});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(going_on->AdvanceWallClockTime(absl::Seconds(1)).ok()) << i;
  EXPECT_EQ(punctuations, 4);
  EXPECT_EQ(going_on->metrics().CounterTotal("runnel_processing_errors_total"), 2);
  EXPECT_TRUE(going_on->Output("dlq").empty());  // a punctuation has no record to dead-letter
}

// A serde that throws instead of returning an error.
class ThrowingSerde final : public Serde<int64_t> {
 public:
  absl::Status Serialize(const int64_t& value, std::string& out) const override {
    if (value < 0) throw std::invalid_argument("negative");
    return serdes::Int64()->Serialize(value, out);
  }
  absl::StatusOr<int64_t> Deserialize(std::optional<std::string_view> data) const override {
    if (data && data->size() != 8) throw std::invalid_argument("not 8 bytes");
    return serdes::Int64()->Deserialize(data);
  }
  std::string_view Name() const override { return "throwing"; }
};

TEST(ExceptionBoundaryTest, AThrowingSerdeIsADeserializationOrProcessingError) {
  auto serde = std::make_shared<ThrowingSerde>();
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), SerdePtr<int64_t>(serde)))
      .MapValues([](int64_t v) { return v - 2; })
      .To("out", Produced(serdes::String(), SerdePtr<int64_t>(serde)));
  auto driver = Driver(*builder.Build(), {{"default.deserialization.exception.handler", "log_and_continue"},
                                          {"processing.exception.handler", "log_and_continue"}});
  ASSERT_TRUE(driver->PipeRaw("in", {.key = "k", .value = "abc"}).ok());
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::Int64());
  ASSERT_TRUE(in.PipeInput("k", 1, Timestamp(1)).ok());  // serializes -1: the sink's serde throws
  ASSERT_TRUE(in.PipeInput("k", 5, Timestamp(2)).ok());
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_deserialization_errors_total"), 1);
  EXPECT_EQ(driver->metrics().CounterTotal("runnel_processing_errors_total"), 1);
  auto out = driver->CreateOutputTopic("out", serdes::String(), serdes::Int64());
  EXPECT_THAT(*out.ReadKeyValuesToList(), ElementsAre(KV{"k", 3, Timestamp(2)}));
}

// Writes every count it is sent back into the cached store whose flush sent
// it: each flush dirties the cache again.
class WritesBack final : public Processor<std::string, int64_t, std::string, int64_t> {
 public:
  absl::Status Process(Record<std::string, int64_t> record) override {
    KeyValueStore* store = context().GetKeyValueStore("counts");
    if (store == nullptr) return absl::InternalError("no store 'counts'");
    auto bytes = store->Get(record.key);
    RUNNEL_RETURN_IF_ERROR(bytes.status());
    if (!*bytes) return absl::OkStatus();
    return store->Put(record.key, **bytes);
  }
};

TEST(ExceptionBoundaryTest, WritingIntoAnUpstreamCachedStoreIsAnErrorNotAnAbort) {
  StreamsBuilder builder;
  builder.Stream("in", Consumed(serdes::String(), serdes::String()))
      .GroupByKey()
      .Count(Materialized<std::string, int64_t>::As("counts", serdes::String(), serdes::Int64()))
      .ToStream()
      .Process<std::string, int64_t>([] { return std::make_unique<WritesBack>(); }, Named("writes-back"));
  builder.topology_builder().ConnectProcessorAndStateStores("writes-back", {"counts"});
  auto topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto driver = Driver(*topology);
  auto in = driver->CreateInputTopic("in", serdes::String(), serdes::String());
  absl::Status s = in.PipeInput("k", "v", Timestamp(1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("store(s) 'counts'"));
}

}  // namespace
}  // namespace runnel
