#ifndef RUNNEL_TOPOLOGY_TOPOLOGY_H_
#define RUNNEL_TOPOLOGY_TOPOLOGY_H_

// Topology: the processor graph of an application, compiled into
// sub-topologies (connected components) and run as tasks
// TaskId{subtopology, partition}.
//
// TopologyBuilder collects typed sources, processors and sinks by name;
// Build() checks the graph (duplicate names, missing parents, cycles,
// nothing to read) and fails with a message that names the node. A Topology
// is immutable and shared by all stream threads; CreateTaskGraph() gives a
// task its own node instances.
//
// Global stores (AddGlobalStore, behind GlobalKTable) are kept apart: their
// source and updating processor form a sub-topology of their own that
// generates no tasks (the runtime's global thread runs it on every instance
// over all partitions of the topic), their topic is not among
// SourceTopics(), and any processor may read the store by name without
// being connected to it (which would otherwise merge sub-topologies).

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/processor/node.h"
#include "runnel/processor/processor.h"
#include "runnel/serde/text_codec.h"
#include "runnel/serde/serde.h"

namespace runnel {

// Makes one Processor per task.
template <typename KIn, typename VIn, typename KOut, typename VOut>
using ProcessorSupplier = std::function<std::unique_ptr<Processor<KIn, VIn, KOut, VOut>>()>;

// One task's node instances, wired and ready to Init.
class ProcessorGraph {
 public:
  ProcessorGraph() = default;
  ProcessorGraph(const ProcessorGraph&) = delete;
  ProcessorGraph& operator=(const ProcessorGraph&) = delete;

  // Inits every node (children before parents). Fails on the first error.
  absl::Status Init(processor::internal::NodeEnv& env);
  void Close();
  // The source reading `topic`, or nullptr.
  processor::internal::SourceNodeBase* SourceFor(std::string_view topic) const;

 private:
  friend class Topology;
  // In topological order (parents before children).
  std::vector<std::unique_ptr<processor::internal::Node>> nodes_;
  std::map<std::string, processor::internal::SourceNodeBase*, std::less<>> sources_;
};

// A state store the topology declares. Stores hold bytes; the processors
// that use them bring the serdes (TypedKeyValueStore).
struct StoreSpec {
  std::string name;
  enum class Kind { kRocksDb, kInMemory };
  Kind kind = Kind::kRocksDb;
  // Every write also goes to <application.id>-<name>-changelog (compacted),
  // from which the store is restored.
  bool logging = true;
  // Updates are merged in the task's record cache between commits.
  bool caching = true;
  // Window and session stores: how long their entries live. Their changelog
  // is then "compact,delete" with retention.ms = this + 1 day (Kafka
  // Streams' windowstore.changelog.additional.retention.ms), so the broker
  // expires what the store's segments drop.
  std::optional<int64_t> retention_ms;

  // For interactive queries: how entries are laid out, and the serdes'
  // text forms (null: bytes only).
  enum class Layout {
    kKeyValue,  // key -> value
    kWindow,    // a window store (state/window_store.h) of windows of window_size_ms
    kSession,   // a session store
    kInternal,  // an operator's private layout (joins' buffers, count windows): not queryable
  };
  Layout layout = Layout::kKeyValue;
  int64_t window_size_ms = 0;
  std::shared_ptr<const StoreTextCodec> text;
};

// A global store's sub-topology: `source` reads every partition of `topic`
// and `processor` writes `store`. Numbered after the regular sub-topologies
// (which keep ids 0..n-1, the task ids' first half).
struct GlobalStoreTopology {
  int32_t id = 0;
  std::string store;
  std::string topic;
  std::string source;
  std::string processor;
};

struct Subtopology {
  int32_t id = 0;
  // Nodes in topological order.
  std::vector<std::string> nodes;
  std::set<std::string> source_topics;
  std::set<std::string> sink_topics;
  // Names of the stores its processors use, sorted.
  std::set<std::string> stores;
};

class Topology {
 public:
  const std::vector<Subtopology>& subtopologies() const { return subtopologies_; }
  // Every topic the sources of the sub-topologies read (global stores'
  // topics are not among them).
  std::set<std::string> SourceTopics() const;
  std::set<std::string> SinkTopics() const;
  // Every store, global ones included (never logged nor cached).
  const std::map<std::string, StoreSpec>& stores() const { return stores_; }
  const std::vector<GlobalStoreTopology>& global_stores() const { return global_stores_; }
  bool IsGlobalStore(std::string_view store) const;
  // Topics this topology creates and owns (repartition topics), by name.
  const std::set<std::string>& internal_topics() const { return internal_topics_; }
  // This topology with its internal topics named for `application_id`
  // (<application.id>-<topic>). KafkaStreams and the test driver run the
  // resolved copy. Resolving twice is an error.
  absl::StatusOr<std::shared_ptr<const Topology>> Resolve(std::string_view application_id) const;
  // The sub-topology reading `topic`, or -1.
  int32_t SubtopologyForTopic(std::string_view topic) const;
  // A sub-topology with stores (aggregations, joins) runs task p over
  // partition p of every source topic, so those topics must have the same
  // number of partitions. `partitions` gives each source topic's count (as
  // resolved: internal topics with their application prefix); a topic it
  // lacks is not checked. InvalidArgument names the sub-topology, its
  // topics and their counts.
  absl::Status CheckCoPartitioned(const std::map<std::string, int32_t>& partitions) const;
  // Adds to `partitions` (the user source topics' counts) the count of each
  // internal topic, as Kafka Streams sizes repartition topics: the most
  // among its writer's source topics; but the most among the user topics
  // its reader also reads, when it reads some (a join after a repartition,
  // a foreign-key join's topics); and for a stateful
  // reader of internal topics only (a join of two re-keyed streams) the
  // most among them, for all of them. Internal when a topic cannot be sized.
  absl::Status SizeInternalTopics(std::map<std::string, int32_t>* partitions) const;

  absl::StatusOr<std::unique_ptr<ProcessorGraph>> CreateTaskGraph(int32_t subtopology) const;
  // The node instances of global_stores()[index] (its source and processor).
  absl::StatusOr<std::unique_ptr<ProcessorGraph>> CreateGlobalGraph(size_t index) const;

  // Text like Kafka Streams' TopologyDescription, and the same as JSON.
  std::string Describe() const;
  std::string DescribeJson() const;

 private:
  friend class TopologyBuilder;
  enum class Kind { kSource, kProcessor, kSink };
  struct NodeDef {
    std::string name;
    Kind kind;
    std::vector<std::string> parents;
    std::vector<std::string> children;
    std::vector<std::string> topics;  // source: read; sink: one written
    // Makes the node; gets `topics` (as resolved for the application).
    std::function<std::unique_ptr<processor::internal::Node>(const std::vector<std::string>& topics)> factory;
    std::vector<std::string> stores;  // processor: the stores it uses
  };
  absl::StatusOr<std::unique_ptr<ProcessorGraph>> CreateGraph(const std::vector<std::string>& names) const;
  void DescribeNodes(const std::vector<std::string>& names, std::string& out) const;
  std::string DescribeNodesJson(const std::vector<std::string>& names) const;

  std::vector<NodeDef> nodes_;  // in insertion order
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<Subtopology> subtopologies_;
  std::vector<GlobalStoreTopology> global_stores_;
  std::map<std::string, StoreSpec> stores_;
  std::set<std::string> internal_topics_;
  bool resolved_ = false;
};

class TopologyBuilder {
 public:
  template <typename K, typename V>
  TopologyBuilder& AddSource(std::string name, std::vector<std::string> topics, SerdePtr<K> key_serde,
                             SerdePtr<V> value_serde) {
    auto factory = [name, key_serde, value_serde](const std::vector<std::string>&) -> std::unique_ptr<processor::internal::Node> {
      return std::make_unique<processor::internal::SourceNode<K, V>>(name, key_serde, value_serde);
    };
    return Add({std::move(name), Topology::Kind::kSource, {}, {}, std::move(topics), factory});
  }

  template <typename KIn, typename VIn, typename KOut, typename VOut>
  TopologyBuilder& AddProcessor(std::string name,
                                ProcessorSupplier<KIn, VIn, KOut, VOut> supplier,
                                std::vector<std::string> parents) {
    auto factory = [name, supplier](const std::vector<std::string>&) -> std::unique_ptr<processor::internal::Node> {
      return std::make_unique<processor::internal::ProcessorNode<KIn, VIn, KOut, VOut>>(name, supplier());
    };
    return Add({std::move(name), Topology::Kind::kProcessor, std::move(parents), {}, {}, factory});
  }

  template <typename K, typename V>
  TopologyBuilder& AddSink(std::string name, std::string topic, SerdePtr<K> key_serde,
                           SerdePtr<V> value_serde, std::vector<std::string> parents,
                           processor::internal::StreamPartitioner<K, V> partitioner = nullptr) {
    auto factory = [name, key_serde, value_serde,
                    partitioner](const std::vector<std::string>& topics) -> std::unique_ptr<processor::internal::Node> {
      return std::make_unique<processor::internal::SinkNode<K, V>>(name, topics.at(0), key_serde, value_serde,
                                                        partitioner);
    };
    return Add({std::move(name), Topology::Kind::kSink, std::move(parents), {}, {std::move(topic)},
                factory});
  }

  // Marks `topic` (read by a source and written by a sink of this topology)
  // as internal: Runnel creates it, and Topology::Resolve names it
  // <application.id>-<topic>.
  TopologyBuilder& AddInternalTopic(std::string topic) {
    internal_topics_.insert(std::move(topic));
    return *this;
  }

  // Declares a store and connects it to processors already added or added
  // later (checked at Build). Processors sharing a store land in one
  // sub-topology.
  TopologyBuilder& AddStateStore(StoreSpec spec, std::vector<std::string> processors);
  // Gives `processor` access to stores declared (before or after) by
  // AddStateStore, e.g. a join reading the table it joins against; checked
  // at Build. The processor joins the stores' sub-topology.
  TopologyBuilder& ConnectProcessorAndStateStores(std::string processor, std::vector<std::string> stores);

  // Kafka Streams' addGlobalStore: a source `source_name` reading every
  // partition of `topic` feeds processor `processor_name`, which keeps the
  // store `spec` (forced unlogged, since the topic is its changelog, and
  // uncached, so that readers see every update at once). Nothing may follow
  // the source or the processor: a global store's updates produce no output.
  template <typename K, typename V, typename KOut, typename VOut>
  TopologyBuilder& AddGlobalStore(StoreSpec spec, std::string source_name, std::string topic, SerdePtr<K> key_serde,
                                  SerdePtr<V> value_serde, std::string processor_name,
                                  ProcessorSupplier<K, V, KOut, VOut> supplier) {
    spec.logging = false;
    spec.caching = false;
    global_sources_.insert(source_name);
    AddSource<K, V>(source_name, {std::move(topic)}, std::move(key_serde), std::move(value_serde));
    AddProcessor<K, V, KOut, VOut>(processor_name, std::move(supplier), {source_name});
    return AddStateStore(std::move(spec), {std::move(processor_name)});
  }

  // Checks the graph and compiles it. The builder is spent afterwards.
  absl::StatusOr<std::shared_ptr<const Topology>> Build();

 private:
  TopologyBuilder& Add(Topology::NodeDef def);
  std::vector<Topology::NodeDef> nodes_;
  std::vector<std::pair<StoreSpec, std::vector<std::string>>> stores_;
  std::vector<std::pair<std::string, std::vector<std::string>>> store_connections_;
  std::set<std::string> internal_topics_;
  std::set<std::string> global_sources_;
};

}  // namespace runnel

#endif  // RUNNEL_TOPOLOGY_TOPOLOGY_H_
