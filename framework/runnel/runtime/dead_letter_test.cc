#include "runnel/runtime/dead_letter.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runnel {
namespace {

struct CapturedRecord {
  std::string topic;
  std::optional<std::string> key, value;
  Headers headers;
};

class CapturingSink : public RecordSink {
 public:
  absl::Status Send(const SerializedRecord& r) override {
    records.push_back({std::string(r.topic),
                       r.key ? std::optional<std::string>(std::string(*r.key)) : std::nullopt,
                       r.value ? std::optional<std::string>(std::string(*r.value)) : std::nullopt,
                       r.headers ? *r.headers : Headers{}});
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> PartitionCount(std::string_view) override { return 1; }
  std::vector<CapturedRecord> records;
};

RawRecord BadRecord() {
  return RawRecord{.topic = "in",
                   .partition = Partition(2),
                   .offset = Offset(17),
                   .key = std::string_view("k"),
                   .value = std::string_view("\xff\x01", 2),
                   .timestamp = Timestamp(1000),
                   .headers = {{"trace", "abc"}}};
}

ManualClock test_clock;

TEST(DeadLetterTest, LogAndContinueSkipsAndCounts) {
  MetricsRegistry metrics;
  auto handler = MakeDeserializationErrorHandler(RecordErrorMode::kLogAndContinue, "app",
                                                 "", nullptr, &metrics, test_clock);
  EXPECT_TRUE(handler->Handle(BadRecord(), "value", absl::InvalidArgumentError("bad"), "src").ok());
  EXPECT_TRUE(handler->Handle(BadRecord(), "value", absl::InvalidArgumentError("bad"), "src").ok());
  EXPECT_EQ(metrics.CounterTotal("runnel_deserialization_errors_total"), 2);
}

TEST(DeadLetterTest, LogAndFailStopsWithTheOrigin) {
  MetricsRegistry metrics;
  auto handler = MakeDeserializationErrorHandler(RecordErrorMode::kLogAndFail, "app", "",
                                                 nullptr, &metrics, test_clock);
  absl::Status s = handler->Handle(BadRecord(), "value", absl::InvalidArgumentError("bad"), "src");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("in-2@17"));
  EXPECT_EQ(metrics.CounterTotal("runnel_deserialization_errors_total"), 1);
}

TEST(DeadLetterTest, DeadLetterKeepsOriginalBytesAndDescribesTheError) {
  MetricsRegistry metrics;
  CapturingSink sink;
  auto handler = MakeDeserializationErrorHandler(RecordErrorMode::kDeadLetter, "app",
                                                 "app-dlq", &sink, &metrics, test_clock);
  ASSERT_TRUE(
      handler->Handle(BadRecord(), "value", absl::InvalidArgumentError("not json"), "src").ok());
  ASSERT_EQ(sink.records.size(), 1u);
  const auto& r = sink.records[0];
  EXPECT_EQ(r.topic, "app-dlq");
  EXPECT_EQ(r.key, "k");
  EXPECT_EQ(r.value, std::string("\xff\x01", 2));
  EXPECT_EQ(metrics.CounterTotal("runnel_dead_letter_records_total"), 1);

  auto envelope = EnvelopeFromDeadLetter(r.key, r.value, r.headers);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->topic(), "in");
  EXPECT_EQ(envelope->partition(), 2);
  EXPECT_EQ(envelope->offset(), 17);
  EXPECT_EQ(envelope->timestamp_ms(), 1000);
  EXPECT_EQ(envelope->error().part(), "value");
  EXPECT_EQ(envelope->error().code(), "INVALID_ARGUMENT");
  EXPECT_EQ(envelope->error().message(), "not json");
  EXPECT_EQ(envelope->error().node(), "src");
  ASSERT_EQ(envelope->headers_size(), 1);
  EXPECT_EQ(envelope->headers(0).key(), "trace");
}

TEST(ProcessingErrorHandlerTest, DeadLetterNamesTheNodeAndThePart) {
  MetricsRegistry metrics;
  CapturingSink sink;
  auto handler = MakeProcessingErrorHandler(RecordErrorMode::kDeadLetter, "app", "app-dlq", &sink, &metrics,
                                            test_clock);
  RawRecord record = BadRecord();
  ASSERT_TRUE(handler->Handle(&record, absl::UnknownError("exception in node 'm'"), "m").ok());
  ASSERT_EQ(sink.records.size(), 1u);
  auto envelope = EnvelopeFromDeadLetter(sink.records[0].key, sink.records[0].value, sink.records[0].headers);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_EQ(envelope->error().part(), "processing");
  EXPECT_EQ(envelope->error().node(), "m");
  EXPECT_EQ(envelope->error().code(), "UNKNOWN");
  EXPECT_EQ(envelope->offset(), 17);
  EXPECT_EQ(metrics.CounterTotal("runnel_processing_errors_total"), 1);
  EXPECT_EQ(metrics.GetCounter("runnel_processing_errors_total",
                               {{"handler", "dead_letter"}, {"node", "m"}, {"topic", "in"}})
                ->value(),
            1);
}

TEST(ProcessingErrorHandlerTest, FailedPunctuationHasNothingToDeadLetter) {
  MetricsRegistry metrics;
  CapturingSink sink;
  auto handler = MakeProcessingErrorHandler(RecordErrorMode::kDeadLetter, "app", "app-dlq", &sink, &metrics,
                                            test_clock);
  EXPECT_TRUE(handler->Handle(nullptr, absl::UnknownError("boom"), "p").ok());
  EXPECT_TRUE(sink.records.empty());
  EXPECT_EQ(metrics.CounterTotal("runnel_processing_errors_total"), 1);
}

TEST(ProcessingErrorHandlerTest, LogAndFailKeepsTheCodeAndSaysWhere) {
  MetricsRegistry metrics;
  auto handler =
      MakeProcessingErrorHandler(RecordErrorMode::kLogAndFail, "app", "", nullptr, &metrics, test_clock);
  RawRecord record = BadRecord();
  absl::Status s = handler->Handle(&record, absl::UnknownError("boom"), "m");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("in-2@17"));
  EXPECT_THAT(s.message(), ::testing::HasSubstr("node 'm'"));
}

TEST(DeadLetterTest, OrdinaryRecordIsNotAnEnvelope) {
  EXPECT_EQ(EnvelopeFromDeadLetter("k", "v", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace runnel
