#include "runnel/runtime/changelog_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/logging.h"
#include "runnel/common/status.h"
#include "runnel/kafka/consumer.h"

namespace runnel {
namespace {

class KafkaChangelogConsumer final : public ChangelogConsumer {
 public:
  explicit KafkaChangelogConsumer(std::unique_ptr<kafka::Consumer> consumer) : consumer_(std::move(consumer)) {}

  absl::Status AssignAt(const std::vector<std::pair<TopicPartition, Offset>>& partitions) override {
    return consumer_->AssignAt(partitions);
  }
  absl::Status Poll(absl::Duration timeout, size_t max_records, std::vector<kafka::ConsumedRecord>& out,
                    std::vector<std::pair<TopicPartition, Offset>>& eof) override {
    return consumer_->Poll(timeout, max_records, out, &eof);
  }
  absl::StatusOr<std::pair<Offset, Offset>> Watermarks(const TopicPartition& tp, absl::Duration timeout) override {
    return consumer_->Watermarks(tp, timeout);
  }
  std::optional<Offset> CachedEnd(const TopicPartition& tp) const override {
    return consumer_->CachedHighWatermark(tp);
  }
  absl::Status Close() override { return consumer_->Close(); }

 private:
  std::unique_ptr<kafka::Consumer> consumer_;
};

int64_t RecordBytes(const kafka::ConsumedRecord& r) {
  auto key = r.key();
  auto value = r.value();
  return static_cast<int64_t>((key ? key->size() : 0) + (value ? value->size() : 0));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChangelogConsumer>> CreateChangelogConsumer(kafka::ClientConfig config, const Clock& clock) {
  config.erase("group.instance.id");
  config["enable.partition.eof"] = "true";
  auto consumer = kafka::Consumer::Create(config, {.clock = &clock});
  if (!consumer.ok()) return consumer.status();
  return std::make_unique<KafkaChangelogConsumer>(*std::move(consumer));
}

std::vector<KeyValueStore::Write> ChangelogWrites(const std::vector<const kafka::ConsumedRecord*>& records) {
  std::vector<KeyValueStore::Write> writes;
  writes.reserve(records.size());
  for (const kafka::ConsumedRecord* r : records) {
    auto key = r->key();
    if (!key) continue;
    auto value = r->value();
    writes.push_back({std::string(*key), value ? std::optional<std::string>(std::string(*value)) : std::nullopt});
  }
  return writes;
}

ChangelogReader::ChangelogReader(ChangelogConsumer& consumer, ChangelogReaderOptions options)
    : consumer_(consumer), options_(std::move(options)) {
  RUNNEL_CHECK(options_.clock != nullptr) << "a changelog reader needs a clock";
}

absl::Status ChangelogReader::Assign(std::vector<ChangelogPartition> partitions) {
  auto log = Logger("runnel");
  const absl::Time now = options_.clock->Now();
  partitions_.clear();
  std::vector<std::pair<TopicPartition, Offset>> assignment;
  for (auto& spec : partitions) {
    RUNNEL_CHECK(spec.sink != nullptr) << "changelog partition " << spec.tp.ToString() << " has no sink";
    State state{.position = spec.start, .began = now, .last_log = now, .last_progress = now};
    if (spec.end) {
      if (spec.start >= *spec.end) {
        state.done = true;
        log->info("{}: store '{}' is up to date with {} (offset {})", spec.owner, spec.store, spec.tp.ToString(),
                  spec.end->value());
      } else {
        log->info("{}: restoring store '{}' from {} offsets {}..{}", spec.owner, spec.store, spec.tp.ToString(),
                  spec.start.value(), spec.end->value());
      }
    }
    if (!state.done || spec.follow_after_end) assignment.emplace_back(spec.tp, spec.start);
    const TopicPartition tp = spec.tp;
    state.spec = std::move(spec);
    partitions_.insert_or_assign(tp, std::move(state));
  }
  return consumer_.AssignAt(assignment);
}

void ChangelogReader::Forget(const std::vector<TopicPartition>& partitions) {
  for (const auto& tp : partitions) partitions_.erase(tp);
}

bool ChangelogReader::restoring() const {
  for (const auto& [tp, state] : partitions_) {
    if (state.spec.end && !state.done) return true;
  }
  return false;
}

std::map<TopicPartition, Offset> ChangelogReader::Positions() const {
  std::map<TopicPartition, Offset> out;
  for (const auto& [tp, state] : partitions_) out.emplace(tp, state.position);
  return out;
}

absl::StatusOr<int64_t> ChangelogReader::PollOnce(absl::Duration wait) {
  batch_.clear();
  eof_.clear();
  RUNNEL_RETURN_IF_ERROR(consumer_.Poll(wait, options_.max_batch, batch_, eof_));
  const absl::Time now = options_.clock->Now();
  // Whether a partition's records are still wanted: a partition done with
  // its restore reads nothing more unless it follows on.
  auto reading = [](const State& s) { return !s.done || s.spec.follow_after_end; };

  State* last = nullptr;
  for (const auto& r : batch_) {
    if (last == nullptr || r.partition() != last->spec.tp.partition || r.topic() != last->spec.tp.topic) {
      auto it = partitions_.find(TopicPartition{std::string(r.topic()), r.partition()});
      last = it == partitions_.end() ? nullptr : &it->second;
      if (last == nullptr) continue;  // forgotten, or from an earlier assignment
    }
    if (!reading(*last) || r.offset() < last->position) continue;  // a refetch
    if (last->spec.end && !last->spec.follow_after_end && r.offset() >= *last->spec.end) continue;
    last->pending.push_back(&r);
  }

  int64_t applied = 0;
  absl::Status failed;
  for (auto& [tp, state] : partitions_) {
    if (state.pending.empty()) continue;
    if (failed.ok()) {
      const Offset next(state.pending.back()->offset().value() + 1);
      failed = state.spec.sink->Apply(tp, state.pending, next);
      if (failed.ok()) {
        for (const kafka::ConsumedRecord* r : state.pending) state.bytes += RecordBytes(*r);
        const auto n = static_cast<int64_t>(state.pending.size());
        state.position = next;
        state.records += n;
        if (state.spec.restored_records != nullptr) state.spec.restored_records->Increment(n);
        state.last_progress = now;
        applied += n;
      } else {
        failed = Annotate(failed, absl::StrCat("applying ", tp.ToString()));
      }
    }
    // The pointers go stale with the next poll, also after a failure.
    state.pending.clear();
  }
  records_applied_ += applied;
  RUNNEL_RETURN_IF_ERROR(failed);

  // No record has a transaction marker's offset: the end-of-partition
  // position, not the last record, says how far the partition was read.
  // A partition that stops at its end was not given what lies past it.
  for (const auto& [tp, eof_position] : eof_) {
    auto it = partitions_.find(tp);
    if (it == partitions_.end() || !reading(it->second)) continue;
    State& state = it->second;
    Offset position = eof_position;
    if (state.spec.end && !state.spec.follow_after_end) position = std::min(position, *state.spec.end);
    if (position <= state.position) continue;
    if (absl::Status s = state.spec.sink->Apply(tp, {}, position); !s.ok()) {
      return Annotate(s, absl::StrCat("applying ", tp.ToString()));
    }
    state.position = position;
    state.last_progress = now;
  }

  for (auto& [tp, state] : partitions_) {
    if (state.spec.end && !state.done && state.position >= *state.spec.end) Finish(state, now);
  }
  return applied;
}

void ChangelogReader::Finish(State& state, absl::Time now) {
  state.done = true;
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(now - state.began));
  if (options_.restored_records != nullptr) options_.restored_records->Increment(state.records);
  if (options_.restored_bytes != nullptr) options_.restored_bytes->Increment(state.bytes);
  if (options_.restore_micros != nullptr) options_.restore_micros->Increment(static_cast<int64_t>(secs * 1e6));
  Logger("runnel")->info("{}: restored store '{}': {} records, {:.1f} MB in {:.2f} s ({:.1f} MB/s)", state.spec.owner,
                         state.spec.store, state.records, state.bytes / 1e6, secs, state.bytes / 1e6 / secs);
}

void ChangelogReader::LogProgress(State& state, absl::Time now) {
  if (now - state.last_log < options_.progress_interval) return;
  state.last_log = now;
  const double secs = std::max(1e-3, absl::ToDoubleSeconds(now - state.began));
  const Offset end = *state.spec.end;
  const double done = static_cast<double>(state.position.value() - state.spec.start.value()) /
                      static_cast<double>(std::max<int64_t>(1, end.value() - state.spec.start.value()));
  Logger("runnel")->info("{}: store '{}' restore {:.0f}% ({} records, {:.1f} MB/s, ETA {:.0f} s)", state.spec.owner,
                         state.spec.store, done * 100, state.records, state.bytes / 1e6 / secs,
                         done > 0 ? secs * (1 - done) / done : 0.0);
}

absl::StatusOr<bool> ChangelogReader::Restore(absl::Duration budget) {
  const absl::Time deadline = options_.clock->Now() + budget;
  while (restoring()) {
    auto applied = PollOnce(options_.poll_wait);
    if (!applied.ok()) return applied.status();
    const absl::Time now = options_.clock->Now();
    for (auto& [tp, state] : partitions_) {
      if (!state.spec.end || state.done) continue;
      if (now - state.last_progress > options_.patience) {
        return absl::UnavailableError(absl::StrCat(state.spec.owner, ": restoring store '", state.spec.store,
                                                   "' from ", tp.ToString(), ": nothing read for ",
                                                   absl::FormatDuration(options_.patience), " at offset ",
                                                   state.position.value(), " of ", state.spec.end->value()));
      }
      LogProgress(state, now);
    }
    if (now >= deadline) break;
  }
  return !restoring();
}

absl::StatusOr<int64_t> ChangelogReader::Follow(absl::Duration wait) { return PollOnce(wait); }

}  // namespace runnel
