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
// AddStreamTableJoin and AddTableTableJoin, at the end, wire them into a
// StreamsBuilder on the building thread.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/dsl/builder.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/options.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/typed_store.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/topology/topology.h"

namespace runnel::dsl::internal {

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


// Adds a join of the stream at node `stream` (`rekeyed`: its key changed
// upstream) with the table at node `table`, read through `getter`
// (KStream::Join / LeftJoin with a KTable), to `builder` and returns the
// join's node. Called on the building thread. `joined` gives the serdes of
// the repartition topic a rekeyed stream goes through (Kafka Streams' name:
// <joined name>-repartition, else <stream>-repartition).
template <typename K, typename V, typename VT, typename VR, typename Joiner, bool kLeft>
std::string AddStreamTableJoin(StreamsBuilder& builder, const std::string& stream, bool rekeyed,
                               const std::string& table, const TableValueGetterSupplier<K, VT>& getter,
                               Joiner joiner, const std::optional<Joined<K, V, VT>>& joined,
                               std::string_view prefix) {
  const bool named = joined && !joined->name.empty();
  std::string name = named ? joined->name : builder.NewName(prefix);
  std::string input = stream;
  if (rekeyed) {
    if (!joined || !joined->key_serde || !joined->value_serde) {
      builder.Fail(absl::InvalidArgumentError(absl::StrCat(
          "join '", name, "' with table '", table,
          "': the stream's key was changed upstream (Map, SelectKey, FlatMap), so it must go through a ",
          "repartition topic to be partitioned like the table; pass Joined::With(key serde, value serde, table ",
          "value serde) so that Runnel can write it, or call Repartition() on the stream before joining")));
    } else {
      input = builder.RepartitionThrough<K, V>(stream, named ? joined->name : stream, joined->key_serde,
                                                joined->value_serde);
    }
  }
  if (!getter.valid()) {
    builder.Fail(absl::InvalidArgumentError(
        absl::StrCat("join '", name, "': table '", table, "' has no value getter to look rows up")));
  }
  ProcessorSupplier<K, V, K, VR> supplier = [name, getter, joiner]() -> std::unique_ptr<Processor<K, V, K, VR>> {
    return std::make_unique<StreamTableJoinProcessor<K, V, VT, VR, Joiner, kLeft>>(name, getter, joiner);
  };
  auto& tb = builder.topology_builder();
  tb.AddProcessor<K, V, K, VR>(name, std::move(supplier), {input});
  tb.ConnectProcessorAndStateStores(name, getter.stores);
  return name;
}

// Adds a join of the tables at nodes `this_table` and `other_table`, read
// through `this_getter` and `other_getter` (KTable::Join / LeftJoin /
// OuterJoin), to `builder` and returns the result table. Called on the
// building thread. Kafka Streams' layout and names: a processor per side
// (KTABLE-JOINTHIS/-JOINOTHER, -LEFTTHIS/-LEFTOTHER, -OUTERTHIS/-OUTEROTHER,
// or <named>-join-this/-join-other), each connected to the other side's
// stores, feeding a merge node (KTABLE-MERGE or <named>) that holds the
// result store when materialized (generated name
// KTABLE-MERGE-STATE-STORE-…), plus <merge>-timestamps for the rows'
// timestamps.
template <JoinKind kKind, typename K, typename V, typename V2, typename VR, typename Joiner>
TableNode<K, VR> AddTableTableJoin(StreamsBuilder& builder, const std::string& this_table,
                                   const TableValueGetterSupplier<K, V>& this_getter, const std::string& other_table,
                                   const TableValueGetterSupplier<K, V2>& other_getter, Joiner joiner,
                                   std::optional<Materialized<K, VR>> materialized,
                                   const std::optional<Named>& named) {
  std::string store;
  if (materialized) {
    store = materialized->store_name.empty() ? builder.NewName("KTABLE-MERGE-STATE-STORE-")
                                             : materialized->store_name;
  }
  const std::string kind = kKind == JoinKind::kInner ? "JOIN" : kKind == JoinKind::kLeft ? "LEFT" : "OUTER";
  std::string merge = named ? named->name : builder.NewName("KTABLE-MERGE-");
  std::string this_side = named ? named->name + "-join-this" : builder.NewName("KTABLE-" + kind + "THIS-");
  std::string other_side = named ? named->name + "-join-other" : builder.NewName("KTABLE-" + kind + "OTHER-");
  const std::string timestamps = merge + "-timestamps";
  auto require_getter = [&](const std::string& table, bool valid) {
    if (valid) return;
    builder.Fail(absl::InvalidArgumentError(
        absl::StrCat("join '", merge, "': table '", table, "' has no value getter to look rows up")));
  };
  require_getter(this_table, this_getter.valid());
  require_getter(other_table, other_getter.valid());

  using Row = JoinedRow<kKind, V, V2, VR, Joiner>;
  Row row(joiner);
  auto& tb = builder.topology_builder();
  const SerdePtr<K> row_key_serde = this_getter.key_serde;
  ProcessorSupplier<K, Change<V>, K, Change<VR>> this_supplier =
      [other_getter, timestamps, row_key_serde, row]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<VR>>> {
    return std::make_unique<TableJoinSideProcessor<K, V, V2, VR, Row, /*kThisIsLeft=*/true>>(
        other_getter, timestamps, row_key_serde, row);
  };
  ProcessorSupplier<K, Change<V2>, K, Change<VR>> other_supplier =
      [this_getter, timestamps, row_key_serde, row]() -> std::unique_ptr<Processor<K, Change<V2>, K, Change<VR>>> {
    return std::make_unique<TableJoinSideProcessor<K, V2, V, VR, Row, /*kThisIsLeft=*/false>>(
        this_getter, timestamps, row_key_serde, row);
  };
  tb.template AddProcessor<K, Change<V>, K, Change<VR>>(this_side, std::move(this_supplier), {this_table});
  tb.template AddProcessor<K, Change<V2>, K, Change<VR>>(other_side, std::move(other_supplier),
                                                        {other_table});
  tb.ConnectProcessorAndStateStores(this_side, other_getter.stores);
  tb.ConnectProcessorAndStateStores(other_side, this_getter.stores);
  tb.AddStateStore(StoreSpec{.name = timestamps, .caching = false, .layout = StoreSpec::Layout::kInternal},
                   {this_side, other_side});

  SerdePtr<K> key_serde = materialized ? materialized->key_serde : this_getter.key_serde;
  SerdePtr<VR> value_serde = materialized ? materialized->value_serde : nullptr;
  ProcessorSupplier<K, Change<VR>, K, Change<VR>> merge_supplier =
      [store, key_serde, value_serde]() -> std::unique_ptr<Processor<K, Change<VR>, K, Change<VR>>> {
    return std::make_unique<TableJoinMergeProcessor<K, VR>>(store, key_serde, value_serde);
  };
  tb.template AddProcessor<K, Change<VR>, K, Change<VR>>(merge, std::move(merge_supplier),
                                                        {this_side, other_side});
  TableValueGetterSupplier<K, VR> getter;
  if (materialized) {
    tb.AddStateStore(materialized->Spec(store), {merge});
    getter = StoreValueGetter<K, VR>(store, key_serde, value_serde);
  } else if (this_getter.valid() && other_getter.valid()) {
    getter.stores = this_getter.stores;
    getter.stores.insert(getter.stores.end(), other_getter.stores.begin(), other_getter.stores.end());
    getter.key_serde = key_serde;
    getter.make = [this_make = this_getter.make, other_make = other_getter.make,
                   row](TaskContext& context) -> absl::StatusOr<ValueGetter<K, VR>> {
      auto get_this = this_make(context);
      if (!get_this.ok()) return get_this.status();
      auto get_other = other_make(context);
      if (!get_other.ok()) return get_other.status();
      return ValueGetter<K, VR>(
          [get_this = *std::move(get_this), get_other = *std::move(get_other),
           row](const K& key) mutable -> absl::StatusOr<std::optional<VR>> {
            auto l = get_this(key);
            if (!l.ok()) return l.status();
            auto r = get_other(key);
            if (!r.ok()) return r.status();
            return row(*l, *r);
          });
    };
  }
  return TableNode<K, VR>{std::move(merge), std::move(store), std::move(getter)};
}

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_JOINS_H_
