#ifndef RUNNEL_PROCESSOR_NODE_H_
#define RUNNEL_PROCESSOR_NODE_H_

// The per-task processor graph: typed nodes wired child by child.
//
// The topology holds node *factories*; each stream task calls them to get its
// own node instances, wires them (AddChild checks that the child's input type
// is the parent's output type, once, so the hot path is a static call) and
// inits them with the task's NodeEnv.
//
// Ownership: a task owns its nodes (ProcessorGraph). Threading: one stream
// thread drives a graph. Lifecycle: constructed -> wired -> Init -> Process...
// -> Close.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/headers.h"
#include "runnel/common/logging.h"
#include "runnel/common/strings.h"
#include "runnel/processor/processing_error.h"
#include "runnel/processor/processor.h"
#include "runnel/processor/record.h"
#include "runnel/processor/record_sink.h"
#include "runnel/serde/serde.h"

namespace runnel {

// A record as consumed, before deserialization. Views point into the
// consumer's buffer and live while the record is processed.
struct RawRecord {
  std::string_view topic;
  Partition partition;
  Offset offset;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  Timestamp timestamp;
  Headers headers;
};

// What a source does with a record whose key or value cannot be
// deserialized. Returns OK to skip the record and go on, or an error to stop
// the task. Implementations count every record they handle.
class DeserializationErrorHandler {
 public:
  virtual ~DeserializationErrorHandler() = default;
  // `part` is "key" or "value".
  virtual absl::Status Handle(const RawRecord& record, std::string_view part,
                              const absl::Status& error, std::string_view node) = 0;
};

// What a task does with a processing error (processing_error.h) of node
// `node`: `record` is the input record being processed, null when a
// punctuator failed. Returns OK to skip the record (its offset counts as
// processed; what the record sent before failing stays sent) or an error to
// stop the task. Implementations count every error they handle.
class ProcessingErrorHandler {
 public:
  virtual ~ProcessingErrorHandler() = default;
  virtual absl::Status Handle(const RawRecord* record, const absl::Status& error, std::string_view node) = 0;
};

namespace processor::internal {

// Services a task gives its nodes. Pointers outlive the graph.
struct NodeEnv {
  TaskContext* task = nullptr;
  RecordSink* sink = nullptr;
  DeserializationErrorHandler* deserialization_handler = nullptr;
};

class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  virtual ~Node() = default;
  const std::string& name() const { return name_; }

  // Connects `child` downstream. InvalidArgument (naming both nodes) when
  // this node has no output or the child takes another record type.
  virtual absl::Status AddChild(Node* child) {
    return absl::InvalidArgumentError(
        absl::StrCat("node '", name_, "' has no output, cannot connect '", child->name(), "'"));
  }
  virtual absl::Status Init(NodeEnv& env) {
    env_ = &env;
    return absl::OkStatus();
  }
  virtual void Close() {}

 protected:
  NodeEnv& env() { return *env_; }
  const NodeEnv& env() const { return *env_; }

 private:
  std::string name_;
  NodeEnv* env_ = nullptr;
};

// A node that takes Record<K, V>.
template <typename K, typename V>
class InputNode : public Node {
 public:
  using Node::Node;
  virtual absl::Status Process(Record<K, V> record) = 0;
};

// The output side of a node that emits Record<K, V>.
template <typename K, typename V>
class Emitter {
 public:
  absl::Status Connect(const Node& self, Node* child) {
    auto* typed = dynamic_cast<InputNode<K, V>*>(child);
    if (typed == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", child->name(), "' cannot follow '", self.name(),
                       "': it takes another key/value type than '", self.name(), "' emits"));
    }
    children_.push_back(typed);
    return absl::OkStatus();
  }

  absl::Status Emit(Record<K, V> record) {
    const size_t n = children_.size();
    if (n == 0) return absl::OkStatus();
    for (size_t i = 0; i + 1 < n; ++i) {
      absl::Status s = children_[i]->Process(record);
      if (!s.ok()) return s;
    }
    return children_[n - 1]->Process(std::move(record));
  }

  absl::Status EmitTo(Record<K, V> record, std::string_view child_name) {
    for (auto* child : children_) {
      if (child->name() == child_name) return child->Process(std::move(record));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("forward to unknown child '", ToAbsl(child_name), "'"));
  }

 private:
  std::vector<InputNode<K, V>*> children_;
};

// Runs a user Processor and is its ProcessorContext.
template <typename KIn, typename VIn, typename KOut, typename VOut>
class ProcessorNode final : public InputNode<KIn, VIn>, public ProcessorContext<KOut, VOut> {
 public:
  ProcessorNode(std::string name, std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor)
      : InputNode<KIn, VIn>(std::move(name)), processor_(std::move(processor)) {}

  absl::Status AddChild(Node* child) override { return out_.Connect(*this, child); }
  // The exception boundary (processing_error.h): what the processor
  // throws becomes a Status here; it never unwinds into the task.
  absl::Status Init(processor::internal::NodeEnv& env) override {
    absl::Status s = Node::Init(env);
    if (!s.ok()) return s;
    try {
      return processor_->Init(*this);
    } catch (...) {
      return absl::InternalError(absl::StrCat("init of node '", this->name(),
                                              "' threw: ", processor::internal::DescribeCurrentException()));
    }
  }
  void Close() override {
    try {
      processor_->Close();
    } catch (...) {
      Logger("runnel")->error("close of node '{}' threw (ignored): {}", this->name(),
                              processor::internal::DescribeCurrentException());
    }
  }
  absl::Status Process(Record<KIn, VIn> record) override {
    absl::Status s;
    try {
      s = processor_->Process(std::move(record));
    } catch (...) {
      return processor::internal::CurrentExceptionAsProcessingError(this->name());
    }
    if (!s.ok()) [[unlikely]] return processor::internal::AttributeProcessingError(std::move(s), this->name());
    return s;
  }

  // ProcessorContext
  absl::Status Forward(Record<KOut, VOut> record) override { return out_.Emit(std::move(record)); }
  absl::Status Forward(Record<KOut, VOut> record, std::string_view child) override {
    return out_.EmitTo(std::move(record), child);
  }
  std::string_view application_id() const override { return task().application_id(); }
  TaskId task_id() const override { return task().task_id(); }
  const RecordMetadata* record_metadata() const override { return task().record_metadata(); }
  Timestamp stream_time() const override { return task().stream_time(); }
  const Clock& clock() const override { return task().clock(); }
  void RequestCommit() override { task().RequestCommit(); }
  bool OnSentRecordsAcknowledged(std::function<absl::Status()> listener) override {
    return task().OnSentRecordsAcknowledged(std::move(listener));
  }
  MetricsRegistry& metrics() override { return task().metrics(); }
  KeyValueStore* GetKeyValueStore(std::string_view name) override {
    return task().GetKeyValueStore(name);
  }
  // The punctuator runs behind the same exception boundary as Process.
  Cancellable Schedule(absl::Duration interval, PunctuationType type, Punctuator punctuator) override {
    return task().Schedule(
        interval, type, [punctuator = std::move(punctuator), node = this->name()](Timestamp time) -> absl::Status {
          try {
            return processor::internal::AttributeProcessingError(punctuator(time), node);
          } catch (...) {
            return processor::internal::CurrentExceptionAsProcessingError(node);
          }
        });
  }

 private:
  // The task outlives its nodes; the env's pointer is not const.
  TaskContext& task() const { return *this->env().task; }
  std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor_;
  Emitter<KOut, VOut> out_;
};

// Type-erased entry point of a sub-topology: deserializes raw records.
class SourceNodeBase : public Node {
 public:
  using Node::Node;
  virtual absl::Status ProcessRaw(const RawRecord& record) = 0;
};

template <typename K, typename V>
class SourceNode final : public SourceNodeBase {
 public:
  SourceNode(std::string name, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : SourceNodeBase(std::move(name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  absl::Status AddChild(Node* child) override { return out_.Connect(*this, child); }

  // A serde that throws fails like one that returns an error.
  absl::Status ProcessRaw(const RawRecord& raw) override {
    auto key = Deserialize(*key_serde_, raw.key);
    if (!key.ok()) return env().deserialization_handler->Handle(raw, "key", key.status(), name());
    auto value = Deserialize(*value_serde_, raw.value);
    if (!value.ok()) {
      return env().deserialization_handler->Handle(raw, "value", value.status(), name());
    }
    return out_.Emit(Record<K, V>{*std::move(key), *std::move(value), raw.timestamp, raw.headers});
  }

 private:
  template <typename T>
  static absl::StatusOr<T> Deserialize(const Serde<T>& serde, std::optional<std::string_view> bytes) {
    try {
      return serde.Deserialize(bytes);
    } catch (...) {
      return absl::InvalidArgumentError(absl::StrCat("the serde threw: ", processor::internal::DescribeCurrentException()));
    }
  }

  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  Emitter<K, V> out_;
};

// Chooses an output partition from the record; std::nullopt = default
// (murmur2 of the serialized key). `num_partitions` is the sink topic's.
template <typename K, typename V>
using StreamPartitioner =
    std::function<std::optional<Partition>(const K& key, const V& value, int32_t num_partitions)>;

template <typename K, typename V>
class SinkNode final : public InputNode<K, V> {
 public:
  SinkNode(std::string name, std::string topic, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
           StreamPartitioner<K, V> partitioner)
      : InputNode<K, V>(std::move(name)),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        partitioner_(std::move(partitioner)) {}

  absl::Status Process(Record<K, V> record) override {
    SerializedRecord out{.topic = topic_, .timestamp = record.timestamp, .headers = &record.headers};
    if (!key_serde_->IsNull(record.key)) {
      absl::Status s = Serialize(*key_serde_, record.key, key_buffer_);
      if (!s.ok()) return SerializeError("key", s);
      out.key = key_buffer_;
      const std::string_view partition_bytes = key_serde_->PartitionBytes(key_buffer_);
      if (partition_bytes.size() != key_buffer_.size()) out.partition_key = partition_bytes;
    }
    if (!value_serde_->IsNull(record.value)) {
      absl::Status s = Serialize(*value_serde_, record.value, value_buffer_);
      if (!s.ok()) return SerializeError("value", s);
      out.value = value_buffer_;
    }
    if (partitioner_) {
      if (!partition_count_) {
        auto count = this->env().sink->PartitionCount(topic_);
        if (!count.ok()) return count.status();
        partition_count_ = *count;
      }
      out.partition = partitioner_(record.key, record.value, *partition_count_);
    }
    return this->env().sink->Send(out);
  }

 private:
  // A record the sink cannot serialize is a processing error of the sink
  // (the handler may skip it); a serde that throws fails the same way.
  absl::Status SerializeError(std::string_view part, const absl::Status& s) {
    absl::Status error = ProcessingError(absl::StrCat("sink '", this->name(), "' cannot serialize ",
                                                      ToAbsl(part), " for topic '", topic_, "': ",
                                                      s.message()));
    return processor::internal::AttributeProcessingError(std::move(error), this->name());
  }
  template <typename T>
  static absl::Status Serialize(const Serde<T>& serde, const T& value, std::string& out) {
    try {
      return serde.Serialize(value, out);
    } catch (...) {
      return absl::InvalidArgumentError(absl::StrCat("the serde threw: ", processor::internal::DescribeCurrentException()));
    }
  }

  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  StreamPartitioner<K, V> partitioner_;
  std::optional<int32_t> partition_count_;
  // Reused across records: serialization allocates only when a record is
  // larger than every one before it.
  std::string key_buffer_;
  std::string value_buffer_;
};

}  // namespace processor::internal
}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_NODE_H_
