#include "runnel/topology/topology.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runnel/common/check.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& i : items) quoted.push_back(JsonString(i));
  return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
}

}  // namespace

absl::Status ProcessorGraph::Init(processor::internal::NodeEnv& env) {
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    absl::Status s = (*it)->Init(env);
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("init of node '", (*it)->name(), "': ", s.message()));
    }
  }
  return absl::OkStatus();
}

void ProcessorGraph::Close() {
  for (auto& node : nodes_) node->Close();
}

processor::internal::SourceNodeBase* ProcessorGraph::SourceFor(std::string_view topic) const {
  auto it = sources_.find(topic);
  return it == sources_.end() ? nullptr : it->second;
}

TopologyBuilder& TopologyBuilder::Add(Topology::NodeDef def) {
  nodes_.push_back(std::move(def));
  return *this;
}

TopologyBuilder& TopologyBuilder::AddStateStore(StoreSpec spec, std::vector<std::string> processors) {
  stores_.emplace_back(std::move(spec), std::move(processors));
  return *this;
}

TopologyBuilder& TopologyBuilder::ConnectProcessorAndStateStores(std::string processor,
                                                                std::vector<std::string> stores) {
  store_connections_.emplace_back(std::move(processor), std::move(stores));
  return *this;
}

absl::StatusOr<std::shared_ptr<const Topology>> TopologyBuilder::Build() {
  auto topology = std::make_shared<Topology>();
  auto& nodes = topology->nodes_;
  nodes = std::move(nodes_);
  nodes_.clear();
  auto store_links = std::move(stores_);
  stores_.clear();
  auto store_connections = std::move(store_connections_);
  store_connections_.clear();
  topology->internal_topics_ = std::move(internal_topics_);
  internal_topics_.clear();
  const std::set<std::string> global_sources = std::move(global_sources_);
  global_sources_.clear();
  if (nodes.empty()) return absl::InvalidArgumentError("topology is empty: add a source");

  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name.empty()) return absl::InvalidArgumentError("a node has an empty name");
    if (!topology->index_.emplace(nodes[i].name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate node name '", nodes[i].name, "'"));
    }
  }
  std::map<std::string, std::string> topic_reader;
  bool has_source = false;
  for (auto& node : nodes) {
    using Kind = Topology::Kind;
    if (node.kind == Kind::kSource) {
      has_source = true;
      if (node.topics.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("source '", node.name, "' reads no topic"));
      }
      if (global_sources.contains(node.name) && node.topics.size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat("global store source '", node.name, "' must read one topic"));
      }
      for (const auto& t : node.topics) {
        if (t.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("source '", node.name, "': empty topic name"));
        }
        auto [it, inserted] = topic_reader.emplace(t, node.name);
        if (!inserted) {
          return absl::InvalidArgumentError(absl::StrCat("topic '", t, "' is read by two sources: '",
                                                         it->second, "' and '", node.name, "'"));
        }
      }
    } else if (node.parents.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(node.kind == Kind::kSink ? "sink '" : "processor '", node.name,
                       "' has no parent"));
    }
    if (node.kind == Kind::kSink && (node.topics.size() != 1 || node.topics[0].empty())) {
      return absl::InvalidArgumentError(absl::StrCat("sink '", node.name, "' needs one topic"));
    }
    for (const auto& parent : node.parents) {
      auto it = topology->index_.find(parent);
      if (it == topology->index_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("node '", node.name, "': parent '", parent, "' does not exist"));
      }
      if (nodes[it->second].kind == Kind::kSink) {
        return absl::InvalidArgumentError(
            absl::StrCat("node '", node.name, "': parent '", parent, "' is a sink"));
      }
    }
  }
  if (!has_source) return absl::InvalidArgumentError("topology has no source");
  for (auto& [spec, processors] : store_links) {
    if (spec.name.empty()) return absl::InvalidArgumentError("a state store has an empty name");
    if (!topology->stores_.emplace(spec.name, spec).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate state store name '", spec.name, "'"));
    }
    if (processors.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("state store '", spec.name, "' is not connected to any processor"));
    }
    for (const auto& p : processors) {
      auto it = topology->index_.find(p);
      if (it == topology->index_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("state store '", spec.name, "': processor '", p, "' does not exist"));
      }
      if (nodes[it->second].kind != Topology::Kind::kProcessor) {
        return absl::InvalidArgumentError(
            absl::StrCat("state store '", spec.name, "': node '", p, "' is not a processor"));
      }
      nodes[it->second].stores.push_back(spec.name);
    }
  }
  for (const auto& [processor, stores] : store_connections) {
    auto it = topology->index_.find(processor);
    if (it == topology->index_.end() || nodes[it->second].kind != Topology::Kind::kProcessor) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot connect stores to '", processor, "': no processor has that name"));
    }
    auto& connected = nodes[it->second].stores;
    for (const auto& store : stores) {
      if (!topology->stores_.contains(store)) {
        return absl::InvalidArgumentError(
            absl::StrCat("processor '", processor, "' uses state store '", store, "', which is not declared"));
      }
      if (std::find(connected.begin(), connected.end(), store) == connected.end()) connected.push_back(store);
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& parent : nodes[i].parents) {
      nodes[topology->index_.at(parent)].children.push_back(nodes[i].name);
    }
  }

  // Topological order (Kahn), ties broken by insertion order so names and ids
  // are deterministic.
  std::vector<int> indegree(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) indegree[i] = static_cast<int>(nodes[i].parents.size());
  std::vector<size_t> order;
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (indegree[i] == 0) ready.insert(i);
  }
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (const auto& child : nodes[i].children) {
      size_t c = topology->index_.at(child);
      if (--indegree[c] == 0) ready.insert(c);
    }
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (indegree[i] > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("topology has a cycle through node '", nodes[i].name, "'"));
      }
    }
  }

  for (const auto& t : topology->internal_topics_) {
    bool read = topic_reader.contains(t), written = false;
    for (const auto& node : nodes) written |= node.kind == Topology::Kind::kSink && node.topics[0] == t;
    if (!read || !written) {
      return absl::InvalidArgumentError(absl::StrCat("internal topic '", t, "' must be written by a sink and read by ",
                                                     "a source of the topology"));
    }
  }

  // Sub-topologies: connected components (union-find over parent edges).
  std::vector<size_t> root(nodes.size());
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](size_t x) {
    while (root[x] != x) x = root[x] = root[root[x]];
    return x;
  };
  auto join = [&](size_t x, size_t y) {
    size_t a = find(x), b = find(y);
    if (a != b) root[std::max(a, b)] = std::min(a, b);
  };
  std::map<std::string, size_t> store_user;  // store -> first processor using it
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& parent : nodes[i].parents) join(i, topology->index_.at(parent));
    for (const auto& store : nodes[i].stores) {
      auto [it, inserted] = store_user.emplace(store, i);
      if (!inserted) join(i, it->second);
    }
  }
  // A global store's component is its source and its processor, nothing
  // else; it becomes a GlobalStoreTopology, not a sub-topology.
  std::map<size_t, size_t> global_component;  // root -> index of its source
  for (const auto& source : global_sources) {
    const size_t s = topology->index_.at(source);
    global_component[find(s)] = s;
  }
  // The updater is the source's first child (AddGlobalStore adds it right
  // after the source); any other node in the component is a mistake.
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto g = global_component.find(find(i));
    if (g == global_component.end() || i == g->second) continue;
    const Topology::NodeDef& source = nodes[g->second];
    const bool is_updater = source.children.front() == nodes[i].name && nodes[i].parents.size() == 1 &&
                            !nodes[i].stores.empty();
    if (!is_updater) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node '", nodes[i].name, "' is connected to global store source '", source.name, "' (topic '",
          source.topics[0], "'): a global store's updates produce no output; read the store by name instead"));
    }
  }
  std::map<size_t, int32_t> component_id;  // root (lowest index) -> id
  for (size_t i = 0; i < nodes.size(); ++i) {
    size_t r = find(i);
    if (!component_id.contains(r) && !global_component.contains(r)) {
      component_id[r] = static_cast<int32_t>(component_id.size());
      topology->subtopologies_.push_back(Subtopology{.id = component_id[r]});
    }
  }
  for (const auto& [root, source] : global_component) {
    const auto& def = nodes[source];
    if (def.children.size() != 1 || nodes[topology->index_.at(def.children[0])].stores.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("global store source '", def.name, "' must feed exactly one processor that keeps the store"));
    }
    const auto& processor = nodes[topology->index_.at(def.children[0])];
    topology->global_stores_.push_back(GlobalStoreTopology{.store = processor.stores[0],
                                                           .topic = def.topics[0],
                                                           .source = def.name,
                                                           .processor = processor.name});
  }
  // Global stores in the order their sources were added, numbered after the
  // sub-topologies.
  std::sort(topology->global_stores_.begin(), topology->global_stores_.end(),
            [&](const GlobalStoreTopology& a, const GlobalStoreTopology& b) {
              return topology->index_.at(a.source) < topology->index_.at(b.source);
            });
  for (size_t g = 0; g < topology->global_stores_.size(); ++g) {
    topology->global_stores_[g].id = static_cast<int32_t>(topology->subtopologies_.size() + g);
  }
  for (size_t i : order) {
    if (global_component.contains(find(i))) continue;
    Subtopology& sub = topology->subtopologies_[component_id.at(find(i))];
    sub.nodes.push_back(nodes[i].name);
    if (nodes[i].kind == Topology::Kind::kSource) {
      sub.source_topics.insert(nodes[i].topics.begin(), nodes[i].topics.end());
    } else if (nodes[i].kind == Topology::Kind::kSink) {
      sub.sink_topics.insert(nodes[i].topics[0]);
    }
    sub.stores.insert(nodes[i].stores.begin(), nodes[i].stores.end());
  }
  for (const auto& sub : topology->subtopologies_) {
    if (sub.source_topics.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", sub.nodes.front(), "' is not connected to any source"));
    }
  }
  return std::shared_ptr<const Topology>(std::move(topology));
}

absl::StatusOr<std::shared_ptr<const Topology>> Topology::Resolve(std::string_view application_id) const {
  if (resolved_) return absl::FailedPreconditionError("topology already resolved for an application");
  auto out = std::make_shared<Topology>(*this);
  out->resolved_ = true;
  auto rename = [&](const std::string& t) {
    return internal_topics_.contains(t) ? absl::StrCat(ToAbsl(application_id), "-", t) : t;
  };
  for (auto& def : out->nodes_) {
    for (auto& t : def.topics) t = rename(t);
  }
  for (auto& sub : out->subtopologies_) {
    std::set<std::string> sources, sinks;
    for (const auto& t : sub.source_topics) sources.insert(rename(t));
    for (const auto& t : sub.sink_topics) sinks.insert(rename(t));
    sub.source_topics = std::move(sources);
    sub.sink_topics = std::move(sinks);
  }
  out->internal_topics_.clear();
  for (const auto& t : internal_topics_) out->internal_topics_.insert(rename(t));
  return std::shared_ptr<const Topology>(std::move(out));
}

absl::Status Topology::CheckCoPartitioned(const std::map<std::string, int32_t>& partitions) const {
  for (const auto& sub : subtopologies_) {
    if (sub.stores.empty()) continue;
    std::optional<int32_t> count;
    bool mismatch = false;
    for (const auto& topic : sub.source_topics) {
      auto it = partitions.find(topic);
      if (it == partitions.end()) continue;
      if (count && *count != it->second) mismatch = true;
      count = it->second;
    }
    if (!mismatch) continue;
    std::vector<std::string> described;
    for (const auto& t : sub.source_topics) {
      auto it = partitions.find(t);
      described.push_back(it == partitions.end() ? t : absl::StrCat(t, " (", it->second, ")"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "sub-topology ", sub.id, " keeps state (stores: ", absl::StrJoin(sub.stores, ", "),
        ") but its source topics are not co-partitioned: ", absl::StrJoin(described, ", "),
        "; a join or shared store reads partition p of each in one task, so give them the same number of "
        "partitions"));
  }
  return absl::OkStatus();
}

absl::Status Topology::SizeInternalTopics(std::map<std::string, int32_t>* partitions) const {
  auto count_of = [&](const std::string& topic) {
    auto it = partitions->find(topic);
    return it == partitions->end() ? 0 : it->second;
  };
  // The counts only grow and are bounded by the user topics', so repeating
  // the pass until nothing changes ends; sub-topologies are numbered
  // upstream first, so one pass usually suffices.
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& sub : subtopologies_) {
      for (const auto& topic : sub.sink_topics) {
        if (!internal_topics_.contains(topic)) continue;
        const int32_t reader = SubtopologyForTopic(topic);
        int32_t count = 0;
        if (reader >= 0) {
          for (const auto& source : subtopologies_[reader].source_topics) {
            if (!internal_topics_.contains(source)) count = std::max(count, count_of(source));
          }
        }
        if (count <= 0) {
          for (const auto& source : sub.source_topics) count = std::max(count, count_of(source));
          if (reader >= 0 && !subtopologies_[reader].stores.empty()) {
            for (const auto& sibling : subtopologies_[reader].source_topics) {
              count = std::max(count, count_of(sibling));
            }
          }
        }
        if (count > count_of(topic)) {
          (*partitions)[topic] = count;
          changed = true;
        }
      }
    }
  }
  for (const auto& sub : subtopologies_) {
    for (const auto& topic : sub.sink_topics) {
      if (internal_topics_.contains(topic) && count_of(topic) <= 0) {
        return absl::InternalError(absl::StrCat("cannot size repartition topic '", topic,
                                                "': none of the topics upstream of it has a known partition count"));
      }
    }
  }
  return absl::OkStatus();
}

std::set<std::string> Topology::SourceTopics() const {
  std::set<std::string> out;
  for (const auto& s : subtopologies_) out.insert(s.source_topics.begin(), s.source_topics.end());
  return out;
}

std::set<std::string> Topology::SinkTopics() const {
  std::set<std::string> out;
  for (const auto& s : subtopologies_) out.insert(s.sink_topics.begin(), s.sink_topics.end());
  return out;
}

int32_t Topology::SubtopologyForTopic(std::string_view topic) const {
  for (const auto& s : subtopologies_) {
    if (s.source_topics.contains(std::string(topic))) return s.id;
  }
  return -1;
}

bool Topology::IsGlobalStore(std::string_view store) const {
  for (const auto& g : global_stores_) {
    if (g.store == store) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<ProcessorGraph>> Topology::CreateTaskGraph(int32_t subtopology) const {
  if (subtopology < 0 || subtopology >= static_cast<int32_t>(subtopologies_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no sub-topology ", subtopology));
  }
  return CreateGraph(subtopologies_[subtopology].nodes);
}

absl::StatusOr<std::unique_ptr<ProcessorGraph>> Topology::CreateGlobalGraph(size_t index) const {
  if (index >= global_stores_.size()) return absl::InvalidArgumentError(absl::StrCat("no global store #", index));
  return CreateGraph({global_stores_[index].source, global_stores_[index].processor});
}

absl::StatusOr<std::unique_ptr<ProcessorGraph>> Topology::CreateGraph(const std::vector<std::string>& names) const {
  auto graph = std::make_unique<ProcessorGraph>();
  std::map<std::string_view, processor::internal::Node*> by_name;
  for (const auto& name : names) {
    const NodeDef& def = nodes_[index_.at(name)];
    graph->nodes_.push_back(def.factory(def.topics));
    processor::internal::Node* node = graph->nodes_.back().get();
    RUNNEL_CHECK(node->name() == name) << "factory made '" << node->name() << "' for " << name;
    by_name[def.name] = node;
    if (def.kind == Kind::kSource) {
      auto* source = dynamic_cast<processor::internal::SourceNodeBase*>(node);
      RUNNEL_CHECK(source != nullptr) << name;
      for (const auto& t : def.topics) graph->sources_[t] = source;
    }
  }
  for (const auto& name : names) {
    const NodeDef& def = nodes_[index_.at(name)];
    for (const auto& child : def.children) {
      absl::Status s = by_name.at(def.name)->AddChild(by_name.at(child));
      if (!s.ok()) return s;
    }
  }
  return graph;
}

std::string Topology::Describe() const {
  std::string out = "Topologies:\n";
  for (const auto& sub : subtopologies_) {
    absl::StrAppend(&out, "   Sub-topology: ", sub.id, "\n");
    DescribeNodes(sub.nodes, out);
  }
  // As Kafka Streams prints them (there interleaved by id; here global ids
  // come after the sub-topologies').
  for (const auto& g : global_stores_) {
    absl::StrAppend(&out, "   Sub-topology: ", g.id, " for global store (will not generate tasks)\n");
    DescribeNodes({g.source, g.processor}, out);
  }
  return out;
}

void Topology::DescribeNodes(const std::vector<std::string>& names, std::string& out) const {
  for (const auto& name : names) {
    const NodeDef& def = nodes_[index_.at(name)];
    switch (def.kind) {
      case Kind::kSource:
        absl::StrAppend(&out, "    Source: ", name, " (topics: [", absl::StrJoin(def.topics, ", "), "])\n");
        break;
      case Kind::kProcessor:
        absl::StrAppend(&out, "    Processor: ", name, " (stores: [", absl::StrJoin(def.stores, ", "), "])\n");
        break;
      case Kind::kSink:
        absl::StrAppend(&out, "    Sink: ", name, " (topic: ", def.topics[0], ")\n");
        break;
    }
    if (!def.children.empty()) {
      absl::StrAppend(&out, "      --> ", absl::StrJoin(def.children, ", "), "\n");
    }
    if (!def.parents.empty()) {
      absl::StrAppend(&out, "      <-- ", absl::StrJoin(def.parents, ", "), "\n");
    }
  }
}

std::string Topology::DescribeNodesJson(const std::vector<std::string>& names) const {
  std::vector<std::string> nodes;
  for (const auto& name : names) {
    const NodeDef& def = nodes_[index_.at(name)];
    std::string kind = def.kind == Kind::kSource ? "source"
                       : def.kind == Kind::kSink ? "sink"
                                                 : "processor";
    std::string node = absl::StrCat("{\"name\":", JsonString(name), ",\"type\":\"", kind, "\"");
    if (def.kind == Kind::kSource) absl::StrAppend(&node, ",\"topics\":", JsonList(def.topics));
    if (def.kind == Kind::kSink) absl::StrAppend(&node, ",\"topic\":", JsonString(def.topics[0]));
    if (def.kind == Kind::kProcessor) absl::StrAppend(&node, ",\"stores\":", JsonList(def.stores));
    absl::StrAppend(&node, ",\"successors\":", JsonList(def.children), ",\"predecessors\":", JsonList(def.parents),
                    "}");
    nodes.push_back(std::move(node));
  }
  return absl::StrCat("[", absl::StrJoin(nodes, ","), "]");
}

std::string Topology::DescribeJson() const {
  std::vector<std::string> subs;
  for (const auto& sub : subtopologies_) {
    subs.push_back(absl::StrCat("{\"id\":", sub.id, ",\"nodes\":", DescribeNodesJson(sub.nodes), "}"));
  }
  std::vector<std::string> globals;
  for (const auto& g : global_stores_) {
    globals.push_back(absl::StrCat("{\"id\":", g.id, ",\"store\":", JsonString(g.store),
                                   ",\"nodes\":", DescribeNodesJson({g.source, g.processor}), "}"));
  }
  std::string out = absl::StrCat("{\"subtopologies\":[", absl::StrJoin(subs, ","), "]");
  // Only topologies with global stores carry the key: the JSON of the others
  // stays as it was.
  if (!globals.empty()) absl::StrAppend(&out, ",\"global_stores\":[", absl::StrJoin(globals, ","), "]");
  return out + "}";
}

}  // namespace runnel
