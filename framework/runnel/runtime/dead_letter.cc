#include "runnel/runtime/dead_letter.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/common/logging.h"

namespace runnel {
namespace {

std::string_view ModeName(RecordErrorMode mode) {
  switch (mode) {
    case RecordErrorMode::kLogAndContinue: return "log_and_continue";
    case RecordErrorMode::kLogAndFail: return "log_and_fail";
    case RecordErrorMode::kDeadLetter: return "dead_letter";
  }
  return "?";
}

// What both handlers share: count, log (rate-limited when going on), stop,
// skip or dead-letter. `part` is "key"/"value" (deserialization) or
// "processing"; `record` is null for a punctuation.
class RecordErrorHandlerCore {
 public:
  RecordErrorHandlerCore(std::string counter, RecordErrorMode mode, std::string application_id,
                         std::string dead_letter_topic, RecordSink* sink, MetricsRegistry* metrics,
                         const Clock& clock)
      : counter_(std::move(counter)),
        mode_(mode),
        application_id_(std::move(application_id)),
        dead_letter_topic_(std::move(dead_letter_topic)),
        sink_(sink),
        metrics_(metrics),
        clock_(clock) {}

  absl::Status Handle(const RawRecord* record, std::string_view part, const absl::Status& error,
                      std::string_view node, std::string_view failed) {
    metrics_->GetCounter(counter_, Labels(record, node))->Increment();
    const std::string where =
        record == nullptr ? std::string("a punctuation")
                          : absl::StrCat("record ", ToAbsl(record->topic), "-", record->partition.value(), "@",
                                         record->offset.value());
    switch (mode_) {
      case RecordErrorMode::kLogAndFail:
        Logger("runnel")->error("{} {} of {} in node '{}': {}; stopping", failed, part, where, node,
                                error.ToString());
        return absl::Status(error.code(), absl::StrCat(ToAbsl(failed), " ", ToAbsl(part), " of ", where,
                                                       " in node '", ToAbsl(node), "' (log_and_fail): ",
                                                       error.message()));
      case RecordErrorMode::kLogAndContinue:
        LogSkipped(failed, part, where, error, "skipped");
        return absl::OkStatus();
      case RecordErrorMode::kDeadLetter: {
        if (record == nullptr) {
          LogSkipped(failed, part, where, error, "nothing to dead-letter");
          return absl::OkStatus();
        }
        LogSkipped(failed, part, where, error, absl::StrCat("sent to ", dead_letter_topic_));
        auto envelope = MakeDeadLetterEnvelope(*record, part, error, application_id_, node);
        Headers headers = DeadLetterHeaders(envelope);
        SerializedRecord out{.topic = dead_letter_topic_,
                             .key = record->key,
                             .value = record->value,
                             .timestamp = record->timestamp,
                             .headers = &headers};
        absl::Status s = sink_->Send(out);
        if (!s.ok()) return Annotate(s, "writing to the dead-letter topic");
        metrics_->GetCounter("runnel_dead_letter_records_total", {{"topic", dead_letter_topic_}})->Increment();
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown record error mode");
  }

 private:
  MetricLabels Labels(const RawRecord* record, std::string_view node) const {
    MetricLabels labels{{"handler", std::string(ModeName(mode_))}};
    if (record != nullptr) labels["topic"] = std::string(record->topic);
    if (counter_ == kProcessingErrorsCounter) labels["node"] = std::string(node);
    return labels;
  }

  void LogSkipped(std::string_view failed, std::string_view part, const std::string& where,
                  const absl::Status& error, const std::string& outcome) {
    int64_t suppressed = 0;
    if (limiter_.Allow(clock_.NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("{} {} of {}: {}; {} ({} more not logged)", failed, part, where, error.ToString(),
                             outcome, suppressed);
    }
  }

  std::string counter_;
  RecordErrorMode mode_;
  std::string application_id_;
  std::string dead_letter_topic_;
  RecordSink* sink_;
  MetricsRegistry* metrics_;
  const Clock& clock_;
  RateLimiter limiter_{5000};
};

class DeserializationErrorHandlerImpl final : public DeserializationErrorHandler {
 public:
  template <typename... Args>
  explicit DeserializationErrorHandlerImpl(Args&&... args)
      : core_("runnel_deserialization_errors_total", std::forward<Args>(args)...) {}
  absl::Status Handle(const RawRecord& record, std::string_view part, const absl::Status& error,
                      std::string_view node) override {
    return core_.Handle(&record, part, error, node, "cannot deserialize");
  }

 private:
  RecordErrorHandlerCore core_;
};

class ProcessingErrorHandlerImpl final : public ProcessingErrorHandler {
 public:
  template <typename... Args>
  explicit ProcessingErrorHandlerImpl(Args&&... args)
      : core_(std::string(kProcessingErrorsCounter), std::forward<Args>(args)...) {}
  absl::Status Handle(const RawRecord* record, const absl::Status& error, std::string_view node) override {
    return core_.Handle(record, "processing", error, node, "failed");
  }

 private:
  RecordErrorHandlerCore core_;
};

}  // namespace

runnel::v1::RecordEnvelope MakeDeadLetterEnvelope(const RawRecord& record, std::string_view part,
                                                  const absl::Status& error,
                                                  std::string_view application_id,
                                                  std::string_view node) {
  runnel::v1::RecordEnvelope e;
  e.set_topic(std::string(record.topic));
  e.set_partition(record.partition.value());
  e.set_offset(record.offset.value());
  e.set_timestamp_ms(record.timestamp.value());
  if (record.key) e.set_key(std::string(*record.key));
  if (record.value) e.set_value(std::string(*record.value));
  for (const auto& h : record.headers) {
    auto* out = e.add_headers();
    out->set_key(h.key);
    if (h.value) out->set_value(*h.value);
  }
  auto* info = e.mutable_error();
  info->set_part(std::string(part));
  info->set_code(absl::StatusCodeToString(error.code()));
  info->set_message(std::string(ToStd(error.message())));
  info->set_application_id(std::string(application_id));
  info->set_node(std::string(node));
  return e;
}

Headers DeadLetterHeaders(const runnel::v1::RecordEnvelope& e) {
  Headers original;
  for (const auto& h : e.headers()) {
    original.push_back({h.key(), h.has_value() ? std::optional<std::string>(h.value()) : std::nullopt});
  }
  return kafka::DeadLetterHeaders(original, {.topic = e.topic(),
                                             .partition = e.partition(),
                                             .offset = e.offset(),
                                             .timestamp_ms = e.timestamp_ms(),
                                             .part = e.error().part(),
                                             .code = e.error().code(),
                                             .message = e.error().message(),
                                             .application_id = e.error().application_id(),
                                             .node = e.error().node()});
}

absl::StatusOr<runnel::v1::RecordEnvelope> EnvelopeFromDeadLetter(
    std::optional<std::string_view> key, std::optional<std::string_view> value,
    const Headers& headers) {
  runnel::v1::RecordEnvelope e;
  if (key) e.set_key(std::string(*key));
  if (value) e.set_value(std::string(*value));
  auto get = [&](std::string_view field) -> std::optional<std::string> {
    const Header* h = LastHeader(headers, kafka::DeadLetterHeaderName(field));
    if (h == nullptr || !h->value) return std::nullopt;
    return *h->value;
  };
  auto topic = get("topic");
  auto partition = get("partition");
  auto offset = get("offset");
  int32_t p;
  int64_t o;
  if (!topic || !partition || !offset || !absl::SimpleAtoi(*partition, &p) ||
      !absl::SimpleAtoi(*offset, &o)) {
    return absl::InvalidArgumentError("not a Runnel dead-letter record (no __runnel.errors.* origin headers)");
  }
  e.set_topic(*topic);
  e.set_partition(p);
  e.set_offset(o);
  int64_t ts;
  if (auto t = get("timestamp"); t && absl::SimpleAtoi(*t, &ts)) e.set_timestamp_ms(ts);
  auto* info = e.mutable_error();
  info->set_part(get("part").value_or(""));
  info->set_code(get("code").value_or(""));
  info->set_message(get("message").value_or(""));
  info->set_application_id(get("application.id").value_or(""));
  info->set_node(get("node").value_or(""));
  for (const auto& h : headers) {
    if (h.key.rfind(kDeadLetterHeaderPrefix, 0) == 0) continue;
    auto* out = e.add_headers();
    out->set_key(h.key);
    if (h.value) out->set_value(*h.value);
  }
  return e;
}

std::unique_ptr<DeserializationErrorHandler> MakeDeserializationErrorHandler(
    RecordErrorMode mode, std::string application_id, std::string dead_letter_topic,
    RecordSink* sink, MetricsRegistry* metrics, const Clock& clock) {
  return std::make_unique<DeserializationErrorHandlerImpl>(mode, std::move(application_id),
                                                           std::move(dead_letter_topic), sink, metrics, clock);
}

std::unique_ptr<ProcessingErrorHandler> MakeProcessingErrorHandler(RecordErrorMode mode, std::string application_id,
                                                                   std::string dead_letter_topic, RecordSink* sink,
                                                                   MetricsRegistry* metrics, const Clock& clock) {
  return std::make_unique<ProcessingErrorHandlerImpl>(mode, std::move(application_id), std::move(dead_letter_topic),
                                                      sink, metrics, clock);
}

}  // namespace runnel
