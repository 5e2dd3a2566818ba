#ifndef RUNNEL_DSL_INTERNAL_STREAM_JOIN_H_
#define RUNNEL_DSL_INTERNAL_STREAM_JOIN_H_

// The processors behind KStream::Join / LeftJoin / OuterJoin with another
// KStream (Kafka Streams' KStreamKStreamJoin, with KIP-633's shared store
// for records that found no partner), and AddStreamStreamJoin, which wires
// them into a StreamsBuilder.
//
// Graph: each input goes through a tagging node (JoinSideProcessor) into
// one join node, which owns every piece of join state of its task:
//
//   left  ──> <this-join>  ──┐
//                            ├──> <merge>: StreamStreamJoinProcessor ──> results
//   right ──> <other-join> ──┘     stores: left window, right window,
//                                          unmatched (left/outer joins)
//
// (Kafka Streams has two join processors sharing a stream-time tracker; one
// node keeps that state in one place, on one thread, with no per-task
// registry.) For a self-join both tagging nodes follow the same node, left
// first, so a record is seen as a left record, then as a right one.
//
// Per record at time t on side s (left: its window is [t - before,
// t + after] of right records; right: the mirror, [t - after, t + before]):
//   1. null key or value (the serdes' IsNull): dropped and counted;
//   2. stream time (one for both sides, max of every timestamp seen,
//      persisted in both window stores) rises to t;
//   3. late — t + reach(s) + grace < stream time, reach(left) = max(after,
//      0), reach(right) = max(before, 0), the end of its own window —
//      dropped and counted;
//   4. left/outer joins, when stream time rose: every unmatched record
//      whose partners would all be late now is emitted with a null partner
//      (see UnmatchedClosed), oldest first, and forgotten;
//   5. the partners in the other side's window store are joined, in time
//      order (then arrival order); the result's timestamp is the later of
//      the two; each partner leaves the unmatched store;
//   6. with no partner on an outer side, the record waits in the unmatched
//      store;
//   7. the record goes into its side's window store.
//
// Threading: one instance per task, on its stream thread. It does not own
// its stores (the task does); the WindowStore views over them are its own.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/logging.h"
#include "runnel/common/metrics.h"
#include "runnel/common/status.h"
#include "runnel/dsl/builder.h"
#include "runnel/dsl/options.h"
#include "runnel/dsl/windows.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/state/kv_store.h"
#include "runnel/state/window_store.h"
#include "runnel/topology/topology.h"

namespace runnel::dsl::internal {

// A record of either join input: index 0 left (this), 1 right (other).
template <typename V, typename VO>
using JoinInput = std::variant<V, VO>;

// Tags the records of one join input (I: 0 left, 1 right) for the join node.
template <typename K, typename V, typename VO, size_t I>
class JoinSideProcessor final
    : public Processor<K, std::variant_alternative_t<I, JoinInput<V, VO>>, K, JoinInput<V, VO>> {
 public:
  using In = std::variant_alternative_t<I, JoinInput<V, VO>>;
  absl::Status Process(Record<K, In> r) override {
    return this->context().Forward(Record<K, JoinInput<V, VO>>{
        std::move(r.key), JoinInput<V, VO>(std::in_place_index<I>, std::move(r.value)), r.timestamp,
        std::move(r.headers)});
  }
};

// The shape of one join, fixed at build time.
struct StreamJoinSpec {
  std::string node;  // the join node's name, for logs and metrics
  std::string left_store;
  std::string right_store;
  std::string unmatched_store;  // empty for inner joins
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = 0;
  bool left_outer = false;   // unmatched left records are emitted (left, outer)
  bool right_outer = false;  // unmatched right records are emitted (outer)

  // Whether the side's unmatched records are emitted (and so buffered).
  bool Outer(int side) const { return side == 0 ? left_outer : right_outer; }
  // How far after its own time a side's window reaches.
  int64_t Reach(int side) const { return std::max<int64_t>(side == 0 ? after_ms : before_ms, 0); }
  // How long after t the partners of a record at t may still arrive on
  // time: the latest partner's time plus its reach, plus grace.
  int64_t PartnerHorizon(int side) const {
    return (side == 0 ? after_ms : before_ms) + Reach(1 - side) + grace_ms;
  }
  // How long a side's window store keeps a record: until no on-time record
  // of the other side can join it. before + after + grace (Kafka Streams'
  // retention) when both are >= 0.
  int64_t RetentionMs() const { return std::max(PartnerHorizon(0), PartnerHorizon(1)); }
};

// Bytes of the unmatched store. Key: <time: 8 BE><side: 1><key bytes>, so a
// scan from time 0 meets the oldest first. Value: the records of that key,
// side and time, each <length: 4 BE><value bytes> (duplicates append).
namespace unmatched {

inline std::string Key(int64_t time, int side, std::string_view key) {
  std::string out;
  serdes::AppendBigEndian64(static_cast<uint64_t>(time), out);
  out.push_back(static_cast<char>(side));
  out.append(key.data(), key.size());
  return out;
}
// Every key with time <= `time` sorts at or before this.
inline std::string UpTo(int64_t time) {
  std::string out;
  serdes::AppendBigEndian64(static_cast<uint64_t>(time + 1), out);
  return out;
}
inline void Append(std::string_view value, std::string& list) {
  serdes::AppendBigEndian32(static_cast<uint32_t>(value.size()), list);
  list.append(value.data(), value.size());
}
inline absl::StatusOr<std::vector<std::string_view>> Split(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    if (list.size() < 4) return absl::DataLossError("unmatched join record list: truncated length");
    const uint32_t n = serdes::ReadBigEndian32(list.data());
    if (list.size() - 4 < n) return absl::DataLossError("unmatched join record list: truncated value");
    out.push_back(list.substr(4, n));
    list.remove_prefix(4 + n);
  }
  return out;
}

}  // namespace unmatched

// joiner(const V* left, const VO* right) -> VR; one of them is null only
// for an unmatched record of an outer side.
template <typename K, typename V, typename VO, typename VR, typename Joiner>
class StreamStreamJoinProcessor final : public Processor<K, JoinInput<V, VO>, K, VR> {
 public:
  StreamStreamJoinProcessor(StreamJoinSpec spec, SerdePtr<K> key_serde, SerdePtr<V> left_serde,
                            SerdePtr<VO> right_serde, Joiner joiner)
      : spec_(std::move(spec)),
        key_serde_(std::move(key_serde)),
        left_serde_(std::move(left_serde)),
        right_serde_(std::move(right_serde)),
        joiner_(std::move(joiner)) {}

  absl::Status Init(ProcessorContext<K, VR>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, JoinInput<V, VO>, K, VR>::Init(context)));
    // The views are opened on the first record: the stores are restored
    // after Init, and the views read their persisted stream time.
    const SegmentedStoreOptions options{.retention_ms = WindowRetentionMs(spec_)};
    for (int side = 0; side < 2; ++side) {
      const std::string& name = side == 0 ? spec_.left_store : spec_.right_store;
      KeyValueStore* kv = context.GetKeyValueStore(name);
      if (kv == nullptr) return MissingStore(context, name);
      windows_[side].emplace(kv, options, /*retain_duplicates=*/true);
      // Under at-least-once the persisted stream time waits for the results
      // sent up to it to be acknowledged: replayed records are then not
      // dropped as late behind a stream time whose results were lost.
      WindowStore& w = *windows_[side];
      if (context.OnSentRecordsAcknowledged([&w] { return w.WriteHeldMeta(); })) w.HoldMetaWrites();
    }
    if (spec_.Outer(0) || spec_.Outer(1)) {
      RUNNEL_CHECK(!spec_.unmatched_store.empty()) << "join '" << spec_.node << "' has an outer side but no store";
      unmatched_ = context.GetKeyValueStore(spec_.unmatched_store);
      if (unmatched_ == nullptr) return MissingStore(context, spec_.unmatched_store);
    }
    const MetricLabels labels{{"task", context.task_id().ToString()}, {"processor", spec_.node}};
    for (int reason = 0; reason < kDropReasons; ++reason) {
      MetricLabels l = labels;
      l["reason"] = kDropReasonNames[reason];
      dropped_[reason] = context.metrics().GetCounter("runnel_dropped_records_total", l);
    }
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, JoinInput<V, VO>> r) override {
    RUNNEL_RETURN_IF_ERROR(Start());
    const int side = static_cast<int>(r.value.index());
    const bool null_value = side == 0 ? left_serde_->IsNull(std::get<0>(r.value))
                                      : right_serde_->IsNull(std::get<1>(r.value));
    if (key_serde_->IsNull(r.key) || null_value) return Drop(kNullKeyOrValue, side, r.timestamp);
    const int64_t t = r.timestamp.value();
    if (t < 0) return Drop(kNegativeTimestamp, side, r.timestamp);

    const int64_t previous = stream_time_;
    stream_time_ = std::max(stream_time_, t);
    for (auto& window : windows_) RUNNEL_RETURN_IF_ERROR(window->AdvanceStreamTime(Timestamp(stream_time_)));
    if (t + spec_.Reach(side) + spec_.grace_ms < stream_time_) return Drop(kLate, side, r.timestamp);
    if (unmatched_ != nullptr && stream_time_ > previous) RUNNEL_RETURN_IF_ERROR(EmitUnmatchedClosed());

    RUNNEL_RETURN_IF_ERROR(key_serde_->Serialize(r.key, key_bytes_));
    if (side == 0) {
      RUNNEL_RETURN_IF_ERROR(left_serde_->Serialize(std::get<0>(r.value), value_bytes_));
    } else {
      RUNNEL_RETURN_IF_ERROR(right_serde_->Serialize(std::get<1>(r.value), value_bytes_));
    }
    const int64_t from = side == 0 ? t - spec_.before_ms : t - spec_.after_ms;
    const int64_t to = side == 0 ? t + spec_.after_ms : t + spec_.before_ms;
    auto partners = windows_[1 - side]->Fetch(key_bytes_, Timestamp(from), Timestamp(to));
    if (!partners.ok()) return partners.status();
    for (const WindowEntry& partner : *partners) {
      if (spec_.Outer(1 - side)) RUNNEL_RETURN_IF_ERROR(ForgetUnmatched(partner.start.value(), 1 - side));
      absl::StatusOr<VR> out = side == 0 ? JoinWith<VO>(&std::get<0>(r.value), nullptr, *right_serde_, partner.value)
                                         : JoinWith<V>(nullptr, &std::get<1>(r.value), *left_serde_, partner.value);
      if (!out.ok()) return out.status();
      RUNNEL_RETURN_IF_ERROR(this->context().Forward(Record<K, VR>{
          r.key, *std::move(out), Timestamp(std::max(t, partner.start.value())), r.headers}));
    }
    if (partners->empty() && spec_.Outer(side)) RUNNEL_RETURN_IF_ERROR(AddUnmatched(t, side));
    return windows_[side]->Put(key_bytes_, r.timestamp, value_bytes_);
  }

 private:
  enum DropReason { kNullKeyOrValue, kLate, kNegativeTimestamp, kDropReasons };
  static constexpr const char* kDropReasonNames[kDropReasons] = {"null_key_or_value", "late", "negative_timestamp"};

  // The window stores' own retention: they drop a time once it is <= stream
  // time - retention, while Kafka Streams' retention keeps stream time -
  // retention itself; one more millisecond keeps the last on-time partner.
  static int64_t WindowRetentionMs(const StreamJoinSpec& spec) { return spec.RetentionMs() + 1; }

  static absl::Status MissingStore(ProcessorContext<K, VR>& context, const std::string& name) {
    return absl::FailedPreconditionError(
        absl::StrCat("store '", name, "' is not available to task ", context.task_id().ToString()));
  }

  absl::Status Start() {
    if (started_) return absl::OkStatus();
    for (auto& window : windows_) {
      RUNNEL_RETURN_IF_ERROR(window->Init());
      stream_time_ = std::max(stream_time_, window->stream_time().value());
    }
    started_ = true;
    return absl::OkStatus();
  }

  // joiner(left, right) where the missing one (null pointer) is decoded from
  // `bytes` of a stored partner.
  template <typename P>
  absl::StatusOr<VR> JoinWith(const V* left, const VO* right, const Serde<P>& serde, std::string_view bytes) {
    absl::StatusOr<P> partner = serde.Deserialize(bytes);
    if (!partner.ok()) return partner.status();
    if constexpr (std::is_same_v<P, VO>) {
      if (left != nullptr) return joiner_(left, &*partner);
    }
    if constexpr (std::is_same_v<P, V>) {
      if (right != nullptr) return joiner_(&*partner, right);
    }
    return absl::InternalError("join: a partner with no record to join");
  }

  absl::Status AddUnmatched(int64_t t, int side) {
    const std::string key = unmatched::Key(t, side, key_bytes_);
    auto existing = unmatched_->Get(key);
    if (!existing.ok()) return existing.status();
    std::string list = existing->value_or(std::string());
    unmatched::Append(value_bytes_, list);
    return unmatched_->Put(key, list);
  }

  absl::Status ForgetUnmatched(int64_t t, int side) {
    const std::string key = unmatched::Key(t, side, key_bytes_);
    auto existing = unmatched_->Get(key);
    if (!existing.ok()) return existing.status();
    if (!existing->has_value()) return absl::OkStatus();
    return unmatched_->Delete(key);
  }

  // Whether no on-time record can join an unmatched record at `t` any more.
  bool UnmatchedClosed(int64_t t, int side) const { return t + spec_.PartnerHorizon(side) < stream_time_; }

  absl::Status EmitUnmatchedClosed() {
    const int64_t newest = stream_time_ - std::min(spec_.PartnerHorizon(0), spec_.PartnerHorizon(1)) - 1;
    if (newest < 0) return absl::OkStatus();
    auto it = unmatched_->Range(unmatched::UpTo(-1), unmatched::UpTo(newest));
    if (!it.ok()) return it.status();
    auto entries = Collect(**it);
    if (!entries.ok()) return entries.status();
    for (const KeyValueEntry& entry : *entries) {
      if (entry.key.size() < 9) {
        return absl::DataLossError(absl::StrCat("store '", spec_.unmatched_store, "': a key of ", entry.key.size(),
                                                " bytes, expected at least 9"));
      }
      const auto t = static_cast<int64_t>(serdes::ReadBigEndian64(entry.key.data()));
      const int side = entry.key[8];
      if (!UnmatchedClosed(t, side)) continue;
      auto key = key_serde_->Deserialize(std::string_view(entry.key).substr(9));
      if (!key.ok()) return key.status();
      auto values = unmatched::Split(entry.value);
      if (!values.ok()) return values.status();
      for (std::string_view bytes : *values) {
        absl::StatusOr<VR> out = side == 0 ? JoinAlone<V>(*left_serde_, bytes, 0) : JoinAlone<VO>(*right_serde_, bytes, 1);
        if (!out.ok()) return out.status();
        RUNNEL_RETURN_IF_ERROR(this->context().Forward(Record<K, VR>{*key, *std::move(out), Timestamp(t), {}}));
      }
      RUNNEL_RETURN_IF_ERROR(unmatched_->Delete(entry.key));
    }
    return absl::OkStatus();
  }

  template <typename P>
  absl::StatusOr<VR> JoinAlone(const Serde<P>& serde, std::string_view bytes, int side) {
    absl::StatusOr<P> value = serde.Deserialize(bytes);
    if (!value.ok()) return value.status();
    if constexpr (std::is_same_v<P, V>) {
      if (side == 0) return joiner_(&*value, nullptr);
    }
    if constexpr (std::is_same_v<P, VO>) {
      if (side == 1) return joiner_(nullptr, &*value);
    }
    return absl::InternalError("join: an unmatched record of an unknown side");
  }

  absl::Status Drop(DropReason reason, int side, Timestamp t) {
    if (dropped_[reason] != nullptr) dropped_[reason]->Increment();
    int64_t suppressed = 0;
    if (drop_log_.Allow(this->context().clock().NowMillis().value(), &suppressed)) {
      Logger("runnel")->warn("join '{}': dropping a {} record at {} ({}; stream time {}){}", spec_.node,
                             side == 0 ? "left" : "right", t.value(), kDropReasonNames[reason], stream_time_,
                             suppressed > 0 ? absl::StrCat(", and ", suppressed, " more since the last warning")
                                            : std::string());
    }
    return absl::OkStatus();
  }

  StreamJoinSpec spec_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> left_serde_;
  SerdePtr<VO> right_serde_;
  Joiner joiner_;
  std::optional<WindowStore> windows_[2];
  KeyValueStore* unmatched_ = nullptr;
  bool started_ = false;
  // Max timestamp seen by either side (-1: none); never behind the stores'.
  int64_t stream_time_ = -1;
  Counter* dropped_[kDropReasons] = {};
  RateLimiter drop_log_{10'000};
  // Scratch for the current record's bytes.
  std::string key_bytes_;
  std::string value_bytes_;
};


// Adds a join of the streams at nodes `this_stream` and `other_stream`
// (KStream::Join / LeftJoin / OuterJoin; `*_rekeyed`: that stream's key
// changed upstream) to `builder` and returns the node of its results.
// Called on the building thread. Node and store names follow Kafka Streams'
// KStreamImplJoin: the this/other names take an index even when `joined`
// names the join, and the shared store takes the this-side's index.
template <typename K, typename V, typename VO, typename VR, typename Joiner>
std::string AddStreamStreamJoin(StreamsBuilder& builder, const std::string& this_stream, bool this_rekeyed,
                                const std::string& other_stream, bool other_rekeyed, Joiner joiner,
                                const JoinWindows& windows, const StreamJoined<K, V, VO>& joined, bool left_outer,
                                bool right_outer) {
  const std::string this_prefix = right_outer ? "KSTREAM-OUTERTHIS-" : "KSTREAM-JOINTHIS-";
  const std::string this_generated = builder.NewName(this_prefix);
  const std::string other_generated = builder.NewName(left_outer ? "KSTREAM-OUTEROTHER-" : "KSTREAM-JOINOTHER-");
  const bool named = !joined.name.empty();
  const std::string this_node = named ? joined.name + "-this-join" : this_generated;
  const std::string other_node = named ? joined.name + "-other-join" : other_generated;
  const std::string merge = named ? joined.name + "-merge" : builder.NewName("KSTREAM-MERGE-");
  const std::string& base = joined.store_name;
  StreamJoinSpec spec{
      .node = merge,
      .left_store = (base.empty() ? this_generated : base + (right_outer ? "-outer-this-join" : "-this-join")) +
                    "-store",
      .right_store =
          (base.empty() ? other_generated : base + (left_outer ? "-outer-other-join" : "-other-join")) + "-store",
      .before_ms = windows.before_ms,
      .after_ms = windows.after_ms,
      .grace_ms = windows.grace_ms,
      .left_outer = left_outer,
      .right_outer = right_outer};
  if (left_outer) {
    spec.unmatched_store = (base.empty() ? "KSTREAM-OUTERSHARED-" + this_generated.substr(this_prefix.size())
                                         : base + (right_outer ? "-shared-outer-join" : "-shared-left-join")) +
                           "-store";
  }
  if (absl::Status s = windows.Validate(); !s.ok()) {
    builder.Fail(absl::InvalidArgumentError(absl::StrCat("join '", merge, "': ", s.message())));
    return merge;
  }
  if (!joined.key_serde || !joined.value_serde || !joined.other_value_serde) {
    builder.Fail(absl::InvalidArgumentError(
        absl::StrCat("join '", merge, "': StreamJoined needs the key serde and both value serdes")));
    return merge;
  }
  // A side whose key changed upstream goes through a repartition topic
  // first (Kafka Streams' names: <name>-left/-right-repartition, or
  // <upstream node>-repartition), so that both sides are partitioned by
  // the key; Runnel gives both topics the partition count of the sides'
  // source topics.
  std::string this_input = this_stream;
  std::string other_input = other_stream;
  if (this_rekeyed) {
    this_input = builder.RepartitionThrough<K, V>(this_stream, named ? joined.name + "-left" : this_stream,
                                                   joined.key_serde, joined.value_serde);
  }
  if (other_rekeyed) {
    other_input = builder.RepartitionThrough<K, VO>(other_stream, named ? joined.name + "-right" : other_stream,
                                                     joined.key_serde, joined.other_value_serde);
  }
  using Input = JoinInput<V, VO>;
  auto& tb = builder.topology_builder();
  tb.AddProcessor<K, V, K, Input>(
      this_node, [] { return std::make_unique<JoinSideProcessor<K, V, VO, 0>>(); }, {this_input});
  tb.AddProcessor<K, VO, K, Input>(
      other_node, [] { return std::make_unique<JoinSideProcessor<K, V, VO, 1>>(); }, {other_input});
  ProcessorSupplier<K, Input, K, VR> supplier = [spec, joined,
                                                joiner]() -> std::unique_ptr<Processor<K, Input, K, VR>> {
    return std::make_unique<StreamStreamJoinProcessor<K, V, VO, VR, Joiner>>(
        spec, joined.key_serde, joined.value_serde, joined.other_value_serde, joiner);
  };
  tb.AddProcessor<K, Input, K, VR>(merge, std::move(supplier), {this_node, other_node});
  const auto kind = joined.in_memory ? StoreSpec::Kind::kInMemory : StoreSpec::Kind::kRocksDb;
  for (const std::string* store : {&spec.left_store, &spec.right_store}) {
    tb.AddStateStore(StoreSpec{.name = *store, .kind = kind, .logging = joined.logging, .caching = false,
                               .retention_ms = spec.RetentionMs(), .layout = StoreSpec::Layout::kInternal},
                     {merge});
  }
  if (left_outer) {
    tb.AddStateStore(
        StoreSpec{.name = spec.unmatched_store, .kind = kind, .logging = joined.logging, .caching = false,
                  .layout = StoreSpec::Layout::kInternal},
        {merge});
  }
  return merge;
}

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_STREAM_JOIN_H_
