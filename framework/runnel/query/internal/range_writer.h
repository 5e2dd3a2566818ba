#ifndef RUNNEL_QUERY_INTERNAL_RANGE_WRITER_H_
#define RUNNEL_QUERY_INTERNAL_RANGE_WRITER_H_

// Streams a range's answer (Range, All, WindowRange) at the reader's pace:
// each batch (up to kBatchEntries entries, pulled from the merge) is made
// only after the one before it was sent, so the server holds one batch
// plus what the merge's sources hold, however long the range. The first
// batch carries every partition's Answer (the coordinator of a fan-out
// reads them from there before merging).
//
// Lifecycle: created by the handler, started once with Begin (or Fail);
// deletes itself when gRPC is done with it. Threading: `schedule` runs the
// preparation and each batch: inline (on gRPC's thread) when the sources
// are local copies, whose reads never wait; on a server worker when the
// merge reads other instances' streams. One step runs at a time.

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "runnel/query/internal/fan_out.h"
#include "runnel/query/internal/grpc_convert.h"
#include "runnel/query/internal/merge.h"
#include "runnel/query/v1/query.pb.h"

namespace runnel::query::internal {

inline constexpr const char* kRetryAfterMs = "500";

// Ends a call with `s`, adding the retry hint to UNAVAILABLE.
inline grpc::Status Ending(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  if (absl::IsUnavailable(s)) ctx->AddTrailingMetadata("retry-after-ms", kRetryAfterMs);
  return ToGrpc(s);
}

template <typename Batch, typename Entry>
class RangeWriter final : public grpc::ServerWriteReactor<Batch> {
 public:
  struct Prepared {
    std::unique_ptr<SortedSource<Entry>> source;
    std::vector<v1::Answer> answers;
  };
  using Prepare = std::function<absl::StatusOr<Prepared>()>;
  using Schedule = std::function<void(std::function<void()>)>;
  using Entries = google::protobuf::RepeatedPtrField<Entry>* (*)(Batch&);

  RangeWriter(grpc::CallbackServerContext* ctx, Entries entries) : ctx_(ctx), entries_(entries) {}

  Entries entries() const { return entries_; }

  void Fail(const absl::Status& s) { this->Finish(Ending(ctx_, s)); }

  void Begin(Schedule schedule, Prepare prepare) {
    schedule_ = std::move(schedule);
    schedule_([this, prepare = std::move(prepare)] {
      auto prepared = prepare();
      if (!prepared.ok()) {
        End(prepared.status());
        return;
      }
      source_ = std::move(prepared->source);
      answers_ = std::move(prepared->answers);
      Fill();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      schedule_([this] { End(absl::CancelledError("the client went away")); });
    } else if (ended_) {
      schedule_([this] { End(absl::OkStatus()); });
    } else {
      schedule_([this] { Fill(); });
    }
  }
  void OnDone() override { delete this; }

 private:
  void Fill() {
    if (ctx_->IsCancelled()) {
      End(absl::CancelledError("the client cancelled the request"));
      return;
    }
    batch_.Clear();
    for (auto& answer : answers_) *batch_.add_answered_by() = std::move(answer);
    const bool first = !sent_any_;
    answers_.clear();
    auto* entries = entries_(batch_);
    while (static_cast<size_t>(entries->size()) < kBatchEntries) {
      absl::StatusOr<bool> more = source_->Next(entries->Add());
      if (!more.ok()) {
        End(more.status());
        return;
      }
      if (!*more) {
        entries->RemoveLast();
        ended_ = true;
        break;
      }
    }
    if (ended_ && entries->empty() && !first) {
      End(absl::OkStatus());
      return;
    }
    sent_any_ = true;
    this->StartWrite(&batch_);
  }

  // Releases the sources first (closing other instances' streams may wait
  // for gRPC), then ends the call.
  void End(const absl::Status& s) {
    source_.reset();
    this->Finish(Ending(ctx_, s));
  }

  grpc::CallbackServerContext* const ctx_;
  const Entries entries_;
  Schedule schedule_;
  std::unique_ptr<SortedSource<Entry>> source_;
  std::vector<v1::Answer> answers_;
  Batch batch_;
  bool sent_any_ = false;
  bool ended_ = false;
};

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_RANGE_WRITER_H_
