#include "runnel/runtime/dead_letter.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"
#include "runnel/common/logging.h"

namespace runnel {
namespace {

std::string HeaderName(std::string_view field) {
  return absl::StrCat(ToAbsl(kDeadLetterHeaderPrefix), ToAbsl(field));
}

class DeserializationErrorHandlerImpl final : public DeserializationErrorHandler {
 public:
  DeserializationErrorHandlerImpl(DeserializationErrorMode mode, std::string application_id,
                                  std::string dead_letter_topic, RecordSink* sink,
                                  MetricsRegistry* metrics)
      : mode_(mode),
        application_id_(std::move(application_id)),
        dead_letter_topic_(std::move(dead_letter_topic)),
        sink_(sink),
        metrics_(metrics) {}

  absl::Status Handle(const RawRecord& record, std::string_view part, const absl::Status& error,
                      std::string_view node) override {
    metrics_
        ->GetCounter("runnel_deserialization_errors_total",
                     {{"topic", std::string(record.topic)}, {"handler", HandlerName()}})
        ->Increment();
    std::string where = absl::StrCat(ToAbsl(record.topic), "-", record.partition.value(), "@",
                                     record.offset.value());
    switch (mode_) {
      case DeserializationErrorMode::kLogAndFail:
        Logger("runnel")->error("cannot deserialize {} of record {} in node '{}': {}; stopping",
                                part, where, node, error.ToString());
        return absl::Status(error.code(),
                            absl::StrCat("deserialization of ", ToAbsl(part), " failed at ", where,
                                         " (log_and_fail): ", error.message()));
      case DeserializationErrorMode::kLogAndContinue:
        LogSkipped(part, where, error);
        return absl::OkStatus();
      case DeserializationErrorMode::kDeadLetter: {
        LogSkipped(part, where, error);
        auto envelope = MakeDeadLetterEnvelope(record, part, error, application_id_, node);
        Headers headers = DeadLetterHeaders(envelope);
        SerializedRecord out{.topic = dead_letter_topic_,
                             .key = record.key,
                             .value = record.value,
                             .timestamp = record.timestamp,
                             .headers = &headers};
        absl::Status s = sink_->Send(out);
        if (!s.ok()) return Annotate(s, "writing to the dead-letter topic");
        metrics_->GetCounter("runnel_dead_letter_records_total", {{"topic", dead_letter_topic_}})
            ->Increment();
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown deserialization error mode");
  }

 private:
  std::string HandlerName() const {
    switch (mode_) {
      case DeserializationErrorMode::kLogAndContinue: return "log_and_continue";
      case DeserializationErrorMode::kLogAndFail: return "log_and_fail";
      case DeserializationErrorMode::kDeadLetter: return "dead_letter";
    }
    return "?";
  }

  void LogSkipped(std::string_view part, const std::string& where, const absl::Status& error) {
    int64_t suppressed = 0;
    if (limiter_.Allow(Clock::System().NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("cannot deserialize {} of record {}: {}; {} ({} more not logged)", part,
                             where, error.ToString(),
                             mode_ == DeserializationErrorMode::kDeadLetter
                                 ? "sent to " + dead_letter_topic_
                                 : std::string("skipped"),
                             suppressed);
    }
  }

  DeserializationErrorMode mode_;
  std::string application_id_;
  std::string dead_letter_topic_;
  RecordSink* sink_;
  MetricsRegistry* metrics_;
  RateLimiter limiter_{5000};
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
  Headers headers;
  for (const auto& h : e.headers()) {
    headers.push_back({h.key(), h.has_value() ? std::optional<std::string>(h.value()) : std::nullopt});
  }
  headers.push_back({HeaderName("topic"), e.topic()});
  headers.push_back({HeaderName("partition"), absl::StrCat(e.partition())});
  headers.push_back({HeaderName("offset"), absl::StrCat(e.offset())});
  headers.push_back({HeaderName("timestamp"), absl::StrCat(e.timestamp_ms())});
  headers.push_back({HeaderName("part"), e.error().part()});
  headers.push_back({HeaderName("code"), e.error().code()});
  headers.push_back({HeaderName("message"), e.error().message()});
  headers.push_back({HeaderName("application.id"), e.error().application_id()});
  headers.push_back({HeaderName("node"), e.error().node()});
  return headers;
}

absl::StatusOr<runnel::v1::RecordEnvelope> EnvelopeFromDeadLetter(
    std::optional<std::string_view> key, std::optional<std::string_view> value,
    const Headers& headers) {
  runnel::v1::RecordEnvelope e;
  if (key) e.set_key(std::string(*key));
  if (value) e.set_value(std::string(*value));
  auto get = [&](std::string_view field) -> std::optional<std::string> {
    const Header* h = LastHeader(headers, HeaderName(field));
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
    DeserializationErrorMode mode, std::string application_id, std::string dead_letter_topic,
    RecordSink* sink, MetricsRegistry* metrics) {
  return std::make_unique<DeserializationErrorHandlerImpl>(
      mode, std::move(application_id), std::move(dead_letter_topic), sink, metrics);
}

}  // namespace runnel
