#ifndef RUNNEL_DSL_INTERNAL_JOINS_H_
#define RUNNEL_DSL_INTERNAL_JOINS_H_

// The processors behind KStream-KTable and KTable-KTable joins, with Kafka
// Streams' semantics.
//
// KStream-KTable: each stream record looks up the table (through its value
// getter) when it is processed; table updates produce nothing. The result
// carries the stream record's timestamp.
//
// KTable-KTable: one processor per side (Kafka Streams' KTABLE-JOINTHIS and
// KTABLE-JOINOTHER) joins a change of its side's row with the other side's
// current row, old value and new value alike, and a merge node (optionally
// materialized) forwards both sides' results as the joined table. The result
// timestamp is the larger of the two rows' timestamps; since stores hold no
// timestamps, the join keeps each side's row timestamp in a store of its own
// (<merge>-timestamps).
//
// Every processor here is made per task and called on that task's thread.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/typed_store.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"

namespace runnel::dsl_internal {

enum class JoinKind { kInner, kLeft, kOuter };

// The joined row from each side's current row (none: no row on that side),
// or none when the join has no row for the key:
//   inner  joiner(left, right)                        both present
//   left   joiner(left, std::optional<right>)         left present
//   outer  joiner(std::optional<left>, std::optional<right>)  either present
template <JoinKind kKind, typename V1, typename V2, typename VR, typename Joiner>
class JoinedRow {
 public:
  explicit JoinedRow(Joiner joiner) : joiner_(std::move(joiner)) {}
  std::optional<VR> operator()(const std::optional<V1>& left, const std::optional<V2>& right) {
    if constexpr (kKind == JoinKind::kInner) {
      if (!left || !right) return std::nullopt;
      return static_cast<VR>(joiner_(*left, *right));
    } else if constexpr (kKind == JoinKind::kLeft) {
      if (!left) return std::nullopt;
      return static_cast<VR>(joiner_(*left, right));
    } else {
      if (!left && !right) return std::nullopt;
      return static_cast<VR>(joiner_(left, right));
    }
  }

 private:
  Joiner joiner_;
};

// KStream-KTable join (inner; left when kLeft: the joiner gets
// std::optional<VT>, none when the table has no row).
template <typename K, typename V, typename VT, typename VR, typename Joiner, bool kLeft>
class StreamTableJoinProcessor final : public Processor<K, V, K, VR> {
 public:
  StreamTableJoinProcessor(std::string name, TableValueGetterSupplier<K, VT> table, Joiner joiner)
      : name_(std::move(name)), table_(std::move(table)), joiner_(std::move(joiner)),
        null_keys_(absl::StrCat("join '", name_, "'")) {}

  absl::Status Init(ProcessorContext<K, VR>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, V, K, VR>::Init(context)));
    auto getter = table_.make(context);
    if (!getter.ok()) return getter.status();
    get_ = *std::move(getter);
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, V> r) override {
    if (table_.key_serde->IsNull(r.key)) {
      null_keys_.Drop(this->context());
      return absl::OkStatus();
    }
    auto row = get_(r.key);
    if (!row.ok()) return row.status();
    std::optional<VR> out;
    if constexpr (kLeft) {
      out.emplace(joiner_(r.value, *row));
    } else {
      if (!row->has_value()) return absl::OkStatus();
      out.emplace(joiner_(r.value, **row));
    }
    return this->context().Forward(Record<K, VR>{std::move(r.key), *std::move(out), r.timestamp, std::move(r.headers)});
  }

 private:
  std::string name_;
  TableValueGetterSupplier<K, VT> table_;
  Joiner joiner_;
  ValueGetter<K, VT> get_;
  NullKeyDropLog null_keys_;
};

// The timestamps of a key's rows on the two sides of a KTable-KTable join
// (none: no row on that side).
struct JoinTimestamps {
  std::optional<Timestamp> left;
  std::optional<Timestamp> right;
};

// Bytes of JoinTimestamps: a flags byte (1: left, 2: right), then the left
// and right timestamps, 8 bytes big-endian each (0 when absent).
class JoinTimestampsSerde final : public Serde<JoinTimestamps> {
 public:
  absl::Status Serialize(const JoinTimestamps& t, std::string& out) const override {
    out.clear();
    out.push_back(static_cast<char>((t.left ? 1 : 0) | (t.right ? 2 : 0)));
    serdes::AppendBigEndian64(static_cast<uint64_t>(t.left.value_or(Timestamp(0)).value()), out);
    serdes::AppendBigEndian64(static_cast<uint64_t>(t.right.value_or(Timestamp(0)).value()), out);
    return absl::OkStatus();
  }
  absl::StatusOr<JoinTimestamps> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() != 17 || static_cast<uint8_t>((*data)[0]) > 3) {
      return absl::InvalidArgumentError("join timestamps: malformed");
    }
    const auto flags = static_cast<uint8_t>((*data)[0]);
    JoinTimestamps t;
    if (flags & 1) t.left = Timestamp(static_cast<int64_t>(serdes::ReadBigEndian64(data->data() + 1)));
    if (flags & 2) t.right = Timestamp(static_cast<int64_t>(serdes::ReadBigEndian64(data->data() + 9)));
    return t;
  }
  std::string_view Name() const override { return "join-timestamps"; }
};

// One side of a KTable-KTable join: a change of this side's row (VThis),
// joined with the other side's current row (VOther) through `row`, a
// JoinedRow over (left, right). kThisIsLeft says which side this is.
template <typename K, typename VThis, typename VOther, typename VR, typename Row, bool kThisIsLeft>
class TableJoinSideProcessor final : public Processor<K, Change<VThis>, K, Change<VR>> {
 public:
  // `key_serde` addresses the timestamps store: the same for both sides.
  TableJoinSideProcessor(TableValueGetterSupplier<K, VOther> other, std::string timestamps_store,
                         SerdePtr<K> key_serde, Row row)
      : other_(std::move(other)), timestamps_store_(std::move(timestamps_store)), key_serde_(std::move(key_serde)),
        row_(std::move(row)) {}

  absl::Status Init(ProcessorContext<K, Change<VR>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, Change<VThis>, K, Change<VR>>::Init(context)));
    auto getter = other_.make(context);
    if (!getter.ok()) return getter.status();
    get_other_ = *std::move(getter);
    KeyValueStore* store = context.GetKeyValueStore(timestamps_store_);
    if (store == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("store '", timestamps_store_, "' is not available to task ",
                                                        context.task_id().ToString()));
    }
    timestamps_.emplace(store, key_serde_, std::make_shared<JoinTimestampsSerde>());
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, Change<VThis>> r) override {
    auto other = get_other_(r.key);
    if (!other.ok()) return other.status();
    auto stored = timestamps_->Get(r.key);
    if (!stored.ok()) return stored.status();
    JoinTimestamps ts = stored->value_or(JoinTimestamps{});
    std::optional<Timestamp>& mine = kThisIsLeft ? ts.left : ts.right;
    const std::optional<Timestamp> theirs = kThisIsLeft ? ts.right : ts.left;
    mine = r.value.new_value ? std::optional<Timestamp>(r.timestamp) : std::nullopt;
    absl::Status written = ts.left || ts.right ? timestamps_->Put(r.key, ts) : timestamps_->Delete(r.key);
    if (!written.ok()) return written;

    Change<VR> out{Join(r.value.new_value, *other), Join(r.value.old_value, *other)};
    if (!out.new_value && !out.old_value) return absl::OkStatus();
    // A row the other side has but whose timestamp was never seen (e.g.
    // timestamps store lost) counts as this record's time.
    const Timestamp at = other->has_value() && theirs ? std::max(r.timestamp, *theirs) : r.timestamp;
    return this->context().Forward(Record<K, Change<VR>>{std::move(r.key), std::move(out), at, {}});
  }

 private:
  std::optional<VR> Join(const std::optional<VThis>& mine, const std::optional<VOther>& theirs) {
    if constexpr (kThisIsLeft) {
      return row_(mine, theirs);
    } else {
      return row_(theirs, mine);
    }
  }

  TableValueGetterSupplier<K, VOther> other_;
  std::string timestamps_store_;
  SerdePtr<K> key_serde_;
  Row row_;
  ValueGetter<K, VOther> get_other_;
  std::optional<TypedKeyValueStore<K, JoinTimestamps>> timestamps_;
};

// The merge node of a KTable-KTable join: both sides' results, as one table.
// Materialized (a store name given): writes the store and forwards through
// it (old values from the store, or from the cache's flush when cached), as
// Kafka Streams' KTableKTableJoinMerger does; otherwise passes changes on.
template <typename K, typename VR>
class TableJoinMergeProcessor final : public Processor<K, Change<VR>, K, Change<VR>> {
 public:
  // `store` empty: not materialized.
  TableJoinMergeProcessor(std::string store, SerdePtr<K> key_serde, SerdePtr<VR> value_serde) {
    if (!store.empty()) out_.emplace(std::move(store), std::move(key_serde), std::move(value_serde));
  }

  absl::Status Init(ProcessorContext<K, Change<VR>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, Change<VR>, K, Change<VR>>::Init(context)));
    return out_ ? out_->Init(context) : absl::OkStatus();
  }

  absl::Status Process(Record<K, Change<VR>> r) override {
    if (!out_) return this->context().Forward(std::move(r));
    return out_->Set(std::move(r.key), std::move(r.value.new_value), r.timestamp);
  }

 private:
  std::optional<TableOutput<K, VR>> out_;
};

}  // namespace runnel::dsl_internal

#endif  // RUNNEL_DSL_INTERNAL_JOINS_H_
