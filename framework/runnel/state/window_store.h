#ifndef RUNNEL_STATE_WINDOW_STORE_H_
#define RUNNEL_STATE_WINDOW_STORE_H_

// Window and session stores: time-segmented views over a KeyValueStore.
//
// Both keep their entries in an ordinary key-value store stack (caching ->
// changelogging -> transactional -> RocksDB, or in memory), so they are
// cached, changelogged, restored, exactly-once and standby-replicated
// exactly like key-value stores. Each entry's key starts with its segment:
//
//   window store   <segment: 8 BE> <key> <window start: 8 BE> <seq: 4 BE>
//   session store  <segment: 8 BE> <key> <session end: 8 BE> <start: 8 BE>
//
// where segment = time / segment_interval (the window start, or the session
// end). Retention drops whole segments with one DropRange (a RocksDB range
// tombstone), not entry by entry. Within a segment entries sort by key, then
// time, so a key's windows in a time range are one short scan per segment.
// The key may be any bytes: a scan checks the key's length exactly, so key
// "a" never matches entries of key "a\x01".
//
// Stream time: the store keeps the highest timestamp it was told
// (AdvanceStreamTime) and persists it, through the stack, under a meta key
// outside every segment, at most once per kStreamTimePersistGranularityMs of
// progress, so that a restarted task resumes close to where it was
// (records replayed after a crash cannot reopen a window that retention
// already dropped). Meta keys start with 0xFF×8; no segment does.
//
// Timestamps must be >= 0 (Kafka's are).
//
// Threading: the owning task's thread, like the store below. Does not own
// the store below (the task does); valid while it is.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/types.h"
#include "runnel/state/kv_store.h"

namespace runnel {

struct SegmentedStoreOptions {
  // Entries whose time (window start / session end) is <= stream time -
  // retention are dropped. Must be > 0.
  int64_t retention_ms = 24 * 3600 * 1000;
  // 0: Kafka Streams' default, max(retention / 2, 60 s).
  int64_t segment_interval_ms = 0;
};

// Stream time and segment bookkeeping shared by both store kinds.
class SegmentedStore {
 public:
  static constexpr int64_t kStreamTimePersistGranularityMs = 1000;

  SegmentedStore(KeyValueStore* kv, SegmentedStoreOptions options);
  // A read-only view (interactive queries from other threads): Init reads
  // the persisted stream time and drops nothing; writes fail with
  // FailedPrecondition.
  SegmentedStore(const ReadOnlyKeyValueStore* reader, SegmentedStoreOptions options);
  virtual ~SegmentedStore() = default;

  std::string_view name() const { return reader_->name(); }
  KeyValueStore& bytes() const { return *kv_; }
  bool read_only() const { return kv_ == nullptr; }
  int64_t retention_ms() const { return retention_ms_; }
  int64_t segment_interval_ms() const { return segment_interval_ms_; }

  // Reads the persisted stream time and drops what it expires. Call once,
  // after the store below is restored.
  [[nodiscard]] absl::Status Init();
  // -1 before any record.
  Timestamp stream_time() const { return stream_time_; }
  // Raises stream time to `t` (never lowers it) and drops expired segments.
  [[nodiscard]] absl::Status AdvanceStreamTime(Timestamp t);
  // True when an entry at `time` is already expired (a Put of it is ignored).
  bool Expired(Timestamp time) const { return time.value() <= stream_time_.value() - retention_ms_; }

  // A small persisted integer under `name` (for the processor above, e.g.
  // how far emit-final has emitted), written through the stack.
  [[nodiscard]] absl::StatusOr<std::optional<int64_t>> GetMeta(std::string_view name) const;
  [[nodiscard]] absl::Status PutMeta(std::string_view name, int64_t value);
  // From now on meta writes (PutMeta and the persisted stream time) are
  // held here, and read back, until WriteHeldMeta writes the latest of each
  // through the stack: under at-least-once, a processor calls it once the
  // output its progress stands for is acknowledged
  // (TaskContext::OnSentRecordsAcknowledged), so that a persisted marker is
  // never ahead of that output.
  void HoldMetaWrites() { hold_meta_ = true; }
  [[nodiscard]] absl::Status WriteHeldMeta();
  // Whether `store_key` is a meta key rather than an entry (for flush
  // listeners over the store below).
  static bool IsMetaKey(std::string_view store_key);

 protected:
  int64_t SegmentOf(Timestamp time) const { return time.value() / segment_interval_ms_; }
  // Visits the entries of segments [first, last] whose key (the part after
  // the segment and before a `suffix_size`-byte suffix) is in [key_from,
  // key_to] (nullopt: unbounded) and whose suffix is in [suffix_lo,
  // suffix_hi]. visit(key, suffix, value).
  template <typename Visit>
  absl::Status Scan(int64_t first, int64_t last, std::optional<std::string_view> key_from,
                    std::optional<std::string_view> key_to, size_t suffix_size, std::string_view suffix_lo,
                    std::string_view suffix_hi, Visit&& visit) const;
  static std::string SegmentPrefix(int64_t segment);
  absl::Status ReadOnlyError() const;

  KeyValueStore* kv_;                    // null when read-only
  const ReadOnlyKeyValueStore* reader_;  // kv_, or the read-only view

 private:
  absl::Status DropExpired();
  // The first segment stream time has not expired (0 before any record).
  int64_t FirstLiveSegment() const;

  int64_t retention_ms_;
  int64_t segment_interval_ms_;
  Timestamp stream_time_{-1};
  int64_t persisted_stream_time_ = -1;
  bool hold_meta_ = false;
  // Meta writes held by HoldMetaWrites: full meta key -> value (a few).
  std::map<std::string, int64_t> held_meta_;
  // Segments below this are gone.
  int64_t live_from_segment_ = 0;
};

struct WindowEntry {
  std::string key;
  Timestamp start;
  std::string value;
  bool operator==(const WindowEntry&) const = default;
};

// Windows keyed by (key, window start). With retain_duplicates (a
// stream-stream join's buffer) every Put adds an entry, even for the same
// key and start; a null Put then does nothing.
class WindowStore final : public SegmentedStore {
 public:
  WindowStore(KeyValueStore* kv, SegmentedStoreOptions options, bool retain_duplicates = false);
  WindowStore(const ReadOnlyKeyValueStore* reader, SegmentedStoreOptions options);

  // A null value deletes. Ignored when the window is expired.
  [[nodiscard]] absl::Status Put(std::string_view key, Timestamp start, std::optional<std::string_view> value);
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Fetch(std::string_view key, Timestamp start) const;
  // The key's windows with start in [from, to], by start (then insertion for
  // duplicates).
  [[nodiscard]] absl::StatusOr<std::vector<WindowEntry>> Fetch(std::string_view key, Timestamp from,
                                                               Timestamp to) const;
  // Keys in [key_from, key_to] (nullopt: unbounded), start in [from, to];
  // by key, then start.
  [[nodiscard]] absl::StatusOr<std::vector<WindowEntry>> FetchRange(std::optional<std::string_view> key_from,
                                                                    std::optional<std::string_view> key_to,
                                                                    Timestamp from, Timestamp to) const;
  // Every key's windows with start in [from, to]; by start, then key.
  [[nodiscard]] absl::StatusOr<std::vector<WindowEntry>> FetchAll(Timestamp from, Timestamp to) const;

  // The store key of an entry (tests, and restore tooling).
  std::string StoreKey(std::string_view key, Timestamp start, uint32_t seq) const;

 private:
  bool retain_duplicates_;
  uint32_t seq_;
};

struct SessionEntry {
  std::string key;
  Timestamp start;
  Timestamp end;  // inclusive
  std::string value;
  bool operator==(const SessionEntry&) const = default;
};

// Sessions keyed by (key, start, end), segmented by end.
class SessionStore final : public SegmentedStore {
 public:
  SessionStore(KeyValueStore* kv, SegmentedStoreOptions options);
  SessionStore(const ReadOnlyKeyValueStore* reader, SegmentedStoreOptions options);

  // A null value removes the session. Ignored when it is expired.
  [[nodiscard]] absl::Status Put(std::string_view key, Timestamp start, Timestamp end,
                                 std::optional<std::string_view> value);
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> FetchSession(std::string_view key, Timestamp start,
                                                                        Timestamp end) const;
  // The key's sessions with end >= earliest_end and start <= latest_start
  // (those a record could merge with), by end.
  [[nodiscard]] absl::StatusOr<std::vector<SessionEntry>> FindSessions(std::string_view key, Timestamp earliest_end,
                                                                       Timestamp latest_start) const;
  // Keys in [key_from, key_to] (nullopt: unbounded) with the same bounds; by
  // key, then end.
  [[nodiscard]] absl::StatusOr<std::vector<SessionEntry>> FindSessions(std::optional<std::string_view> key_from,
                                                                       std::optional<std::string_view> key_to,
                                                                       Timestamp earliest_end,
                                                                       Timestamp latest_start) const;
  // Every key's sessions with end in [from, to]; by end, then key.
  [[nodiscard]] absl::StatusOr<std::vector<SessionEntry>> FetchAllEndingIn(Timestamp from, Timestamp to) const;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_WINDOW_STORE_H_
