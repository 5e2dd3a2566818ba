#ifndef RUNNEL_DSL_INTERNAL_COUNT_WINDOWED_H_
#define RUNNEL_DSL_INTERNAL_COUNT_WINDOWED_H_

// The processor behind count-based windows (CountWindowedKStream), with
// Quix Streams' semantics: windows are made of records, not time.
//
//   Tumbling(n): a key's records 1..n form a window, n+1..2n the next, ...
//   Sliding(n):  every record opens a window; each window takes the key's
//                next n records, so a window closes with every record once
//                n have arrived (the last n records).
//
// A window's bounds are the lowest and highest timestamps of its records
// (arrival order decides membership, not timestamps); results are keyed by
// Windowed<K> with those bounds (serdes::SessionWindowed carries both) and
// carry the highest timestamp.
//
// Emit modes: OnWindowUpdate sends every open window a record changed (for
// Sliding(n) that is up to n results per record); OnWindowClose sends a
// window once, when its n-th record arrives. A key's partial window is never
// sent as final.
//
// State: one entry per key in a key-value store (changelogged, cached,
// exactly-once like any other), holding the key's open windows:
//   [count 8][min ts 8][max ts 8][aggregate length 4][aggregate] ...
// in opening order. Results are forwarded as they are made, not from the
// record cache (one store entry holds several windows).
//
// Threading: the task's thread, like every processor.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/windows.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/serde/windowed.h"

namespace runnel::dsl::internal {

// fold(key, value, aggregate or nullopt for a window's first record) -> VA.
template <typename K, typename V, typename VA, typename Fold>
class CountWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  CountWindowAggregateProcessor(std::string node, std::string store_name, SerdePtr<K> key_serde,
                                SerdePtr<VA> agg_serde, CountWindows windows, EmitStrategy emit, Fold fold)
      : node_(std::move(node)),
        store_name_(std::move(store_name)),
        key_serde_(std::move(key_serde)),
        agg_serde_(std::move(agg_serde)),
        windows_(windows),
        emit_final_(emit.kind == EmitStrategy::Kind::kOnWindowClose),
        fold_(std::move(fold)),
        null_keys_(absl::StrCat("store '", store_name_, "'")) {}

  absl::Status Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, V, Windowed<K>, Change<VA>>::Init(context)));
    context_ = &context;
    store_ = context.GetKeyValueStore(store_name_);
    if (store_ == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("store '", store_name_, "' is not available to task ", context.task_id().ToString()));
    }
    dropped_ = context.metrics().GetCounter(
        "runnel_dropped_records_total",
        {{"task", context.task_id().ToString()}, {"processor", node_}, {"reason", "null_key_or_value"}});
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, V> r) override {
    if (key_serde_->IsNull(r.key)) {
      dropped_->Increment();
      null_keys_.Drop(*context_);
      return absl::OkStatus();
    }
    std::string key_bytes;
    RUNNEL_RETURN_IF_ERROR(key_serde_->Serialize(r.key, key_bytes));
    auto stored = store_->Get(key_bytes);
    if (!stored.ok()) return stored.status();
    auto windows = Decode(*stored);
    if (!windows.ok()) return windows.status();
    if (windows_.sliding || windows->empty()) windows->push_back(Open{});
    const int64_t ts = r.timestamp.value();
    std::vector<Open> closed;
    std::vector<Open> still_open;
    for (Open& w : *windows) {
      w.agg = fold_(r.key, r.value, std::move(w.agg));
      w.min_ts = w.count == 0 ? ts : std::min(w.min_ts, ts);
      w.max_ts = w.count == 0 ? ts : std::max(w.max_ts, ts);
      ++w.count;
      if (!emit_final_) RUNNEL_RETURN_IF_ERROR(Send(r.key, w));
      if (w.count >= windows_.size) {
        if (emit_final_) RUNNEL_RETURN_IF_ERROR(Send(r.key, w));
      } else {
        still_open.push_back(std::move(w));
      }
    }
    if (still_open.empty()) return store_->Delete(key_bytes);
    auto encoded = Encode(still_open);
    if (!encoded.ok()) return encoded.status();
    return store_->Put(key_bytes, *encoded);
  }

 private:
  struct Open {
    int64_t count = 0;
    int64_t min_ts = 0;
    int64_t max_ts = 0;
    std::optional<VA> agg;
  };

  absl::Status Send(const K& key, const Open& w) {
    return context_->Forward(Record<Windowed<K>, Change<VA>>{
        Windowed<K>{key, Window{Timestamp(w.min_ts), Timestamp(w.max_ts)}}, Change<VA>{*w.agg, std::nullopt},
        Timestamp(w.max_ts), {}});
  }

  absl::StatusOr<std::string> Encode(const std::vector<Open>& windows) const {
    std::string out;
    std::string agg;
    for (const Open& w : windows) {
      agg.clear();
      RUNNEL_RETURN_IF_ERROR(agg_serde_->Serialize(*w.agg, agg));
      serdes::AppendBigEndian64(static_cast<uint64_t>(w.count), out);
      serdes::AppendBigEndian64(static_cast<uint64_t>(w.min_ts), out);
      serdes::AppendBigEndian64(static_cast<uint64_t>(w.max_ts), out);
      serdes::AppendBigEndian32(static_cast<uint32_t>(agg.size()), out);
      out += agg;
    }
    return out;
  }

  absl::StatusOr<std::vector<Open>> Decode(const std::optional<std::string>& stored) const {
    std::vector<Open> windows;
    if (!stored) return windows;
    std::string_view rest = *stored;
    while (!rest.empty()) {
      if (rest.size() < 28) return Corrupt();
      Open w;
      w.count = static_cast<int64_t>(serdes::ReadBigEndian64(rest.data()));
      w.min_ts = static_cast<int64_t>(serdes::ReadBigEndian64(rest.data() + 8));
      w.max_ts = static_cast<int64_t>(serdes::ReadBigEndian64(rest.data() + 16));
      const uint32_t size = serdes::ReadBigEndian32(rest.data() + 24);
      rest.remove_prefix(28);
      if (rest.size() < size) return Corrupt();
      auto agg = agg_serde_->Deserialize(rest.substr(0, size));
      if (!agg.ok()) return agg.status();
      w.agg = *std::move(agg);
      rest.remove_prefix(size);
      windows.push_back(std::move(w));
    }
    return windows;
  }

  absl::Status Corrupt() const {
    return absl::DataLossError(absl::StrCat("store '", store_name_, "': a count window entry is truncated"));
  }

  std::string node_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> agg_serde_;
  CountWindows windows_;
  bool emit_final_;
  Fold fold_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  KeyValueStore* store_ = nullptr;
  Counter* dropped_ = nullptr;
  NullKeyDropLog null_keys_;
};

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_COUNT_WINDOWED_H_
