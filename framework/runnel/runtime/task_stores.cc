#include "runnel/runtime/task_stores.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runnel/common/check.h"
#include "runnel/common/clock.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
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
  auto log = Logger("runnel");
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
    auto offsets = checkpoint_.Read();
    if (offsets.ok()) {
      restore_from_ = *std::move(offsets);
      checkpointed_ = restore_from_;
    } else if (absl::IsNotFound(offsets.status()) || absl::IsDataLoss(offsets.status())) {
      // Without a trustworthy checkpoint the local files may hold anything:
      // start from empty stores and the whole changelog.
      if (std::filesystem::exists(task_dir_)) {
        log->info("task {}: {}; wiping local state and restoring from the changelog", task_.ToString(),
                  offsets.status().ToString());
        std::error_code ec;
        std::filesystem::remove_all(task_dir_, ec);
        if (ec) return absl::InternalError(absl::StrCat("wiping ", task_dir_, ": ", ec.message()));
      }
    } else {
      return offsets.status();
    }
  }
  for (const auto& name : names) {
    const StoreSpec& spec = specs.at(name);
    Entry entry{.spec = spec};
    std::shared_ptr<KeyValueStore> store;
    if (spec.kind == StoreSpec::Kind::kRocksDb) {
      entry.dir = absl::StrCat(task_dir_, "/", name);
      const TopicPartition changelog{ChangelogTopicName(env_.application_id, name), task_.partition};
      if (!std::filesystem::exists(entry.dir + "/CURRENT")) {
        // No database: whatever the checkpoint says, this store holds nothing.
        restore_from_.erase(changelog);
      }
      auto opened = RocksDbKeyValueStore::Open(name, entry.dir, env_.rocksdb);
      if (absl::IsDataLoss(opened.status())) {
        // A corrupt database: wipe it and rebuild it from the changelog.
        log->warn("task {}: {}; wiping the store and restoring it from the changelog", task_.ToString(),
                  opened.status().ToString());
        RUNNEL_RETURN_IF_ERROR(RocksDbKeyValueStore::Destroy(entry.dir));
        restore_from_.erase(changelog);
        opened = RocksDbKeyValueStore::Open(name, entry.dir, env_.rocksdb);
      }
      if (!opened.ok()) return Annotate(opened.status(), absl::StrCat("task ", task_.ToString()));
      std::shared_ptr<RocksDbKeyValueStore> rocks = *std::move(opened);
      if (env_.exactly_once && spec.logging) {
        auto committed = rocks->CommittedChangelogOffset();
        if (!committed.ok() && !absl::IsDataLoss(committed.status())) return committed.status();
        if (committed.ok() && committed->has_value()) {
          restore_from_[changelog] = **committed;
        } else {
          // No committed offset: whatever is there cannot be vouched for.
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
    stores_.emplace(name, std::move(entry));
  }
  return absl::OkStatus();
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

absl::Status TaskStores::BeginRestore(kafka::Consumer& consumer) {
  auto log = Logger("runnel");
  plans_.clear();
  restored_ends_.clear();
  std::vector<std::pair<TopicPartition, Offset>> assignment;
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr) continue;
    const TopicPartition tp{e.logged->changelog_topic(), e.logged->partition()};
    // A changelog created moments ago may not have a leader yet
    // (NOT_LEADER_FOR_PARTITION): transient, so retried for a while.
    auto marks = consumer.Watermarks(tp, absl::Seconds(30));
    for (absl::Duration backoff = absl::Milliseconds(100), waited = absl::ZeroDuration();
         absl::IsUnavailable(marks.status()) && waited < absl::Seconds(60); waited += backoff) {
      log->info("task {}: changelog {} not ready ({}); retrying", task_.ToString(), tp.ToString(),
                marks.status().ToString());
      absl::SleepFor(backoff);
      marks = consumer.Watermarks(tp, absl::Seconds(30));
    }
    if (!marks.ok()) return Annotate(marks.status(), absl::StrCat("changelog ", tp.ToString()));
    const Offset low = marks->first, end = marks->second;
    Offset start = low;
    // An in-memory store starts empty whatever the checkpoint says.
    if (e.spec.kind == StoreSpec::Kind::kRocksDb) {
      auto it = restore_from_.find(tp);
      if (it != restore_from_.end() && it->second > low) start = it->second;
    }
    restored_ends_[tp] = end;
    if (e.status != nullptr) e.status->SetChangelogEnd(end);
    if (start >= end) {
      if (e.status != nullptr) e.status->SetChangelogPosition(end);
      log->info("task {}: store '{}' is up to date with {} (offset {})", task_.ToString(), e.spec.name,
                tp.ToString(), end.value());
      continue;
    }
    log->info("task {}: restoring store '{}' from {} offsets {}..{}", task_.ToString(), e.spec.name,
              tp.ToString(), start.value(), end.value());
    const absl::Time now = Clock::System().Now();
    plans_.push_back(RestorePlan{.entry = &e, .tp = tp, .start = start, .next = start, .end = end,
                                 .began = now, .last_log = now, .last_progress = now});
    assignment.emplace_back(tp, start);
  }
  return consumer.AssignAt(assignment);
}

absl::StatusOr<bool> TaskStores::RestoreSome(kafka::Consumer& consumer, absl::Duration budget) {
  auto log = Logger("runnel");
  const absl::Time deadline = Clock::System().Now() + budget;
  std::vector<kafka::ConsumedRecord> batch;
  std::vector<std::pair<TopicPartition, Offset>> eof;
  while (!plans_.empty() && Clock::System().Now() < deadline) {
    batch.clear();
    eof.clear();
    RUNNEL_RETURN_IF_ERROR(consumer.Poll(absl::Milliseconds(50), 10'000, batch, &eof));
    const absl::Time now = Clock::System().Now();
    for (auto& plan : plans_) {
      if (now - plan.last_progress > absl::Seconds(60)) {
        return absl::UnavailableError(absl::StrCat("restoring ", plan.tp.ToString(), ": no records for 60 s at offset ",
                                                   plan.next.value(), " of ", plan.end.value()));
      }
    }
    for (auto& plan : plans_) plan.writes.clear();
    for (const auto& r : batch) {
      for (auto& plan : plans_) {
        if (r.partition() != plan.tp.partition || r.topic() != plan.tp.topic) continue;
        if (r.offset() >= plan.end) break;
        plan.next = Offset(r.offset().value() + 1);
        auto key = r.key();
        if (!key) break;  // changelog records always have keys
        auto value = r.value();
        plan.bytes += static_cast<int64_t>(key->size() + (value ? value->size() : 0));
        plan.writes.push_back({std::string(*key), value ? std::optional<std::string>(std::string(*value)) : std::nullopt});
        break;
      }
    }
    for (auto it = plans_.begin(); it != plans_.end();) {
      RestorePlan& plan = *it;
      if (!plan.writes.empty()) {
        plan.last_progress = now;
        plan.records += static_cast<int64_t>(plan.writes.size());
        RUNNEL_RETURN_IF_ERROR(plan.entry->txn != nullptr ? plan.entry->txn->RestoreBatch(plan.writes, plan.next)
                                                          : plan.entry->logged->RestoreBatch(plan.writes));
      }
      const double secs = std::max(1e-3, absl::ToDoubleSeconds(now - plan.began));
      // A transactional changelog ends with a commit marker no record has:
      // the end-of-partition position, not the last record, says "done".
      for (const auto& [tp, position] : eof) {
        if (tp == plan.tp && position >= plan.end) plan.next = std::max(plan.next, position);
      }
      if (plan.entry->status != nullptr) plan.entry->status->SetChangelogPosition(std::min(plan.next, plan.end));
      if (plan.next >= plan.end) {
        if (env_.restored_records != nullptr) env_.restored_records->Increment(plan.records);
        if (env_.restored_bytes != nullptr) env_.restored_bytes->Increment(plan.bytes);
        if (env_.restore_micros != nullptr) env_.restore_micros->Increment(static_cast<int64_t>(secs * 1e6));
        log->info("task {}: restored store '{}': {} records, {:.1f} MB in {:.2f} s ({:.1f} MB/s)", task_.ToString(),
                  plan.entry->spec.name, plan.records, plan.bytes / 1e6, secs, plan.bytes / 1e6 / secs);
        it = plans_.erase(it);
        continue;
      }
      if (now - plan.last_log > absl::Seconds(5)) {
        plan.last_log = now;
        const double done = static_cast<double>(plan.next.value() - plan.start.value()) /
                            static_cast<double>(plan.end.value() - plan.start.value());
        log->info("task {}: store '{}' restore {:.0f}% ({} records, {:.1f} MB/s, ETA {:.0f} s)", task_.ToString(),
                  plan.entry->spec.name, done * 100, plan.records, plan.bytes / 1e6 / secs,
                  done > 0 ? secs * (1 - done) / done : 0.0);
      }
      ++it;
    }
  }
  if (!plans_.empty()) return false;
  RUNNEL_RETURN_IF_ERROR(consumer.AssignAt({}));
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
    bool any_dirty = false;
    for (const auto& [name, e] : stores_) any_dirty |= dirty(e);
    if (!any_dirty) return absl::OkStatus();
    RUNNEL_CHECK(pass < stores_.size()) << "task " << task_.ToString() << ": caches still dirty after "
                                        << pass + 1 << " flushes";
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
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr || e.logged->partition() != tp.partition || e.logged->changelog_topic() != tp.topic) {
      continue;
    }
    standby_applied_[tp] = next;
    RUNNEL_RETURN_IF_ERROR(e.txn != nullptr ? e.txn->RestoreBatch(writes, next) : e.logged->RestoreBatch(writes));
    if (e.status != nullptr) e.status->SetChangelogPosition(next);
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("task ", task_.ToString(), " has no store logged to ", tp.ToString()));
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
