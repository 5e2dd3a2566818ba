#ifndef RUNNEL_DSL_INTERNAL_FK_JOIN_H_
#define RUNNEL_DSL_INTERNAL_FK_JOIN_H_

// The processors behind the KTable-KTable foreign-key join (Kafka Streams'
// KIP-213 design). The left table L<K, V> and the foreign table R<KO, VO>
// are partitioned differently, so:
//
//   left task:     L's change -> SubscriptionSend -> <base>-subscription-registration-topic (key: KO)
//   foreign task:  SubscriptionReceive (keeps (KO, K) -> hash in <base>-subscription-store,
//                  looks R up)  -> <base>-subscription-response-topic (key: K)
//                  R's change -> ForeignUpdate (every (KO, *) subscriber) -> the response topic
//   left task:     Response (drops a response whose hash of the left value is
//                  not the current one: stale) -> the result table's source
//
// A subscription carries a 64-bit FNV-1a hash of the serialized left value;
// only a response computed for the left row as it is now is joined, so an
// answer overtaken by a newer left update (or by a foreign-key change) is
// discarded. Keys and values cross the topics as their serde's bytes.
//
// Every processor here is made per task and called on that task's thread.
// AddForeignKeyJoin, at the end, wires them into a StreamsBuilder on the
// building thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/dsl/builder.h"
#include "runnel/dsl/internal/stateful.h"
#include "runnel/dsl/internal/value_getter.h"
#include "runnel/dsl/key_value.h"
#include "runnel/dsl/options.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/serde.h"
#include "runnel/serde/serdes.h"
#include "runnel/topology/topology.h"

namespace runnel::dsl::internal {

// Stable across processes and builds (a response may be checked by another
// instance than the one that subscribed).
inline uint64_t ValueHash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// What the foreign side does with a subscription (Kafka Streams'
// SubscriptionWrapper.Instruction).
enum class SubscriptionInstruction : uint8_t {
  // The left row moved to another foreign key: forget it here, say nothing.
  kDeleteNoPropagate = 0,
  // The left row was deleted: forget it and answer with no foreign value.
  kDeleteAndPropagate = 1,
  // Answer with the foreign value, or with none when there is none.
  kPropagateNullIfNoForeignValue = 2,
  // Answer only if there is a foreign value (a new inner-join row).
  kPropagateOnlyIfForeignValue = 3,
};

struct Subscription {
  std::optional<uint64_t> hash;  // of the left value; none: deleted
  SubscriptionInstruction instruction = SubscriptionInstruction::kPropagateNullIfNoForeignValue;
  std::string primary_key;  // the left key's bytes
};

struct SubscriptionResponse {
  std::optional<uint64_t> hash;  // as subscribed
  std::optional<std::string> foreign_value;  // the foreign value's bytes; none: no row
};

// Bytes: flags (1: hash), instruction, hash (8, big-endian), primary key.
class SubscriptionSerde final : public Serde<Subscription> {
 public:
  absl::Status Serialize(const Subscription& s, std::string& out) const override {
    out.clear();
    out.push_back(static_cast<char>(s.hash ? 1 : 0));
    out.push_back(static_cast<char>(s.instruction));
    serdes::AppendBigEndian64(s.hash.value_or(0), out);
    out += s.primary_key;
    return absl::OkStatus();
  }
  absl::StatusOr<Subscription> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() < 10 || static_cast<uint8_t>((*data)[0]) > 1 || static_cast<uint8_t>((*data)[1]) > 3) {
      return absl::InvalidArgumentError("subscription: malformed");
    }
    Subscription s;
    if ((*data)[0] == 1) s.hash = serdes::ReadBigEndian64(data->data() + 2);
    s.instruction = static_cast<SubscriptionInstruction>((*data)[1]);
    s.primary_key = std::string(data->substr(10));
    return s;
  }
  std::string_view Name() const override { return "fk-subscription"; }
};

// Bytes: flags (1: hash, 2: foreign value), hash (8, big-endian), value.
class SubscriptionResponseSerde final : public Serde<SubscriptionResponse> {
 public:
  absl::Status Serialize(const SubscriptionResponse& r, std::string& out) const override {
    out.clear();
    out.push_back(static_cast<char>((r.hash ? 1 : 0) | (r.foreign_value ? 2 : 0)));
    serdes::AppendBigEndian64(r.hash.value_or(0), out);
    if (r.foreign_value) out += *r.foreign_value;
    return absl::OkStatus();
  }
  absl::StatusOr<SubscriptionResponse> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() < 9 || static_cast<uint8_t>((*data)[0]) > 3) {
      return absl::InvalidArgumentError("subscription response: malformed");
    }
    const auto flags = static_cast<uint8_t>((*data)[0]);
    SubscriptionResponse r;
    if (flags & 1) r.hash = serdes::ReadBigEndian64(data->data() + 1);
    if (flags & 2) r.foreign_value = std::string(data->substr(9));
    return r;
  }
  std::string_view Name() const override { return "fk-subscription-response"; }
};

// The subscription store's key: the foreign key's bytes (length-prefixed, so
// one foreign key's subscribers are one key range) then the left key's.
inline std::string SubscriptionStoreKey(std::string_view foreign_key, std::string_view primary_key) {
  std::string out;
  serdes::AppendBigEndian32(static_cast<uint32_t>(foreign_key.size()), out);
  out += foreign_key;
  out += primary_key;
  return out;
}

template <typename T>
absl::StatusOr<std::string> SerializeOrError(const Serde<T>& serde, const T& value, const std::string& what) {
  std::string out;
  if (absl::Status s = serde.Serialize(value, out); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  }
  return out;
}

// Left side: a change of the left row subscribes it to its foreign key (and
// unsubscribes it from the old one). A null foreign key (KO's serde IsNull)
// goes out with a null key: the foreign side answers at once with no value.
template <typename K, typename V, typename KO, typename Extractor, bool kLeft>
class SubscriptionSendProcessor final : public Processor<K, Change<V>, KO, Subscription> {
 public:
  SubscriptionSendProcessor(std::string name, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                            SerdePtr<KO> foreign_key_serde, Extractor extractor)
      : name_(std::move(name)), key_serde_(std::move(key_serde)), value_serde_(std::move(value_serde)),
        foreign_key_serde_(std::move(foreign_key_serde)), extractor_(std::move(extractor)) {}

  absl::Status Process(Record<K, Change<V>> r) override {
    using I = SubscriptionInstruction;
    auto pk = SerializeOrError(*key_serde_, r.key, absl::StrCat("join '", name_, "': key"));
    if (!pk.ok()) return pk.status();
    std::optional<uint64_t> hash;
    std::optional<KO> new_fk, old_fk;
    if (r.value.new_value) {
      auto bytes = SerializeOrError(*value_serde_, *r.value.new_value, absl::StrCat("join '", name_, "': value"));
      if (!bytes.ok()) return bytes.status();
      hash = ValueHash(*bytes);
      new_fk = extractor_(*r.value.new_value);
    }
    if (r.value.old_value) old_fk = extractor_(*r.value.old_value);
    if (old_fk) {
      if (!new_fk) return Send(*old_fk, hash, I::kDeleteAndPropagate, *pk, r.timestamp);
      auto old_bytes = ForeignKeyBytes(*old_fk), new_bytes = ForeignKeyBytes(*new_fk);
      if (!old_bytes.ok()) return old_bytes.status();
      if (!new_bytes.ok()) return new_bytes.status();
      if (*old_bytes != *new_bytes) {
        RUNNEL_RETURN_IF_ERROR(Send(*old_fk, hash, I::kDeleteNoPropagate, *pk, r.timestamp));
      }
      // Also for an inner join: an earlier result must be replaced or retracted.
      return Send(*new_fk, hash, I::kPropagateNullIfNoForeignValue, *pk, r.timestamp);
    }
    if (!new_fk) return absl::OkStatus();
    return Send(*new_fk, hash, kLeft ? I::kPropagateNullIfNoForeignValue : I::kPropagateOnlyIfForeignValue, *pk,
                r.timestamp);
  }

 private:
  absl::StatusOr<std::optional<std::string>> ForeignKeyBytes(const KO& fk) const {
    if (foreign_key_serde_->IsNull(fk)) return std::optional<std::string>();
    auto bytes = SerializeOrError(*foreign_key_serde_, fk, absl::StrCat("join '", name_, "': foreign key"));
    if (!bytes.ok()) return bytes.status();
    return std::optional<std::string>(*std::move(bytes));
  }
  absl::Status Send(const KO& fk, std::optional<uint64_t> hash, SubscriptionInstruction instruction,
                    const std::string& pk, Timestamp ts) {
    return this->context().Forward(Record<KO, Subscription>{fk, Subscription{hash, instruction, pk}, ts, {}});
  }

  std::string name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  SerdePtr<KO> foreign_key_serde_;
  Extractor extractor_;
};

// Foreign side, shared by the two processors there: the subscription store
// and the way to answer.
template <typename K, typename KO, typename VO>
class ForeignSide {
 public:
  ForeignSide(std::string store, SerdePtr<K> key_serde, SerdePtr<KO> foreign_key_serde, SerdePtr<VO> foreign_serde)
      : store_name_(std::move(store)), key_serde_(std::move(key_serde)),
        foreign_key_serde_(std::move(foreign_key_serde)), foreign_serde_(std::move(foreign_serde)) {}

  absl::Status Init(ProcessorContext<K, SubscriptionResponse>& context) {
    context_ = &context;
    store_ = context.GetKeyValueStore(store_name_);
    if (store_ == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("store '", store_name_, "' is not available to task ", context.task_id().ToString()));
    }
    return absl::OkStatus();
  }
  KeyValueStore& store() { return *store_; }
  const Serde<KO>& foreign_key_serde() const { return *foreign_key_serde_; }

  // Answers the left row `pk` (bytes) with `foreign` (none: no foreign row).
  absl::Status Respond(std::string_view pk, std::optional<uint64_t> hash, const std::optional<VO>& foreign,
                       Timestamp ts) {
    auto key = key_serde_->Deserialize(pk);
    if (!key.ok()) return key.status();
    SubscriptionResponse response{.hash = hash};
    if (foreign) {
      auto bytes = SerializeOrError(*foreign_serde_, *foreign, absl::StrCat("store '", store_name_, "': value"));
      if (!bytes.ok()) return bytes.status();
      response.foreign_value = *std::move(bytes);
    }
    return context_->Forward(Record<K, SubscriptionResponse>{*std::move(key), std::move(response), ts, {}});
  }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<KO> foreign_key_serde_;
  SerdePtr<VO> foreign_serde_;
  ProcessorContext<K, SubscriptionResponse>* context_ = nullptr;
  KeyValueStore* store_ = nullptr;
};

// Foreign side: records (or forgets) a subscription and answers it with the
// foreign row as it is now.
template <typename K, typename KO, typename VO>
class SubscriptionReceiveProcessor final : public Processor<KO, Subscription, K, SubscriptionResponse> {
 public:
  SubscriptionReceiveProcessor(ForeignSide<K, KO, VO> side, TableValueGetterSupplier<KO, VO> foreign)
      : side_(std::move(side)), foreign_(std::move(foreign)) {}

  absl::Status Init(ProcessorContext<K, SubscriptionResponse>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<KO, Subscription, K, SubscriptionResponse>::Init(context)));
    RUNNEL_RETURN_IF_ERROR(side_.Init(context));
    auto getter = foreign_.make(context);
    if (!getter.ok()) return getter.status();
    get_foreign_ = *std::move(getter);
    return absl::OkStatus();
  }

  absl::Status Process(Record<KO, Subscription> r) override {
    using I = SubscriptionInstruction;
    const Subscription& s = r.value;
    // A null foreign key has no subscribers and no row: it is only answered.
    const bool null_fk = side_.foreign_key_serde().IsNull(r.key);
    if (!null_fk) {
      auto fk = SerializeOrError(side_.foreign_key_serde(), r.key, "foreign key");
      if (!fk.ok()) return fk.status();
      const std::string store_key = SubscriptionStoreKey(*fk, s.primary_key);
      if (s.instruction == I::kDeleteNoPropagate || s.instruction == I::kDeleteAndPropagate) {
        RUNNEL_RETURN_IF_ERROR(side_.store().Put(store_key, std::nullopt));
      } else {
        std::string hash;
        serdes::AppendBigEndian64(s.hash.value_or(0), hash);
        RUNNEL_RETURN_IF_ERROR(side_.store().Put(store_key, hash));
      }
    }
    if (s.instruction == I::kDeleteNoPropagate) return absl::OkStatus();
    if (s.instruction == I::kDeleteAndPropagate) {
      return side_.Respond(s.primary_key, s.hash, std::nullopt, r.timestamp);
    }
    std::optional<VO> foreign;
    if (!null_fk) {
      auto row = get_foreign_(r.key);
      if (!row.ok()) return row.status();
      foreign = *std::move(row);
    }
    if (!foreign && s.instruction == I::kPropagateOnlyIfForeignValue) return absl::OkStatus();
    return side_.Respond(s.primary_key, s.hash, foreign, r.timestamp);
  }

 private:
  ForeignSide<K, KO, VO> side_;
  TableValueGetterSupplier<KO, VO> foreign_;
  ValueGetter<KO, VO> get_foreign_;
};

// Foreign side: a change of a foreign row answers every left row subscribed
// to it.
template <typename K, typename KO, typename VO>
class ForeignUpdateProcessor final : public Processor<KO, Change<VO>, K, SubscriptionResponse> {
 public:
  explicit ForeignUpdateProcessor(ForeignSide<K, KO, VO> side) : side_(std::move(side)) {}

  absl::Status Init(ProcessorContext<K, SubscriptionResponse>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<KO, Change<VO>, K, SubscriptionResponse>::Init(context)));
    return side_.Init(context);
  }

  absl::Status Process(Record<KO, Change<VO>> r) override {
    auto fk = SerializeOrError(side_.foreign_key_serde(), r.key, "foreign key");
    if (!fk.ok()) return fk.status();
    const std::string prefix = SubscriptionStoreKey(*fk, "");
    // [prefix, successor of prefix]: every key that starts with it, and at
    // most the successor itself, skipped below. The length prefix is never
    // all 0xff, so a successor exists.
    std::string end = prefix;
    while (static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    auto it = side_.store().Range(prefix, end);
    if (!it.ok()) return it.status();
    // Collected first: answering must not interleave with the iteration.
    std::vector<std::pair<std::string, std::optional<uint64_t>>> subscribers;
    for (; (*it)->Valid(); (*it)->Next()) {
      if (!(*it)->key().starts_with(prefix)) continue;
      if ((*it)->value().size() != 8) return absl::DataLossError("subscription store: malformed hash");
      subscribers.emplace_back(std::string((*it)->key().substr(prefix.size())),
                               serdes::ReadBigEndian64((*it)->value().data()));
    }
    RUNNEL_RETURN_IF_ERROR((*it)->status());
    for (const auto& [pk, hash] : subscribers) {
      RUNNEL_RETURN_IF_ERROR(side_.Respond(pk, hash, r.value.new_value, r.timestamp));
    }
    return absl::OkStatus();
  }

 private:
  ForeignSide<K, KO, VO> side_;
};

// Left side: joins a response with the left row if the response was
// computed for the row as it is now (same hash), else drops it as stale.
// Emits the result row (none: no row) for the result table's source.
template <typename K, typename V, typename VO, typename VR, typename Joiner, bool kLeft>
class ResponseJoinProcessor final : public Processor<K, SubscriptionResponse, K, std::optional<VR>> {
 public:
  ResponseJoinProcessor(TableValueGetterSupplier<K, V> left, SerdePtr<VO> foreign_serde, Joiner joiner)
      : left_(std::move(left)), foreign_serde_(std::move(foreign_serde)), joiner_(std::move(joiner)) {}

  absl::Status Init(ProcessorContext<K, std::optional<VR>>& context) override {
    RUNNEL_RETURN_IF_ERROR((Processor<K, SubscriptionResponse, K, std::optional<VR>>::Init(context)));
    auto getter = left_.make(context);
    if (!getter.ok()) return getter.status();
    get_left_ = *std::move(getter);
    return absl::OkStatus();
  }

  absl::Status Process(Record<K, SubscriptionResponse> r) override {
    auto current = get_left_(r.key);
    if (!current.ok()) return current.status();
    std::optional<uint64_t> hash;
    if (*current) {
      auto bytes = SerializeOrError(*left_.value_serde, **current, "left value");
      if (!bytes.ok()) return bytes.status();
      hash = ValueHash(*bytes);
    }
    if (hash != r.value.hash) return absl::OkStatus();
    std::optional<VO> foreign;
    if (r.value.foreign_value) {
      auto v = foreign_serde_->Deserialize(std::string_view(*r.value.foreign_value));
      if (!v.ok()) return v.status();
      foreign = *std::move(v);
    }
    std::optional<VR> result;
    if (*current && (foreign || kLeft)) {
      if constexpr (kLeft) {
        result = static_cast<VR>(joiner_(**current, foreign));
      } else {
        result = static_cast<VR>(joiner_(**current, *foreign));
      }
    }
    return this->context().Forward(Record<K, std::optional<VR>>{std::move(r.key), std::move(result), r.timestamp, {}});
  }

 private:
  TableValueGetterSupplier<K, V> left_;
  SerdePtr<VO> foreign_serde_;
  Joiner joiner_;
  ValueGetter<K, V> get_left_;
};


// Adds a foreign-key join of the table at node `this_table` (rows read
// through `left`) with the table at `other_table` (through `foreign`)
// (KTable::Join / LeftJoin with an extractor) to `builder` and returns the
// result table, always materialized. Called on the building thread.
template <bool kLeft, typename K, typename V, typename KO, typename VO, typename VR, typename Extractor,
          typename Joiner>
TableNode<K, VR> AddForeignKeyJoin(StreamsBuilder& builder, const std::string& this_table,
                                   const TableValueGetterSupplier<K, V>& left, const std::string& other_table,
                                   const TableValueGetterSupplier<KO, VO>& foreign, Extractor extractor,
                                   Joiner joiner, Materialized<K, VR> materialized,
                                   const std::optional<Named>& named) {
  const std::string base = named ? named->name : builder.NewName("KTABLE-FK-JOIN-");
  const std::string store = materialized.store_name.empty()
                                ? builder.NewName("KTABLE-FK-JOIN-OUTPUT-STATE-STORE-")
                                : materialized.store_name;
  auto require_serdes = [&](const std::string& table, bool valid, bool has_value_serde) {
    if (!valid || !has_value_serde) {
      builder.Fail(absl::InvalidArgumentError(absl::StrCat(
          "foreign-key join '", base, "': the value serde of table '", table,
          "' is unknown (a MapValues table or an unmaterialized join); join the table it derives from, or ",
          "materialize it")));
    }
  };
  require_serdes(this_table, left.valid(), left.value_serde != nullptr);
  require_serdes(other_table, foreign.valid(), foreign.value_serde != nullptr);

  const std::string registration = base + "-subscription-registration-topic";
  const std::string response = base + "-subscription-response-topic";
  const std::string subscriptions = base + "-subscription-store";
  auto subscription_serde = std::make_shared<SubscriptionSerde>();
  auto response_serde = std::make_shared<SubscriptionResponseSerde>();
  auto& tb = builder.topology_builder();

  // This table's side: subscribe.
  ProcessorSupplier<K, Change<V>, KO, Subscription> send = [base, left, foreign, extractor]()
      -> std::unique_ptr<Processor<K, Change<V>, KO, Subscription>> {
    return std::make_unique<SubscriptionSendProcessor<K, V, KO, Extractor, kLeft>>(
        base, left.key_serde, left.value_serde, foreign.key_serde, extractor);
  };
  tb.template AddProcessor<K, Change<V>, KO, Subscription>(base + "-subscription-send", std::move(send), {this_table});
  tb.template AddSink<KO, Subscription>(registration + "-sink", registration, foreign.key_serde, subscription_serde,
                                        {base + "-subscription-send"});
  tb.AddInternalTopic(registration);
  tb.template AddSource<KO, Subscription>(registration + "-source", {registration}, foreign.key_serde,
                                          subscription_serde);

  // The foreign side: keep subscriptions, answer them and every update.
  ForeignSide<K, KO, VO> side(subscriptions, left.key_serde, foreign.key_serde, foreign.value_serde);
  ProcessorSupplier<KO, Subscription, K, SubscriptionResponse> receive =
      [side, foreign]() -> std::unique_ptr<Processor<KO, Subscription, K, SubscriptionResponse>> {
    return std::make_unique<SubscriptionReceiveProcessor<K, KO, VO>>(side, foreign);
  };
  ProcessorSupplier<KO, Change<VO>, K, SubscriptionResponse> update =
      [side]() -> std::unique_ptr<Processor<KO, Change<VO>, K, SubscriptionResponse>> {
    return std::make_unique<ForeignUpdateProcessor<K, KO, VO>>(side);
  };
  tb.template AddProcessor<KO, Subscription, K, SubscriptionResponse>(base + "-subscription-receive",
                                                                      std::move(receive), {registration + "-source"});
  tb.template AddProcessor<KO, Change<VO>, K, SubscriptionResponse>(base + "-foreign-update", std::move(update),
                                                                    {other_table});
  tb.ConnectProcessorAndStateStores(base + "-subscription-receive", foreign.stores);
  tb.AddStateStore(StoreSpec{.name = subscriptions, .caching = false, .layout = StoreSpec::Layout::kInternal},
                   {base + "-subscription-receive", base + "-foreign-update"});
  tb.template AddSink<K, SubscriptionResponse>(response + "-sink", response, left.key_serde, response_serde,
                                               {base + "-subscription-receive", base + "-foreign-update"});
  tb.AddInternalTopic(response);
  tb.template AddSource<K, SubscriptionResponse>(response + "-source", {response}, left.key_serde, response_serde);

  // Back on this table's side: join current answers into the result table.
  ProcessorSupplier<K, SubscriptionResponse, K, std::optional<VR>> join =
      [left, foreign, joiner]() -> std::unique_ptr<Processor<K, SubscriptionResponse, K, std::optional<VR>>> {
    return std::make_unique<ResponseJoinProcessor<K, V, VO, VR, Joiner, kLeft>>(
        left, foreign.value_serde, joiner);
  };
  tb.template AddProcessor<K, SubscriptionResponse, K, std::optional<VR>>(base + "-subscription-response-join",
                                                                         std::move(join), {response + "-source"});
  tb.ConnectProcessorAndStateStores(base + "-subscription-response-join", left.stores);
  auto key_serde = materialized.key_serde;
  auto value_serde = materialized.value_serde;
  ProcessorSupplier<K, std::optional<VR>, K, Change<VR>> result =
      [store, key_serde, value_serde]() -> std::unique_ptr<Processor<K, std::optional<VR>, K, Change<VR>>> {
    return std::make_unique<TableSourceProcessor<K, VR>>(store, key_serde, value_serde);
  };
  tb.template AddProcessor<K, std::optional<VR>, K, Change<VR>>(base, std::move(result),
                                                                {base + "-subscription-response-join"});
  tb.AddStateStore(materialized.Spec(store), {base});
  return TableNode<K, VR>{base, store, StoreValueGetter<K, VR>(store, key_serde, value_serde)};
}

}  // namespace runnel::dsl::internal

#endif  // RUNNEL_DSL_INTERNAL_FK_JOIN_H_
