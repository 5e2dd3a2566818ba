#ifndef RUNNEL_QUERY_INTERNAL_FAN_OUT_H_
#define RUNNEL_QUERY_INTERNAL_FAN_OUT_H_

// Fan-out: a range request (Range, All, WindowRange) asks every other
// instance at once and reads the local copies; the answers are merged in key
// order (merge.h). Here: the streamed call to one other instance with a
// bounded read-ahead (RemoteStream), the sources the merge pulls (a stream's
// entries, a local iterator, a list), and the coverage check that refuses a
// partial answer.
//
// Each instance that answers a fanned-out request (ReadOptions.no_forward)
// lists the partitions it answers for in its stream's first batch, so the
// coordinator knows the coverage before it sends anything.
//
// Threading: a RemoteStream is filled by gRPC's callback threads and read by
// one other thread (a server worker), which blocks in NextBatch until a
// batch arrives. See docs/architecture.md, "Interactive queries".

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_callback.h"
#include "runnel/query/internal/grpc_convert.h"
#include "runnel/query/internal/merge.h"
#include "runnel/query/v1/query.pb.h"
#include "runnel/state/kv_store.h"
#include "runnel/topology/topology.h"

namespace runnel::query::internal {

namespace v1 = ::runnel::query::v1;

// Entries per streamed batch, and the batches a RemoteStream reads ahead.
inline constexpr size_t kBatchEntries = 1000;
inline constexpr size_t kReadAheadBatches = 2;

// One server-streaming call to another instance, read ahead by at most
// `read_ahead` batches: when that many wait unread, it stops reading (and
// HTTP/2 flow control stops the sender) until NextBatch takes one.
// Lifecycle: started by the constructor; the destructor cancels the call if
// it is still running and waits until gRPC is done with it.
template <typename Batch>
class RemoteStream final : public grpc::ClientReadReactor<Batch> {
 public:
  // `start(context, reactor)` begins the call (stub.async()->Range(...)); it
  // keeps whatever the call needs (the request) alive with itself.
  using Start = std::function<void(grpc::ClientContext*, grpc::ClientReadReactor<Batch>*)>;

  RemoteStream(std::string endpoint, absl::Time deadline, Start start, size_t read_ahead = kReadAheadBatches)
      : endpoint_(std::move(endpoint)), read_ahead_(std::max<size_t>(1, read_ahead)), start_(std::move(start)) {
    context_.set_deadline(ToGrpcDeadline(deadline));
    start_(&context_, this);
    this->StartRead(&incoming_);
    this->StartCall();
  }
  ~RemoteStream() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!done_) context_.TryCancel();
    changed_.wait(lock, [this] { return done_; });
  }
  RemoteStream(const RemoteStream&) = delete;
  RemoteStream& operator=(const RemoteStream&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // Blocks for the next batch: the batch, nullopt at the stream's end, or
  // the status the call ended with.
  absl::StatusOr<std::optional<Batch>> NextBatch() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (!status_.ok()) return FromGrpc(status_);
      return std::optional<Batch>();
    }
    std::optional<Batch> batch(std::move(ready_.front()));
    ready_.pop_front();
    const bool resume = !reading_ && !ended_;
    if (resume) reading_ = true;
    lock.unlock();
    if (resume) this->StartRead(&incoming_);
    return batch;
  }

  void OnReadDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!ok) {
      ended_ = true;
      reading_ = false;
      return;  // OnDone follows with the status
    }
    ready_.push_back(std::move(incoming_));
    incoming_.Clear();
    reading_ = ready_.size() < read_ahead_;
    const bool more = reading_;
    changed_.notify_all();
    lock.unlock();
    if (more) this->StartRead(&incoming_);
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
    done_ = true;
    // Under the lock: the destructor may run as soon as it is released.
    changed_.notify_all();
  }

 private:
  const std::string endpoint_;
  const size_t read_ahead_;
  Start start_;
  grpc::ClientContext context_;
  Batch incoming_;  // gRPC's, while a read is outstanding
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool reading_ = true;
  bool ended_ = false;
  bool done_ = false;
  grpc::Status status_;
};

// A RemoteStream's entries one by one. `entries(batch)` gives a batch's
// repeated entry field.
template <typename Batch, typename Entry>
class StreamSource final : public SortedSource<Entry> {
 public:
  using Entries = std::function<google::protobuf::RepeatedPtrField<Entry>*(Batch&)>;

  StreamSource(std::unique_ptr<RemoteStream<Batch>> stream, Batch first, Entries entries)
      : stream_(std::move(stream)), batch_(std::move(first)), entries_(std::move(entries)) {}

  absl::StatusOr<bool> Next(Entry* out) override {
    while (next_ >= entries_(batch_)->size()) {
      auto batch = stream_->NextBatch();
      if (!batch.ok()) {
        return absl::Status(batch.status().code(),
                            absl::StrCat("instance ", stream_->endpoint(), ": ", batch.status().message()));
      }
      if (!batch->has_value()) return false;
      batch_ = **std::move(batch);
      next_ = 0;
    }
    *out = std::move(*entries_(batch_)->Mutable(next_++));
    return true;
  }

 private:
  std::unique_ptr<RemoteStream<Batch>> stream_;
  Batch batch_;
  Entries entries_;
  int next_ = 0;
};

// A local copy's key-value entries from `from` (unset: the first key) up to
// `to` (inclusive; unset: the last), at most `limit`, rendered by `render`.
// Reads `chunk` entries at a time and lets its iterator go in between (a
// RocksDB iterator holds the store's reader lock, which the owning stream
// thread's Close waits for: a slow reader must not hold it), re-seeking
// after the last key read. So successive chunks may see successive commits.
class IteratorSource final : public SortedSource<v1::KeyValue> {
 public:
  using Render = std::function<void(std::string_view key, std::string_view value, v1::KeyValue* out)>;
  IteratorSource(std::shared_ptr<ReadOnlyKeyValueStore> view, std::optional<std::string> from,
                 std::optional<std::string> to, size_t limit, Render render, size_t chunk = kBatchEntries);
  absl::StatusOr<bool> Next(v1::KeyValue* out) override;

 private:
  absl::Status ReadChunk();

  std::shared_ptr<ReadOnlyKeyValueStore> view_;
  std::optional<std::string> from_, to_;
  size_t left_;
  Render render_;
  const size_t chunk_;
  bool exhausted_ = false;
  std::vector<v1::KeyValue> read_;
  size_t next_ = 0;
};

// Entries already in key order, owned.
template <typename Entry>
class ListSource final : public SortedSource<Entry> {
 public:
  explicit ListSource(std::vector<Entry> entries) : entries_(std::move(entries)) {}
  absl::StatusOr<bool> Next(Entry* out) override {
    if (next_ >= entries_.size()) return false;
    *out = std::move(entries_[next_++]);
    return true;
  }

 private:
  std::vector<Entry> entries_;
  size_t next_ = 0;
};

// Other instances' answers as merge sources: `open(endpoint)` starts one
// stream per endpoint, all before any is read (they run in parallel); then
// each stream's first batch says which partitions it answers, added to
// `answered` (a partition answered already keeps its first answer). A
// stream that fails before its first batch is left out (its partitions
// then count as missing: see CheckCoverage); `on_failure` hears why.
template <typename Batch, typename Entry>
std::vector<std::unique_ptr<SortedSource<Entry>>> OpenRemoteSources(
    const std::vector<std::string>& endpoints,
    const std::function<std::unique_ptr<RemoteStream<Batch>>(const std::string&)>& open,
    google::protobuf::RepeatedPtrField<Entry>* (*entries)(Batch&), std::map<int32_t, v1::Answer>& answered,
    const std::function<void(const std::string&, const absl::Status&)>& on_failure) {
  std::vector<std::unique_ptr<RemoteStream<Batch>>> streams;
  streams.reserve(endpoints.size());
  for (const auto& endpoint : endpoints) streams.push_back(open(endpoint));
  std::vector<std::unique_ptr<SortedSource<Entry>>> sources;
  for (auto& stream : streams) {
    auto first = stream->NextBatch();
    if (!first.ok() || !first->has_value()) {
      on_failure(stream->endpoint(), first.ok() ? absl::InternalError("the stream ended without a batch")
                                                : first.status());
      continue;
    }
    Batch batch = **std::move(first);
    for (const auto& a : batch.answered_by()) answered.emplace(a.partition(), a);
    batch.clear_answered_by();
    sources.push_back(std::make_unique<StreamSource<Batch, Entry>>(std::move(stream), std::move(batch), entries));
  }
  return sources;
}

// OK when every partition 0..partitions-1 has an answer; else UNAVAILABLE
// naming the missing partitions.
absl::Status CheckCoverage(const std::string& store, int32_t partitions, const std::map<int32_t, v1::Answer>& answered);

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_FAN_OUT_H_
