#ifndef RUNNEL_TESTING_TOPOLOGY_TEST_DRIVER_H_
#define RUNNEL_TESTING_TOPOLOGY_TEST_DRIVER_H_

// TopologyTestDriver: runs a Topology without a broker, deterministically,
// like Kafka Streams' TopologyTestDriver.
//
//   auto driver = *TopologyTestDriver::Create(*builder.Build());
//   auto in = driver->CreateInputTopic("words", serdes::String(), serdes::String());
//   auto out = driver->CreateOutputTopic("counts", serdes::String(), serdes::Int64());
//   in.PipeInput("a", "x", Timestamp(1000));
//   EXPECT_EQ(out.ReadKeyValue()->value, 1);
//
// Every topic has one partition, so each sub-topology runs as one task
// (TaskId{sub, 0}), the runtime's own StreamTask (the same processing, error
// handling, punctuation and stores as in production); a record sent to a topic that a source reads is piped
// back in (repartition topics work). After each piped record the tasks
// commit: caches flush, so every update reaches the output, as in Kafka
// Streams' driver. Stores are real (RocksDB under a temporary state.dir
// removed on destruction, or in-memory); changelog records are captured as
// output of <application.id>-<store>-changelog. Wall-clock time is a
// ManualClock moved by AdvanceWallClockTime.
//
// Global stores (GlobalKTable): a record piped (or sent by a sink) to a
// global store's topic updates the store at once, before the next record,
// and produces no output; every task reads the store.
//
// Threading: one thread. Ownership: the driver owns tasks, stores and
// captured output.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/clock.h"
#include "runnel/common/headers.h"
#include "runnel/common/metrics.h"
#include "runnel/common/strings.h"
#include "runnel/common/types.h"
#include "runnel/processor/typed_store.h"
#include "runnel/state/record_cache.h"
#include "runnel/serde/serde.h"
#include "runnel/topology/topology.h"

namespace runnel {

class DeserializationErrorHandler;
class GlobalStores;
class ProcessingErrorHandler;
class StreamTask;
class TopologyTestDriver;

struct TestRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  Timestamp timestamp;
  Headers headers;
};

template <typename K, typename V>
struct TestKeyValue {
  K key;
  V value;
  Timestamp timestamp;
  bool operator==(const TestKeyValue&) const = default;
};

template <typename K, typename V>
class TestInputTopic {
 public:
  TestInputTopic(TopologyTestDriver* driver, std::string topic, SerdePtr<K> k, SerdePtr<V> v)
      : driver_(driver), topic_(std::move(topic)), key_serde_(std::move(k)), value_serde_(std::move(v)) {}
  // Serializes and processes one record (and everything it causes).
  absl::Status PipeInput(const K& key, const V& value, Timestamp timestamp);

 private:
  TopologyTestDriver* driver_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

template <typename K, typename V>
class TestOutputTopic {
 public:
  TestOutputTopic(TopologyTestDriver* driver, std::string topic, SerdePtr<K> k, SerdePtr<V> v)
      : driver_(driver), topic_(std::move(topic)), key_serde_(std::move(k)), value_serde_(std::move(v)) {}
  bool IsEmpty() const;
  // The oldest unread record, consumed; NotFound when there is none.
  absl::StatusOr<TestKeyValue<K, V>> ReadKeyValue();
  // Every unread record, consumed.
  absl::StatusOr<std::vector<TestKeyValue<K, V>>> ReadKeyValuesToList();
  // The latest value per key of every unread record, consumed (a table).
  absl::StatusOr<std::map<K, V>> ReadKeyValuesToMap();

 private:
  TopologyTestDriver* driver_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

class TopologyTestDriver {
 public:
  // `config` takes application.id (default "test-app"), state.dir (default: a
  // fresh temporary directory), statestore.cache.max.bytes,
  // default.deserialization.exception.handler, processing.exception.handler
  // and errors.dead.letter.queue.topic.name (dead-lettered records are
  // output of that topic), validated as StreamsConfig validates them.
  static absl::StatusOr<std::unique_ptr<TopologyTestDriver>> Create(
      std::shared_ptr<const Topology> topology, const std::map<std::string, std::string>& config = {},
      absl::Time wall_clock_start = absl::UnixEpoch());
  ~TopologyTestDriver();

  template <typename K, typename V>
  TestInputTopic<K, V> CreateInputTopic(std::string topic, SerdePtr<K> k, SerdePtr<V> v) {
    return TestInputTopic<K, V>(this, std::move(topic), std::move(k), std::move(v));
  }
  template <typename K, typename V>
  TestOutputTopic<K, V> CreateOutputTopic(std::string topic, SerdePtr<K> k, SerdePtr<V> v) {
    return TestOutputTopic<K, V>(this, std::move(topic), std::move(k), std::move(v));
  }

  // Processes one serialized record read from `topic` (InvalidArgument if no
  // source reads it) and every record it leads to, then commits.
  absl::Status PipeRaw(std::string_view topic, TestRecord record);
  // Unread records written to `topic`, oldest first.
  std::deque<TestRecord>& Output(std::string_view topic);

  // Moves wall-clock time, runs the wall-clock punctuators that are due and
  // everything they cause, then commits.
  absl::Status AdvanceWallClockTime(absl::Duration d);
  const Clock& clock() const { return clock_; }
  // What the processors and handlers counted (e.g.
  // runnel_dropped_records_total{reason="late"}, runnel_processing_errors_total).
  const MetricsRegistry& metrics() const { return metrics_; }

  // A store of any task, or a global store (read-only), or nullptr. Read it
  // between pipes.
  KeyValueStore* GetKeyValueStore(std::string_view name) const;
  template <typename K, typename V>
  absl::StatusOr<TypedKeyValueStore<K, V>> GetKeyValueStore(std::string_view name, SerdePtr<K> k,
                                                              SerdePtr<V> v) const {
    KeyValueStore* store = GetKeyValueStore(name);
    if (store == nullptr) return absl::NotFoundError(absl::StrCat("no store '", ToAbsl(name), "'"));
    return TypedKeyValueStore<K, V>(store, std::move(k), std::move(v));
  }

 private:
  class Sink;
  TopologyTestDriver() = default;
  absl::Status Drain();

  std::shared_ptr<const Topology> topology_;
  std::string application_id_;
  std::string state_dir_;
  bool owns_state_dir_ = false;
  ManualClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<DeserializationErrorHandler> deserialization_handler_;
  std::unique_ptr<ProcessingErrorHandler> processing_handler_;
  std::unique_ptr<RecordCacheBudget> cache_budget_;
  std::unique_ptr<GlobalStores> global_;
  std::map<int32_t, std::unique_ptr<StreamTask>> tasks_;
  std::map<std::string, std::deque<TestRecord>, std::less<>> output_;
  // Records written to topics that sources read, waiting to be processed.
  std::deque<std::pair<std::string, TestRecord>> pending_;
  int64_t next_offset_ = 0;
};

template <typename K, typename V>
absl::Status TestInputTopic<K, V>::PipeInput(const K& key, const V& value, Timestamp timestamp) {
  TestRecord r{.timestamp = timestamp};
  if (!key_serde_->IsNull(key)) {
    r.key.emplace();
    if (absl::Status s = key_serde_->Serialize(key, *r.key); !s.ok()) return s;
  }
  if (!value_serde_->IsNull(value)) {
    r.value.emplace();
    if (absl::Status s = value_serde_->Serialize(value, *r.value); !s.ok()) return s;
  }
  return driver_->PipeRaw(topic_, std::move(r));
}

template <typename K, typename V>
bool TestOutputTopic<K, V>::IsEmpty() const {
  return driver_->Output(topic_).empty();
}

template <typename K, typename V>
absl::StatusOr<TestKeyValue<K, V>> TestOutputTopic<K, V>::ReadKeyValue() {
  auto& queue = driver_->Output(topic_);
  if (queue.empty()) return absl::NotFoundError(absl::StrCat("no unread record in '", topic_, "'"));
  TestRecord r = std::move(queue.front());
  queue.pop_front();
  auto k = key_serde_->Deserialize(r.key ? std::optional<std::string_view>(*r.key) : std::nullopt);
  if (!k.ok()) return k.status();
  auto v = value_serde_->Deserialize(r.value ? std::optional<std::string_view>(*r.value) : std::nullopt);
  if (!v.ok()) return v.status();
  return TestKeyValue<K, V>{*std::move(k), *std::move(v), r.timestamp};
}

template <typename K, typename V>
absl::StatusOr<std::vector<TestKeyValue<K, V>>> TestOutputTopic<K, V>::ReadKeyValuesToList() {
  std::vector<TestKeyValue<K, V>> out;
  while (!IsEmpty()) {
    auto kv = ReadKeyValue();
    if (!kv.ok()) return kv.status();
    out.push_back(*std::move(kv));
  }
  return out;
}

template <typename K, typename V>
absl::StatusOr<std::map<K, V>> TestOutputTopic<K, V>::ReadKeyValuesToMap() {
  auto list = ReadKeyValuesToList();
  if (!list.ok()) return list.status();
  std::map<K, V> out;
  for (auto& kv : *list) out.insert_or_assign(std::move(kv.key), std::move(kv.value));
  return out;
}

}  // namespace runnel

#endif  // RUNNEL_TESTING_TOPOLOGY_TEST_DRIVER_H_
