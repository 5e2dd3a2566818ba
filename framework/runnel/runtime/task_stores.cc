#include "runnel/runtime/task_stores.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "runnel/common/check.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/runtime/internal/local_state.h"
#include "runnel/state/in_memory_kv_store.h"

namespace runnel {

TaskStores::TaskStores(TaskId task, StateEnv env, std::function<Timestamp()> timestamp)
    : task_(task),
      env_(std::move(env)),
      timestamp_(std::move(timestamp)),
      task_dir_(absl::StrCat(env_.app_dir, "/", task.ToString())),
      checkpoint_(task_dir_ + "/.checkpoint") {}

TaskStores::~TaskStores() { Close(); }

absl::Status TaskStores::Open(const std::map<std::string, StoreSpec>& specs, const std::set<std::string>& names) {
  if (names.empty()) return absl::OkStatus();
  if (env_.directory != nullptr && !locked_) {
    if (!env_.directory->TryLockTask(task_)) {
      return absl::UnavailableError(absl::StrCat("task ", task_.ToString(), " is still held by another thread"));
    }
    locked_ = true;
  }
  bool persistent = false;
  for (const auto& name : names) persistent |= specs.at(name).kind == StoreSpec::Kind::kRocksDb;
  // Exactly-once keeps each store's offset inside the store itself.
  if (persistent && !env_.exactly_once) {
    // The databases a wipe of the task directory would take (counted).
    int64_t databases = 0;
    for (const auto& name : names) {
      databases += specs.at(name).kind == StoreSpec::Kind::kRocksDb &&
                   std::filesystem::exists(absl::StrCat(task_dir_, "/", name, "/CURRENT"));
    }
    bool wiped = false;
    auto offsets = runtime::internal::ReadCheckpointOrWipe(checkpoint_, task_dir_,
                                                          absl::StrCat("task ", task_.ToString()), &wiped);
    if (!offsets.ok()) return offsets.status();
    if (wiped && env_.wiped_stores != nullptr) env_.wiped_stores->Increment(databases);
    restore_from_ = *std::move(offsets);
    // An entry for a changelog no store of this task logs to (a store
    // renamed or removed, another partition) vouches for nothing: drop it,
    // so the next checkpoint does not carry it on.
    std::set<TopicPartition> mine;
    for (const auto& [name, spec] : specs) {
      if (spec.logging) mine.insert({ChangelogTopicName(env_.application_id, name), task_.partition});
    }
    for (auto it = restore_from_.begin(); it != restore_from_.end();) {
      if (mine.contains(it->first)) {
        ++it;
        continue;
      }
      Logger("runnel")->info("task {}: checkpoint names {}, which no store of this task logs to; dropping it",
                             task_.ToString(), it->first.ToString());
      it = restore_from_.erase(it);
    }
    checkpointed_ = restore_from_;
  }
  for (const auto& name : names) RUNNEL_RETURN_IF_ERROR(OpenStore(specs.at(name)));
  return absl::OkStatus();
}

absl::Status TaskStores::OpenStore(const StoreSpec& spec) {
  auto log = Logger("runnel");
  const std::string& name = spec.name;
  const std::string who = absl::StrCat("task ", task_.ToString(), ": store '", name, "'");
  Entry entry{.spec = spec};
  std::shared_ptr<KeyValueStore> store;
  if (spec.kind == StoreSpec::Kind::kRocksDb) {
    entry.dir = absl::StrCat(task_dir_, "/", name);
    const TopicPartition changelog{ChangelogTopicName(env_.application_id, name), task_.partition};
    bool empty = false;
    auto opened = runtime::internal::OpenRocksDbOrWipe(name, entry.dir, env_.rocksdb, who, &empty);
    if (!opened.ok()) return Annotate(opened.status(), absl::StrCat("task ", task_.ToString()));
    std::shared_ptr<RocksDbKeyValueStore> rocks = *std::move(opened);
    // An empty store holds nothing, whatever the checkpoint says.
    if (empty) restore_from_.erase(changelog);
    if (spec.logging && !empty) {
      // A store is kept only with an offset of its changelog that vouches
      // for it: under exactly-once the one committed inside it, otherwise
      // the checkpoint's.
      std::optional<std::string> untrusted;
      if (env_.exactly_once) {
        auto committed = rocks->CommittedChangelogOffset();
        if (!committed.ok() && !absl::IsDataLoss(committed.status())) return committed.status();
        if (committed.ok() && committed->has_value()) {
          restore_from_[changelog] = **committed;
        } else {
          untrusted = committed.ok() ? "it holds no committed changelog offset" : committed.status().ToString();
        }
      } else if (!restore_from_.contains(changelog)) {
        untrusted = "the checkpoint has no offset for it";
      }
      if (untrusted) {
        log->info("{}: {}; wiping it and restoring it from the changelog", who, *untrusted);
        RUNNEL_RETURN_IF_ERROR(rocks->Close());
        rocks.reset();
        RUNNEL_RETURN_IF_ERROR(RocksDbKeyValueStore::Destroy(entry.dir));
        auto fresh = RocksDbKeyValueStore::Open(name, entry.dir, env_.rocksdb);
        if (!fresh.ok()) return Annotate(fresh.status(), absl::StrCat("task ", task_.ToString()));
        rocks = *std::move(fresh);
        restore_from_.erase(changelog);
      }
    }
    if (env_.local_stores != nullptr) {
      entry.status = std::make_shared<StoreCopyStatus>(env_.standby, env_.thread_index);
      if (spec.logging) {
        entry.status->SetChangelog(changelog);
        if (auto from = restore_from_.find(changelog); from != restore_from_.end()) {
          entry.status->SetChangelogPosition(from->second);
        }
      }
      env_.local_stores->Add(name, task_, rocks, entry.status);
    }
    if (env_.exactly_once && spec.logging) {
      auto txn = std::make_shared<TransactionalKeyValueStore>(std::move(rocks));
      entry.txn = txn.get();
      store = std::move(txn);
    } else {
      store = std::move(rocks);
    }
  } else {
    store = std::make_unique<InMemoryKeyValueStore>(name);
  }
  if (spec.logging) {
    auto logged = std::make_unique<ChangeLoggingKeyValueStore>(
        std::move(store), ChangelogTopicName(env_.application_id, name), task_.partition, env_.changelog,
        timestamp_);
    entry.logged = logged.get();
    store = std::move(logged);
  }
  if (spec.caching) {
    store = std::make_unique<CachingKeyValueStore>(std::move(store), env_.cache_budget, timestamp_);
  }
  entry.outer = std::move(store);
  stores_.insert_or_assign(name, std::move(entry));
  return absl::OkStatus();
}

absl::Status TaskStores::WipeStore(const std::string& name, const TopicPartition& changelog) {
  auto it = stores_.find(name);
  RUNNEL_CHECK(it != stores_.end()) << "task " << task_.ToString() << " has no store '" << name << "'";
  const StoreSpec spec = it->second.spec;
  if (env_.local_stores != nullptr) env_.local_stores->Remove(name, task_);
  absl::Status closed = it->second.outer->Close();
  stores_.erase(it);
  RUNNEL_RETURN_IF_ERROR(Annotate(closed, absl::StrCat("task ", task_.ToString(), " closing store '", name, "'")));
  RUNNEL_RETURN_IF_ERROR(RocksDbKeyValueStore::Destroy(absl::StrCat(task_dir_, "/", name)));
  restore_from_.erase(changelog);
  standby_applied_.erase(changelog);
  // The checkpoint must not vouch for the wiped store if the restore that
  // follows is cut short.
  if (checkpointed_.erase(changelog) > 0) RUNNEL_RETURN_IF_ERROR(checkpoint_.Write(checkpointed_));
  return OpenStore(spec);
}

absl::StatusOr<std::map<TopicPartition, std::pair<Offset, Offset>>> TaskStores::CheckChangelogPositions(
    ChangelogConsumer& consumer) {
  auto log = Logger("runnel");
  std::map<TopicPartition, std::pair<Offset, Offset>> marks;
  std::vector<std::pair<std::string, TopicPartition>> stale;
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr) continue;
    const TopicPartition tp{e.logged->changelog_topic(), e.logged->partition()};
    // A changelog created moments ago may not have a leader yet
    // (NOT_LEADER_FOR_PARTITION): transient, so retried for a while.
    auto range = consumer.Watermarks(tp, absl::Seconds(30));
    for (absl::Duration backoff = absl::Milliseconds(100), waited = absl::ZeroDuration();
         absl::IsUnavailable(range.status()) && waited < absl::Seconds(60); waited += backoff) {
      if (env_.stopping != nullptr && env_.stopping->load()) {
        return absl::CancelledError(absl::StrCat("task ", task_.ToString(), ": shutting down while changelog ",
                                                 tp.ToString(), " was unavailable"));
      }
      log->info("task {}: changelog {} not ready ({}); retrying", task_.ToString(), tp.ToString(),
                range.status().ToString());
      absl::SleepFor(backoff);
      range = consumer.Watermarks(tp, absl::Seconds(30));
    }
    if (!range.ok()) return Annotate(range.status(), absl::StrCat("changelog ", tp.ToString()));
    marks[tp] = *range;
    if (e.spec.kind != StoreSpec::Kind::kRocksDb) continue;
    auto applied = standby_applied_.find(tp);
    auto from = restore_from_.find(tp);
    if (applied == standby_applied_.end() && from == restore_from_.end()) continue;
    const Offset position = applied != standby_applied_.end() ? applied->second : from->second;
    // Under read_committed the end is the last stable offset: a zombie's
    // transaction still open below our last commit makes a sound store
    // look ahead, which costs a needless full restore, never a wrong one.
    if (auto why = runtime::internal::PositionOutsideLog(position, range->first, range->second)) {
      log->warn("task {}: store '{}': {} of changelog {}; wiping the store and restoring it from the changelog",
                task_.ToString(), name, *why, tp.ToString());
      stale.emplace_back(name, tp);
    }
  }
  for (const auto& [name, tp] : stale) RUNNEL_RETURN_IF_ERROR(WipeStore(name, tp));
  if (!stale.empty() && env_.wiped_stores != nullptr) env_.wiped_stores->Increment(static_cast<int64_t>(stale.size()));
  return marks;
}

KeyValueStore* TaskStores::Get(std::string_view name) const {
  auto it = stores_.find(name);
  if (it != stores_.end()) return it->second.outer.get();
  return env_.global_stores != nullptr ? env_.global_stores->ReadOnly(name) : nullptr;
}

std::vector<TopicPartition> TaskStores::ChangelogPartitions() const {
  std::vector<TopicPartition> out;
  for (const auto& [name, e] : stores_) {
    if (e.logged != nullptr) out.push_back({e.logged->changelog_topic(), e.logged->partition()});
  }
  return out;
}

absl::Status TaskStores::BeginRestore(ChangelogConsumer& consumer) {
  RUNNEL_CHECK(env_.clock != nullptr) << "task " << task_.ToString() << ": restoring without a clock";
  restore_.reset();
  restored_ends_.clear();
  auto marks = CheckChangelogPositions(consumer);
  if (!marks.ok()) return marks.status();
  std::vector<ChangelogPartition> partitions;
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr) continue;
    const TopicPartition tp{e.logged->changelog_topic(), e.logged->partition()};
    const auto [low, end] = marks->at(tp);
    Offset start = low;
    // An in-memory store starts empty whatever the checkpoint says.
    if (e.spec.kind == StoreSpec::Kind::kRocksDb) {
      auto it = restore_from_.find(tp);
      if (it != restore_from_.end() && it->second > low) start = it->second;
    }
    restored_ends_[tp] = end;
    if (e.status != nullptr) {
      e.status->SetChangelogEnd(end);
      if (start >= end) e.status->SetChangelogPosition(end);
    }
    partitions.push_back(ChangelogPartition{
        .tp = tp, .start = start, .end = end, .sink = this, .owner = absl::StrCat("task ", task_.ToString()),
        .store = e.spec.name,
        .restored_records = env_.metrics == nullptr
                                ? nullptr
                                : env_.metrics->GetCounter("runnel_store_restored_records_total",
                                                           {{"store", e.spec.name}, {"task", task_.ToString()}})});
  }
  restore_ = std::make_unique<ChangelogReader>(consumer, ChangelogReaderOptions{.clock = env_.clock,
                                                                                .restored_records = env_.restored_records,
                                                                                .restored_bytes = env_.restored_bytes,
                                                                                .restore_micros = env_.restore_micros});
  return restore_->Assign(std::move(partitions));
}

absl::StatusOr<bool> TaskStores::RestoreSome(absl::Duration budget) {
  RUNNEL_CHECK(restore_ != nullptr) << "task " << task_.ToString() << ": RestoreSome before BeginRestore";
  auto done = restore_->Restore(budget);
  if (!done.ok() || !*done) return done;
  RUNNEL_RETURN_IF_ERROR(restore_->Assign({}));
  restore_.reset();
  // Exactly-once restores wrote their offsets with the records; restored
  // at-least-once records sit in memtables (no WAL): on disk first, then
  // the checkpoint that vouches for them.
  if (!env_.exactly_once) {
    RUNNEL_RETURN_IF_ERROR(Flush());
    RUNNEL_RETURN_IF_ERROR(Checkpoint(restored_ends_));
  }
  for (auto& [name, e] : stores_) {
    if (e.status != nullptr) e.status->set_ready(true);
  }
  return true;
}

absl::StatusOr<TaskStores::Entry*> TaskStores::LoggedTo(const TopicPartition& tp) {
  for (auto& [name, e] : stores_) {
    if (e.logged != nullptr && e.logged->partition() == tp.partition && e.logged->changelog_topic() == tp.topic) {
      return &e;
    }
  }
  return absl::NotFoundError(absl::StrCat("task ", task_.ToString(), " has no store logged to ", tp.ToString()));
}

absl::Status TaskStores::Replay(Entry& e, const std::vector<KeyValueStore::Write>& writes, Offset next) {
  return e.txn != nullptr ? e.txn->RestoreBatch(writes, next) : e.logged->RestoreBatch(writes);
}

absl::Status TaskStores::Apply(const TopicPartition& tp, const std::vector<const kafka::ConsumedRecord*>& records,
                               Offset next) {
  RUNNEL_ASSIGN_OR_RETURN(Entry* e, LoggedTo(tp));
  if (!records.empty()) RUNNEL_RETURN_IF_ERROR(Replay(*e, ChangelogWrites(records), next));
  if (e->status != nullptr) e->status->SetChangelogPosition(std::min(next, restored_ends_[tp]));
  return absl::OkStatus();
}

absl::Status TaskStores::Flush() {
  // A cached store's flush forwards downstream, where a processor may write
  // another cached store of this task (a join into its materialized result)
  // that was flushed already: flush again until no cache is dirty, so the
  // commit covers every write its input caused. Each pass moves at least one
  // step down the acyclic processor graph, so there are at most as many
  // passes as stores.
  auto dirty = [](const Entry& e) {
    const auto* cached = dynamic_cast<const CachingKeyValueStore*>(e.outer.get());
    return cached != nullptr && cached->dirty_count() > 0;
  };
  for (size_t pass = 0;; ++pass) {
    for (auto& [name, e] : stores_) {
      if (pass > 0 && !dirty(e)) continue;
      RUNNEL_RETURN_IF_ERROR(Annotate(e.outer->Flush(), absl::StrCat("task ", task_.ToString())));
    }
    std::vector<std::string> still_dirty;
    for (const auto& [name, e] : stores_) {
      if (dirty(e)) still_dirty.push_back(name);
    }
    if (still_dirty.empty()) return absl::OkStatus();
    // More passes than stores: the graph is not acyclic through the caches,
    // a Processor-API processor writes a cached store upstream of itself.
    if (pass >= stores_.size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", task_.ToString(), ": flushing the record caches keeps dirtying store(s) '",
          absl::StrJoin(still_dirty, "', '"), "' (", pass + 1,
          " passes): a processor writes into a cached store whose flush feeds it; disable caching "
          "of that store (withCachingDisabled) or write it from upstream"));
    }
  }
}

absl::Status TaskStores::Checkpoint(const std::map<TopicPartition, Offset>& changelog_ends) {
  if (env_.exactly_once) return absl::OkStatus();
  bool changed = false;
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr || e.spec.kind != StoreSpec::Kind::kRocksDb) continue;
    TopicPartition tp{e.logged->changelog_topic(), e.logged->partition()};
    auto it = changelog_ends.find(tp);
    if (it == changelog_ends.end()) continue;
    checkpointed_.insert_or_assign(tp, it->second);
    if (e.status != nullptr) e.status->SetChangelogPosition(it->second);
    changed = true;
  }
  if (!changed) return absl::OkStatus();
  // Partitions not in `changelog_ends` keep their earlier offsets.
  return checkpoint_.Write(checkpointed_);
}

absl::Status TaskStores::CommitTransaction(const absl::flat_hash_map<TopicPartition, Offset>& changelog_next) {
  for (auto& [name, e] : stores_) {
    if (e.txn == nullptr) continue;
    auto it = changelog_next.find(TopicPartition{e.logged->changelog_topic(), e.logged->partition()});
    RUNNEL_RETURN_IF_ERROR(Annotate(
        e.txn->Commit(it == changelog_next.end() ? std::nullopt : std::optional<Offset>(it->second)),
        absl::StrCat("task ", task_.ToString())));
    if (e.status != nullptr && it != changelog_next.end()) e.status->SetChangelogPosition(it->second);
  }
  return absl::OkStatus();
}

void TaskStores::SetChangelogEnd(const TopicPartition& tp, Offset end) {
  for (auto& [name, e] : stores_) {
    if (e.status != nullptr && e.logged != nullptr && e.logged->partition() == tp.partition &&
        e.logged->changelog_topic() == tp.topic) {
      e.status->SetChangelogEnd(end);
    }
  }
}

void TaskStores::SetInputPositions(const std::vector<std::pair<TopicPartition, Offset>>& offsets) {
  for (auto& [name, e] : stores_) {
    if (e.status != nullptr) e.status->SetInputPositions(offsets);
  }
}

std::map<TopicPartition, Offset> TaskStores::StandbyPositions() const {
  std::map<TopicPartition, Offset> out;
  for (const auto& [name, e] : stores_) {
    if (e.logged == nullptr || e.spec.kind != StoreSpec::Kind::kRocksDb) continue;
    const TopicPartition tp{e.logged->changelog_topic(), e.logged->partition()};
    auto applied = standby_applied_.find(tp);
    auto from = restore_from_.find(tp);
    out[tp] = applied != standby_applied_.end() ? applied->second
              : from != restore_from_.end()     ? from->second
                                                : Offset(-2);
  }
  return out;
}

absl::Status TaskStores::ApplyStandby(const TopicPartition& tp, const std::vector<KeyValueStore::Write>& writes,
                                      Offset next) {
  RUNNEL_ASSIGN_OR_RETURN(Entry* e, LoggedTo(tp));
  standby_applied_[tp] = next;
  if (!writes.empty()) RUNNEL_RETURN_IF_ERROR(Replay(*e, writes, next));
  if (e->status != nullptr) e->status->SetChangelogPosition(next);
  return absl::OkStatus();
}

absl::Status TaskStores::CheckpointStandby() {
  if (env_.exactly_once || standby_applied_.empty()) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(Flush());
  std::map<TopicPartition, Offset> positions = StandbyPositions();
  for (auto it = positions.begin(); it != positions.end();) {
    it = it->second.value() < 0 ? positions.erase(it) : std::next(it);
  }
  return Checkpoint(positions);
}

void TaskStores::Close() {
  restore_.reset();
  for (auto& [name, e] : stores_) {
    if (env_.local_stores != nullptr) env_.local_stores->Remove(name, task_);
    absl::Status s = e.outer->Close();
    if (!s.ok()) Logger("runnel")->warn("task {}: closing store '{}': {}", task_.ToString(), name, s.ToString());
  }
  stores_.clear();
  if (locked_) {
    env_.directory->UnlockTask(task_);
    locked_ = false;
  }
}

}  // namespace runnel
