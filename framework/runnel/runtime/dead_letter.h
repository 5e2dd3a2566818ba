#ifndef RUNNEL_RUNTIME_DEAD_LETTER_H_
#define RUNNEL_RUNTIME_DEAD_LETTER_H_

// Record error handling: default.deserialization.exception.handler for a
// record that cannot be deserialized, processing.exception.handler for a
// processing error (processor/processing_error.h: a processor threw or
// rejected the record, or a punctuator failed). Both take one of:
//   log_and_continue  log (rate-limited), count, skip the record
//   log_and_fail      log, count, stop the stream thread (nothing committed
//                     past the record)
//   dead_letter       write the original key and value bytes to the
//                     dead-letter topic with the error and origin in headers
//                     (__runnel.errors.*), count, go on; the dead-letter
//                     record is flushed before the input offset is committed,
//                     so nothing is lost.
// Every handled record increments runnel_deserialization_errors_total{topic,
// handler} or runnel_processing_errors_total{topic, handler, node} (no topic
// for a punctuation, which has no record to dead-letter either). The error
// headers' "part" is "key", "value" or "processing".
//
// A dead-letter record maps to and from runnel.v1.RecordEnvelope, which tools
// use to show and replay them.

#include <memory>
#include <string>

#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/kafka/dead_letter_headers.h"
#include "runnel/processor/node.h"
#include "runnel/runtime/streams_config.h"
#include "runnel/v1/record.pb.h"

namespace runnel {

using kafka::kDeadLetterHeaderPrefix;

// The envelope describing `record`, which failed with `error` in `part`.
runnel::v1::RecordEnvelope MakeDeadLetterEnvelope(const RawRecord& record, std::string_view part,
                                                  const absl::Status& error,
                                                  std::string_view application_id,
                                                  std::string_view node);
// The headers of the dead-letter record: the original headers, then
// __runnel.errors.{topic,partition,offset,timestamp,part,code,message,
// application.id,node}.
Headers DeadLetterHeaders(const runnel::v1::RecordEnvelope& envelope);
// Reads a record of the dead-letter topic back into an envelope (origin and
// error from the headers). InvalidArgument if the headers are not Runnel's.
absl::StatusOr<runnel::v1::RecordEnvelope> EnvelopeFromDeadLetter(
    std::optional<std::string_view> key, std::optional<std::string_view> value,
    const Headers& headers);

inline constexpr std::string_view kProcessingErrorsCounter = "runnel_processing_errors_total";

// `sink` (dead_letter only), `metrics` and `clock` (rate-limits the log)
// must outlive the handler. One handler per stream thread; called from that
// thread.
std::unique_ptr<DeserializationErrorHandler> MakeDeserializationErrorHandler(
    RecordErrorMode mode, std::string application_id, std::string dead_letter_topic,
    RecordSink* sink, MetricsRegistry* metrics, const Clock& clock);
std::unique_ptr<ProcessingErrorHandler> MakeProcessingErrorHandler(RecordErrorMode mode, std::string application_id,
                                                                   std::string dead_letter_topic, RecordSink* sink,
                                                                   MetricsRegistry* metrics, const Clock& clock);

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_DEAD_LETTER_H_
