#include "runnel/runtime/task_stores.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  bool persistent = false;
  for (const auto& name : names) persistent |= specs.at(name).kind == StoreSpec::Kind::kRocksDb;
  if (persistent) {
    auto offsets = checkpoint_.Read();
    if (offsets.ok()) {
      restore_from_ = *std::move(offsets);
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
      if (env_.local_stores != nullptr) env_.local_stores->Add(name, task_, rocks);
      store = std::move(rocks);
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
  return it == stores_.end() ? nullptr : it->second.outer.get();
}

std::vector<TopicPartition> TaskStores::ChangelogPartitions() const {
  std::vector<TopicPartition> out;
  for (const auto& [name, e] : stores_) {
    if (e.logged != nullptr) out.push_back({e.logged->changelog_topic(), e.logged->partition()});
  }
  return out;
}

absl::Status TaskStores::Restore(kafka::Consumer& consumer) {
  std::map<TopicPartition, Offset> ends;
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr) continue;
    auto end = RestoreStore(consumer, e);
    if (!end.ok()) return end.status();
    ends[{e.logged->changelog_topic(), e.logged->partition()}] = *end;
  }
  RUNNEL_RETURN_IF_ERROR(consumer.AssignAt({}));
  // Restored records sit in memtables (no WAL): on disk first, then the
  // checkpoint that vouches for them.
  RUNNEL_RETURN_IF_ERROR(Flush());
  return Checkpoint(ends);
}

absl::StatusOr<Offset> TaskStores::RestoreStore(kafka::Consumer& consumer, Entry& e) {
  auto log = Logger("runnel");
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
  if (start >= end) {
    log->info("task {}: store '{}' is up to date with {} (offset {})", task_.ToString(), e.spec.name,
              tp.ToString(), end.value());
    return end;
  }
  log->info("task {}: restoring store '{}' from {} offsets {}..{}", task_.ToString(), e.spec.name, tp.ToString(),
            start.value(), end.value());
  RUNNEL_RETURN_IF_ERROR(consumer.AssignAt({{tp, start}}));
  const absl::Time began = Clock::System().Now();
  absl::Time last_log = began;
  absl::Time last_progress = began;
  int64_t records = 0, bytes = 0;
  Offset next = start;
  std::vector<kafka::ConsumedRecord> batch;
  std::vector<KeyValueStore::Write> writes;
  while (next < end) {
    batch.clear();
    RUNNEL_RETURN_IF_ERROR(consumer.Poll(absl::Milliseconds(500), 10'000, batch));
    const absl::Time now = Clock::System().Now();
    if (batch.empty()) {
      if (now - last_progress > absl::Seconds(60)) {
        return absl::UnavailableError(absl::StrCat("restoring ", tp.ToString(), ": no records for 60 s at offset ",
                                                   next.value(), " of ", end.value()));
      }
      continue;
    }
    last_progress = now;
    writes.clear();
    for (const auto& r : batch) {
      if (r.offset() >= end) break;
      auto key = r.key();
      if (!key) continue;  // changelog records always have keys
      auto value = r.value();
      bytes += static_cast<int64_t>(key->size() + (value ? value->size() : 0));
      writes.push_back({std::string(*key), value ? std::optional<std::string>(std::string(*value)) : std::nullopt});
      next = Offset(r.offset().value() + 1);
    }
    records += static_cast<int64_t>(writes.size());
    RUNNEL_RETURN_IF_ERROR(e.logged->RestoreBatch(writes));
    if (!batch.empty() && batch.back().offset() >= end) next = end;
    if (now - last_log > absl::Seconds(5)) {
      last_log = now;
      const double secs = absl::ToDoubleSeconds(now - began);
      const double done = static_cast<double>(next.value() - start.value()) /
                          static_cast<double>(end.value() - start.value());
      log->info("task {}: store '{}' restore {:.0f}% ({} records, {:.1f} MB/s, ETA {:.0f} s)", task_.ToString(),
                e.spec.name, done * 100, records, bytes / 1e6 / secs, done > 0 ? secs * (1 - done) / done : 0.0);
    }
  }
  const absl::Duration took = Clock::System().Now() - began;
  if (env_.restored_records != nullptr) env_.restored_records->Increment(records);
  if (env_.restored_bytes != nullptr) env_.restored_bytes->Increment(bytes);
  if (env_.restore_micros != nullptr) env_.restore_micros->Increment(absl::ToInt64Microseconds(took));
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(took));
  log->info("task {}: restored store '{}': {} records, {:.1f} MB in {:.2f} s ({:.1f} MB/s)", task_.ToString(),
            e.spec.name, records, bytes / 1e6, secs, bytes / 1e6 / secs);
  return end;
}

absl::Status TaskStores::Flush() {
  for (auto& [name, e] : stores_) {
    RUNNEL_RETURN_IF_ERROR(Annotate(e.outer->Flush(), absl::StrCat("task ", task_.ToString())));
  }
  return absl::OkStatus();
}

absl::Status TaskStores::Checkpoint(const std::map<TopicPartition, Offset>& changelog_ends) {
  std::map<TopicPartition, Offset> offsets;
  for (auto& [name, e] : stores_) {
    if (e.logged == nullptr || e.spec.kind != StoreSpec::Kind::kRocksDb) continue;
    TopicPartition tp{e.logged->changelog_topic(), e.logged->partition()};
    auto it = changelog_ends.find(tp);
    if (it != changelog_ends.end()) offsets[tp] = it->second;
  }
  if (offsets.empty()) return absl::OkStatus();
  return checkpoint_.Write(offsets);
}

void TaskStores::Close() {
  for (auto& [name, e] : stores_) {
    if (env_.local_stores != nullptr) env_.local_stores->Remove(name, task_);
    absl::Status s = e.outer->Close();
    if (!s.ok()) Logger("runnel")->warn("task {}: closing store '{}': {}", task_.ToString(), name, s.ToString());
  }
  stores_.clear();
}

}  // namespace runnel
