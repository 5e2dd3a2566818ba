#include "runnel/runtime/global_stores.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/status.h"
#include "runnel/runtime/internal/local_state.h"
#include "runnel/common/strings.h"
#include "runnel/state/in_memory_kv_store.h"

namespace runnel {
namespace {

// An in-memory store made safe for readers on other threads: every call
// holds one mutex (the store's iterators copy their range, so an iterator
// outlives the lock safely).
class SynchronizedKeyValueStore final : public KeyValueStore {
 public:
  explicit SynchronizedKeyValueStore(std::unique_ptr<KeyValueStore> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    absl::MutexLock lock(&mu_);
    return inner_->Get(key);
  }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from, std::string_view to) const override {
    absl::MutexLock lock(&mu_);
    return inner_->Range(from, to);
  }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override {
    absl::MutexLock lock(&mu_);
    return inner_->All();
  }
  absl::StatusOr<int64_t> ApproximateNumEntries() const override {
    absl::MutexLock lock(&mu_);
    return inner_->ApproximateNumEntries();
  }
  absl::Status Put(std::string_view key, std::optional<std::string_view> value) override {
    absl::MutexLock lock(&mu_);
    return inner_->Put(key, value);
  }
  absl::Status PutAll(const std::vector<Write>& writes) override {
    absl::MutexLock lock(&mu_);
    return inner_->PutAll(writes);
  }
  absl::Status DropRange(std::string_view from, std::string_view to) override {
    absl::MutexLock lock(&mu_);
    return inner_->DropRange(from, to);
  }
  absl::Status Flush() override {
    absl::MutexLock lock(&mu_);
    return inner_->Flush();
  }
  absl::Status Close() override {
    absl::MutexLock lock(&mu_);
    return inner_->Close();
  }

 private:
  mutable absl::Mutex mu_;
  std::unique_ptr<KeyValueStore> inner_;
};

// What a stream task gets for a global store: reads go through, writes are
// refused (only the global thread writes), and the store's lifecycle stays
// with GlobalStores.
class ReadOnlyGlobalStore final : public KeyValueStore {
 public:
  ReadOnlyGlobalStore(std::shared_ptr<KeyValueStore> inner, std::string topic)
      : inner_(std::move(inner)), topic_(std::move(topic)) {}
  std::string_view name() const override { return inner_->name(); }
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override { return inner_->Get(key); }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> Range(std::string_view from, std::string_view to) const override {
    return inner_->Range(from, to);
  }
  absl::StatusOr<std::unique_ptr<KeyValueIterator>> All() const override { return inner_->All(); }
  absl::StatusOr<int64_t> ApproximateNumEntries() const override { return inner_->ApproximateNumEntries(); }
  absl::Status Put(std::string_view, std::optional<std::string_view>) override { return Refuse(); }
  absl::Status PutAll(const std::vector<Write>&) override { return Refuse(); }
  absl::Status DropRange(std::string_view, std::string_view) override { return Refuse(); }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  absl::Status Refuse() const {
    return absl::FailedPreconditionError(absl::StrCat("global store '", ToAbsl(inner_->name()),
                                                      "' is read-only for processors; it is updated only from topic '",
                                                      topic_, "'"));
  }
  std::shared_ptr<KeyValueStore> inner_;
  std::string topic_;
};

void EraseTopic(std::map<TopicPartition, Offset>& offsets, const std::string& topic) {
  for (auto it = offsets.begin(); it != offsets.end();) {
    it = it->first.topic == topic ? offsets.erase(it) : std::next(it);
  }
}

}  // namespace

struct GlobalStores::Entry {
  GlobalStoreTopology def;
  bool persistent = false;
  std::string dir;  // RocksDB stores only
  std::shared_ptr<KeyValueStore> store;
  std::unique_ptr<ReadOnlyGlobalStore> read_only;
  std::unique_ptr<ProcessorGraph> graph;
  processor::internal::SourceNodeBase* source = nullptr;
};

GlobalStores::GlobalStores(std::shared_ptr<const Topology> topology, GlobalStoresOptions options)
    : topology_(std::move(topology)), options_(std::move(options)), checkpoint_(options_.dir + "/.checkpoint") {
  env_.task = this;
  env_.deserialization_handler = this;
}

GlobalStores::~GlobalStores() { Close(); }

absl::StatusOr<std::unique_ptr<GlobalStores>> GlobalStores::Open(std::shared_ptr<const Topology> topology,
                                                                GlobalStoresOptions options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("the global stores need a clock");
  std::unique_ptr<GlobalStores> stores(new GlobalStores(std::move(topology), std::move(options)));
  RUNNEL_RETURN_IF_ERROR(stores->OpenAll());
  return stores;
}

absl::Status GlobalStores::OpenAll() {
  const auto& globals = topology_->global_stores();
  if (globals.empty()) return absl::OkStatus();
  auto log = Logger("runnel");
  bool persistent = false;
  for (const auto& g : globals) persistent |= topology_->stores().at(g.store).kind == StoreSpec::Kind::kRocksDb;
  if (persistent) {
    auto offsets = runtime::internal::ReadCheckpointOrWipe(checkpoint_, options_.dir, "global stores");
    if (!offsets.ok()) return offsets.status();
    checkpointed_ = *std::move(offsets);
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", options_.dir, ": ", ec.message()));
  for (size_t i = 0; i < globals.size(); ++i) {
    const GlobalStoreTopology& g = globals[i];
    const StoreSpec& spec = topology_->stores().at(g.store);
    auto entry = std::make_unique<Entry>();
    entry->def = g;
    if (spec.kind == StoreSpec::Kind::kRocksDb) {
      entry->persistent = true;
      entry->dir = absl::StrCat(options_.dir, "/", g.store);
      bool empty = false;
      auto opened = runtime::internal::OpenRocksDbOrWipe(g.store, entry->dir, options_.rocksdb,
                                                        absl::StrCat("global store '", g.store, "'"), &empty);
      // An empty store holds nothing, whatever the checkpoint says.
      if (empty) EraseTopic(checkpointed_, g.topic);
      if (!opened.ok()) return Annotate(opened.status(), absl::StrCat("global store '", g.store, "'"));
      std::shared_ptr<RocksDbKeyValueStore> rocks = *std::move(opened);
      if (options_.local_stores != nullptr) options_.local_stores->Add(g.store, TaskId{g.id, Partition(0)}, rocks);
      entry->store = std::move(rocks);
    } else {
      EraseTopic(checkpointed_, g.topic);
      entry->store = std::make_shared<SynchronizedKeyValueStore>(std::make_unique<InMemoryKeyValueStore>(g.store));
    }
    entry->read_only = std::make_unique<ReadOnlyGlobalStore>(entry->store, g.topic);
    auto graph = topology_->CreateGlobalGraph(i);
    if (!graph.ok()) return graph.status();
    entry->graph = *std::move(graph);
    entry->source = entry->graph->SourceFor(g.topic);
    if (entry->source == nullptr) {
      return absl::InternalError(absl::StrCat("global store '", g.store, "' has no source for topic '", g.topic, "'"));
    }
    entries_.push_back(std::move(entry));
  }
  // Processors find their stores at Init: every store is open first.
  for (auto& entry : entries_) {
    RUNNEL_RETURN_IF_ERROR(
        Annotate(entry->graph->Init(env_), absl::StrCat("global store '", entry->def.store, "'")));
  }
  return absl::OkStatus();
}

std::vector<std::string> GlobalStores::Topics() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e->def.topic);
  return out;
}

GlobalStores::Entry* GlobalStores::EntryOfTopic(std::string_view topic) const {
  for (const auto& e : entries_) {
    if (e->def.topic == topic) return e.get();
  }
  return nullptr;
}

bool GlobalStores::IsGlobalTopic(std::string_view topic) const { return EntryOfTopic(topic) != nullptr; }

absl::StatusOr<std::string> GlobalStores::StoreOfTopic(std::string_view topic) const {
  Entry* e = EntryOfTopic(topic);
  if (e == nullptr) return absl::NotFoundError(absl::StrCat("no global store reads topic '", ToAbsl(topic), "'"));
  return e->def.store;
}

KeyValueStore* GlobalStores::ReadOnly(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e->def.store == name) return e->read_only.get();
  }
  return nullptr;
}

KeyValueStore* GlobalStores::GetKeyValueStore(std::string_view name) {
  for (const auto& e : entries_) {
    if (e->def.store == name) return e->store.get();
  }
  return nullptr;
}

Cancellable GlobalStores::Schedule(absl::Duration, PunctuationType, Punctuator) {
  Logger("runnel")->warn("global store processors cannot schedule punctuators; ignored");
  return Cancellable();
}

absl::Status GlobalStores::Update(const RawRecord& record) {
  if (closed_) return absl::FailedPreconditionError("global stores are closed");
  Entry* e = EntryOfTopic(record.topic);
  if (e == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no global store reads topic '", ToAbsl(record.topic), "'"));
  }
  metadata_.topic.assign(record.topic);
  metadata_.partition = record.partition;
  metadata_.offset = record.offset;
  current_ = &metadata_;
  current_task_ = TaskId{e->def.id, record.partition};
  if (record.timestamp > stream_time_) stream_time_ = record.timestamp;
  absl::Status s = e->source->ProcessRaw(record);
  current_ = nullptr;
  if (!s.ok()) {
    return Annotate(s, absl::StrCat("global store '", e->def.store, "' at ", ToAbsl(record.topic), "-",
                                    record.partition.value(), "@", record.offset.value()));
  }
  return absl::OkStatus();
}

absl::Status GlobalStores::Checkpoint(const std::map<TopicPartition, Offset>& positions) {
  bool changed = false;
  for (auto& e : entries_) {
    if (!e->persistent) continue;
    RUNNEL_RETURN_IF_ERROR(Annotate(e->store->Flush(), absl::StrCat("global store '", e->def.store, "'")));
    for (const auto& [tp, offset] : positions) {
      if (tp.topic != e->def.topic) continue;
      auto [it, inserted] = checkpointed_.try_emplace(tp, offset);
      if (inserted || it->second != offset) changed = true;
      it->second = offset;
    }
  }
  if (!changed) return absl::OkStatus();
  return Annotate(checkpoint_.Write(checkpointed_), "global stores' checkpoint");
}

absl::Status GlobalStores::Reset() {
  Close();
  entries_.clear();
  checkpointed_.clear();
  std::error_code ec;
  std::filesystem::remove_all(options_.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("wiping ", options_.dir, ": ", ec.message()));
  closed_ = false;
  return OpenAll();
}

void GlobalStores::Close() {
  if (closed_) return;
  closed_ = true;
  for (auto& e : entries_) {
    if (e->graph != nullptr) e->graph->Close();
  }
  for (auto& e : entries_) {
    if (options_.local_stores != nullptr && e->persistent) {
      options_.local_stores->Remove(e->def.store, TaskId{e->def.id, Partition(0)});
    }
    absl::Status s = e->store->Close();
    if (!s.ok()) Logger("runnel")->warn("closing global store '{}': {}", e->def.store, s.ToString());
  }
}

absl::Status GlobalStores::Handle(const RawRecord& record, std::string_view part, const absl::Status& error,
                                  std::string_view node) {
  const std::string where = absl::StrCat("source '", ToAbsl(node), "' cannot deserialize the ", ToAbsl(part),
                                         " of the record at ", ToAbsl(record.topic), "-", record.partition.value(),
                                         "@", record.offset.value(), ": ", error.message());
  if (!options_.skip_undeserializable) return absl::Status(error.code(), where);
  int64_t suppressed = 0;
  if (skipped_log_.Allow(options_.clock->NowMillis().value(), &suppressed)) {
    Logger("runnel")->warn("global store: {}; skipped ({} more skipped since the last warning)", where, suppressed);
  }
  return absl::OkStatus();
}

}  // namespace runnel
