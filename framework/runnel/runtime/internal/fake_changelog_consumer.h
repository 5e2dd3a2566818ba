#ifndef RUNNEL_RUNTIME_INTERNAL_FAKE_CHANGELOG_CONSUMER_H_
#define RUNNEL_RUNTIME_INTERNAL_FAKE_CHANGELOG_CONSUMER_H_

// An in-memory ChangelogConsumer for unit tests (test-only, header-only).
//
// Each partition is a log of records whose offsets may have gaps: a
// transaction's commit marker takes an offset that no record has, as under
// read_committed. Poll hands out records from each assigned partition's
// position and, like librdkafka with enable.partition.eof, reports a
// partition's end once each time its position reaches it (past trailing
// markers). A Poll that has nothing to hand out advances the ManualClock by
// its timeout, as waiting would.
//
// Threading: one thread, like the consumer it stands for.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "runnel/common/clock.h"
#include "runnel/runtime/changelog_reader.h"

namespace runnel::runtime::internal {

class FakeChangelogConsumer final : public ChangelogConsumer {
 public:
  explicit FakeChangelogConsumer(ManualClock* clock) : clock_(clock) {}

  // Appends a record at the partition's end; answers its offset.
  Offset Append(const TopicPartition& tp, std::string key, std::optional<std::string> value) {
    Log& log = logs_[tp];
    const Offset offset = log.end;
    log.records[offset.value()] = {std::move(key), std::move(value)};
    log.end = Offset(offset.value() + 1);
    return offset;
  }
  // A commit marker: the end moves on by one offset with no record.
  void AppendMarker(const TopicPartition& tp) {
    Log& log = logs_[tp];
    log.end = Offset(log.end.value() + 1);
  }
  // Records before `low` are gone (retention, DeleteRecords).
  void DeleteBefore(const TopicPartition& tp, Offset low) {
    Log& log = logs_[tp];
    log.low = low;
    log.records.erase(log.records.begin(), log.records.lower_bound(low.value()));
  }

  // Records per partition per poll: small values make a restore take
  // several polls.
  size_t per_poll = 1000;
  // While set, Poll hands out nothing (a broker that stopped answering).
  bool stalled = false;
  // Added to the clock by every Poll (time a fetch takes).
  absl::Duration poll_cost = absl::ZeroDuration();

  int assign_calls = 0;
  int polls = 0;
  bool closed = false;
  const std::map<TopicPartition, Offset>& positions() const { return positions_; }

  absl::Status AssignAt(const std::vector<std::pair<TopicPartition, Offset>>& partitions) override {
    ++assign_calls;
    positions_.clear();
    eof_reported_.clear();
    for (const auto& [tp, offset] : partitions) {
      positions_[tp] = offset.value() < 0 ? logs_[tp].low : offset;
    }
    return absl::OkStatus();
  }

  absl::Status Poll(absl::Duration timeout, size_t max_records, std::vector<kafka::ConsumedRecord>& out,
                    std::vector<std::pair<TopicPartition, Offset>>& eof) override {
    ++polls;
    clock_->Advance(poll_cost);
    size_t handed = 0;
    if (!stalled) {
      for (auto& [tp, position] : positions_) {
        Log& log = logs_[tp];
        size_t taken = 0;
        for (auto it = log.records.lower_bound(position.value());
             it != log.records.end() && taken < per_poll && out.size() < max_records; ++it, ++taken) {
          out.push_back(kafka::ConsumedRecord::FromParts(
              {.topic = tp.topic, .partition = tp.partition, .offset = Offset(it->first),
               .key = it->second.first, .value = it->second.second}));
          position = Offset(it->first + 1);
          eof_reported_.erase(tp);
        }
        handed += taken;
        if (log.records.lower_bound(position.value()) == log.records.end() && position < log.end) {
          position = log.end;  // past trailing markers
        }
        if (position >= log.end && eof_reported_.insert(tp).second) {
          eof.emplace_back(tp, position);
          ++handed;
        }
        fetched_.insert(tp);
      }
    }
    if (handed == 0) clock_->Advance(timeout);
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<Offset, Offset>> Watermarks(const TopicPartition& tp, absl::Duration) override {
    const Log& log = logs_[tp];
    return std::make_pair(log.low, log.end);
  }
  std::optional<Offset> CachedEnd(const TopicPartition& tp) const override {
    if (!fetched_.contains(tp)) return std::nullopt;
    return logs_.at(tp).end;
  }
  absl::Status Close() override {
    closed = true;
    return absl::OkStatus();
  }

 private:
  struct Log {
    Offset low{0};
    Offset end{0};
    std::map<int64_t, std::pair<std::string, std::optional<std::string>>> records;
  };

  ManualClock* clock_;
  std::map<TopicPartition, Log> logs_;
  std::map<TopicPartition, Offset> positions_;
  std::set<TopicPartition> eof_reported_;
  std::set<TopicPartition> fetched_;
};

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_FAKE_CHANGELOG_CONSUMER_H_
