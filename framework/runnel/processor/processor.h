#ifndef RUNNEL_PROCESSOR_PROCESSOR_H_
#define RUNNEL_PROCESSOR_PROCESSOR_H_

// The Processor API.
//
// A Processor<KIn, VIn, KOut, VOut> takes records of one type and forwards
// records of another through its ProcessorContext. One instance exists per
// stream task (the topology holds a supplier that makes them); all calls on
// an instance come from the task's stream thread, in order:
//   Init(context) -> Process(record)... -> Close()
// Process returns a Status: an error stops the task's stream thread (the
// application goes to ERROR) and the record's offset is never committed.

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "runnel/common/clock.h"
#include "runnel/common/metrics.h"
#include "runnel/common/types.h"
#include "runnel/processor/punctuation.h"
#include "runnel/processor/record.h"
#include "runnel/state/kv_store.h"

namespace runnel {

// Facts about the task that every context answers, whatever its output type.
class TaskContext {
 public:
  virtual ~TaskContext() = default;
  virtual std::string_view application_id() const = 0;
  virtual TaskId task_id() const = 0;
  // The input record being processed, if the call comes from one.
  virtual const RecordMetadata* record_metadata() const = 0;
  // The highest record timestamp this task has seen.
  virtual Timestamp stream_time() const = 0;
  // Wall-clock time (the injected clock).
  virtual const Clock& clock() const = 0;
  // Where processors count what users watch (late records dropped, ...);
  // the instance's registry, exported to Prometheus. Thread-safe.
  virtual MetricsRegistry& metrics() = 0;
  // Asks the stream thread to commit soon (at the end of this record).
  virtual void RequestCommit() = 0;
  // The task's key-value store `name` (bytes; see TypedKeyValueStore), or
  // the global store `name` (any task may read one; its writes fail with
  // FailedPrecondition: only the global thread updates it), or nullptr when
  // there is no such store. Owned by the runtime; valid from Init to Close.
  virtual KeyValueStore* GetKeyValueStore(std::string_view name) = 0;
  // Runs `punctuator` every `interval` of stream time or wall-clock time
  // (see punctuation.h), on the task's thread, with no current record; it
  // may forward. Cancel through the returned handle.
  virtual Cancellable Schedule(absl::Duration interval, PunctuationType type, Punctuator punctuator) = 0;
  // For a processor that persists a marker of its progress in a store (its
  // stream time, how far emit-final has emitted): under at-least-once,
  // keeps `listener` and answers true; the runtime then runs it, on the
  // task's thread, each time Kafka has acknowledged every record the task
  // sent before (output and changelog; at each commit, before its offsets
  // are committed). A processor writes its markers only from the listener,
  // so that after a crash no marker is ahead of the output it stands for:
  // the records replayed from the last commit are emitted again
  // (duplicates, which at-least-once allows) instead of being skipped as
  // already done. Under exactly-once (store, changelog and output commit in
  // one transaction) and where nothing is sent, answers false and keeps
  // nothing. The listener is dropped when the task closes.
  virtual bool OnSentRecordsAcknowledged(std::function<absl::Status()> /*listener*/) { return false; }
};

template <typename KOut, typename VOut>
class ProcessorContext : public virtual TaskContext {
 public:
  // Sends `record` to every child (copying it for all but the last).
  virtual absl::Status Forward(Record<KOut, VOut> record) = 0;
  // Sends `record` to the child node named `child`; an unknown name is
  // InvalidArgument.
  virtual absl::Status Forward(Record<KOut, VOut> record, std::string_view child) = 0;
};

template <typename KIn, typename VIn, typename KOut, typename VOut>
class Processor {
 public:
  using InKey = KIn;
  using InValue = VIn;
  using OutKey = KOut;
  using OutValue = VOut;

  virtual ~Processor() = default;
  // `context` outlives the processor.
  virtual absl::Status Init(ProcessorContext<KOut, VOut>& context) {
    context_ = &context;
    return absl::OkStatus();
  }
  virtual absl::Status Process(Record<KIn, VIn> record) = 0;
  virtual void Close() {}

 protected:
  ProcessorContext<KOut, VOut>& context() { return *context_; }

 private:
  ProcessorContext<KOut, VOut>* context_ = nullptr;
};

}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_PROCESSOR_H_
