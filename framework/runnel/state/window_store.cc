#include "runnel/state/window_store.h"

#include <algorithm>
#include <limits>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "runnel/common/status.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

constexpr size_t kSegmentBytes = 8;
constexpr size_t kWindowSuffix = 12;   // start + seq
constexpr size_t kSessionSuffix = 16;  // end + start
const std::string kMetaPrefix(8, '\xff');
constexpr std::string_view kStreamTimeMeta = "stream-time";

void AppendBE64(uint64_t v, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void AppendBE32(uint32_t v, std::string& out) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint64_t ReadBE64(std::string_view p) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
std::string BE64(int64_t v) {
  std::string s;
  AppendBE64(static_cast<uint64_t>(v), s);
  return s;
}
// Put never writes a session with a negative time or ending before it
// starts: such an entry is damage, and its end would slip through the
// bytewise range checks (a negative end sorts after every positive one).
absl::Status CheckSession(std::string_view store, int64_t start, int64_t end) {
  if (start >= 0 && end >= start) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("store '", ToAbsl(store), "': a session entry [", start, ", ", end, "] is damaged"));
}
absl::Status NegativeTime(std::string_view store, Timestamp t) {
  return absl::InvalidArgumentError(
      absl::StrCat("store '", ToAbsl(store), "': negative timestamp ", t.value(), " (window timestamps must be >= 0)"));
}

}  // namespace

SegmentedStore::SegmentedStore(KeyValueStore* kv, SegmentedStoreOptions options)
    : kv_(kv),
      reader_(kv),
      retention_ms_(std::max<int64_t>(1, options.retention_ms)),
      segment_interval_ms_(options.segment_interval_ms > 0 ? options.segment_interval_ms
                                                           : std::max<int64_t>(retention_ms_ / 2, 60'000)) {}

SegmentedStore::SegmentedStore(const ReadOnlyKeyValueStore* reader, SegmentedStoreOptions options)
    : kv_(nullptr),
      reader_(reader),
      retention_ms_(std::max<int64_t>(1, options.retention_ms)),
      segment_interval_ms_(options.segment_interval_ms > 0 ? options.segment_interval_ms
                                                           : std::max<int64_t>(retention_ms_ / 2, 60'000)) {}

absl::Status SegmentedStore::ReadOnlyError() const {
  return absl::FailedPreconditionError(absl::StrCat("store '", ToAbsl(name()), "' is open read-only"));
}

bool SegmentedStore::IsMetaKey(std::string_view store_key) {
  return store_key.size() >= kMetaPrefix.size() && store_key.substr(0, kMetaPrefix.size()) == kMetaPrefix;
}

std::string SegmentedStore::SegmentPrefix(int64_t segment) { return BE64(segment); }

absl::StatusOr<std::optional<int64_t>> SegmentedStore::GetMeta(std::string_view name) const {
  const std::string key = absl::StrCat(kMetaPrefix, ToAbsl(name));
  if (auto held = held_meta_.find(key); held != held_meta_.end()) return std::optional<int64_t>(held->second);
  auto raw = reader_->Get(key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<int64_t>();
  if ((*raw)->size() != 8) {
    return absl::DataLossError(absl::StrCat("store '", ToAbsl(this->name()), "': meta '", ToAbsl(name), "' is ",
                                            (*raw)->size(), " bytes, expected 8"));
  }
  return std::optional<int64_t>(static_cast<int64_t>(ReadBE64(**raw)));
}

absl::Status SegmentedStore::PutMeta(std::string_view name, int64_t value) {
  if (read_only()) return ReadOnlyError();
  std::string key = absl::StrCat(kMetaPrefix, ToAbsl(name));
  if (hold_meta_) {
    held_meta_[std::move(key)] = value;
    return absl::OkStatus();
  }
  return kv_->Put(key, BE64(value));
}

absl::Status SegmentedStore::WriteHeldMeta() {
  if (read_only()) return ReadOnlyError();
  while (!held_meta_.empty()) {
    auto it = held_meta_.begin();
    RUNNEL_RETURN_IF_ERROR(kv_->Put(it->first, BE64(it->second)));
    held_meta_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status SegmentedStore::Init() {
  auto persisted = GetMeta(kStreamTimeMeta);
  if (!persisted.ok()) return persisted.status();
  if (*persisted) {
    // Only times of records (>= 0) are persisted: anything else is damage.
    if (**persisted < 0) {
      return absl::DataLossError(absl::StrCat("store '", ToAbsl(name()), "': persisted stream time ", **persisted,
                                              " is negative"));
    }
    stream_time_ = Timestamp(**persisted);
    persisted_stream_time_ = **persisted;
  }
  return DropExpired();
}

absl::Status SegmentedStore::AdvanceStreamTime(Timestamp t) {
  if (t <= stream_time_) return absl::OkStatus();
  if (read_only()) return ReadOnlyError();
  stream_time_ = t;
  if (persisted_stream_time_ < 0 || t.value() - persisted_stream_time_ >= kStreamTimePersistGranularityMs) {
    RUNNEL_RETURN_IF_ERROR(PutMeta(kStreamTimeMeta, t.value()));
    persisted_stream_time_ = t.value();
  }
  return DropExpired();
}

absl::Status SegmentedStore::DropExpired() {
  if (stream_time_.value() < 0 || read_only()) return absl::OkStatus();
  const int64_t first_live = FirstLiveSegment();
  if (first_live <= live_from_segment_) return absl::OkStatus();
  RUNNEL_RETURN_IF_ERROR(kv_->DropRange(SegmentPrefix(live_from_segment_), SegmentPrefix(first_live)));
  live_from_segment_ = first_live;
  return absl::OkStatus();
}

int64_t SegmentedStore::FirstLiveSegment() const {
  // Segment s holds times [s*I, (s+1)*I - 1]; it is expired when its last
  // time is <= stream time - retention.
  if (stream_time_.value() < 0) return 0;
  return std::max<int64_t>(0, (stream_time_.value() - retention_ms_ + 1) / segment_interval_ms_);
}

template <typename Visit>
absl::Status SegmentedStore::Scan(int64_t first, int64_t last, std::optional<std::string_view> key_from,
                                  std::optional<std::string_view> key_to, size_t suffix_size,
                                  std::string_view suffix_lo, std::string_view suffix_hi, Visit&& visit) const {
  // Expired segments are skipped whether dropped yet or not: a read-only
  // view drops nothing, and a query from time 0 must not visit every
  // segment since the epoch (found by tests/fuzz/window_store).
  first = std::max({first, live_from_segment_, FirstLiveSegment()});
  // Every entry's time is <= stream time (Put raises it), so no segment
  // after stream time's holds anything. After a restart the persisted
  // stream time may trail by less than the persist granularity.
  const int64_t newest = stream_time_.value() > std::numeric_limits<int64_t>::max() - kStreamTimePersistGranularityMs
                             ? std::numeric_limits<int64_t>::max()
                             : stream_time_.value() + kStreamTimePersistGranularityMs;
  last = std::min(last, stream_time_.value() < 0 ? -1 : SegmentOf(Timestamp(newest)));
  for (int64_t seg = first; seg <= last; ++seg) {
    const std::string prefix = SegmentPrefix(seg);
    std::string from = prefix;
    std::string to;
    if (key_from) {
      from.append(key_from->data(), key_from->size());
      if (key_to && *key_to == *key_from) from.append(suffix_lo.data(), suffix_lo.size());
    }
    if (key_to) {
      to = prefix;
      to.append(key_to->data(), key_to->size());
      to.append(std::string(suffix_size, '\xff'));
    } else {
      to = SegmentPrefix(seg + 1);
    }
    auto it = reader_->Range(from, to);
    if (!it.ok()) return it.status();
    for (; (*it)->Valid(); (*it)->Next()) {
      const std::string_view k = (*it)->key();
      if (k.size() < kSegmentBytes + suffix_size || k.substr(0, kSegmentBytes) != prefix) continue;
      const std::string_view key = k.substr(kSegmentBytes, k.size() - kSegmentBytes - suffix_size);
      const std::string_view suffix = k.substr(k.size() - suffix_size);
      if (key_from && key < *key_from) continue;
      if (key_to && key > *key_to) continue;
      if (suffix.substr(0, suffix_lo.size()) < suffix_lo || suffix.substr(0, suffix_hi.size()) > suffix_hi) continue;
      RUNNEL_RETURN_IF_ERROR(visit(key, suffix, (*it)->value()));
    }
    RUNNEL_RETURN_IF_ERROR((*it)->status());
  }
  return absl::OkStatus();
}

// ---- WindowStore ----

WindowStore::WindowStore(KeyValueStore* kv, SegmentedStoreOptions options, bool retain_duplicates)
    : SegmentedStore(kv, options), retain_duplicates_(retain_duplicates), seq_(std::random_device{}()) {}

WindowStore::WindowStore(const ReadOnlyKeyValueStore* reader, SegmentedStoreOptions options)
    : SegmentedStore(reader, options), retain_duplicates_(false), seq_(0) {}

std::string WindowStore::StoreKey(std::string_view key, Timestamp start, uint32_t seq) const {
  std::string out = SegmentPrefix(SegmentOf(start));
  out.append(key.data(), key.size());
  AppendBE64(static_cast<uint64_t>(start.value()), out);
  AppendBE32(seq, out);
  return out;
}

absl::Status WindowStore::Put(std::string_view key, Timestamp start, std::optional<std::string_view> value) {
  if (read_only()) return ReadOnlyError();
  if (start.value() < 0) return NegativeTime(name(), start);
  RUNNEL_RETURN_IF_ERROR(AdvanceStreamTime(start));
  if (Expired(start)) return absl::OkStatus();
  if (retain_duplicates_) {
    if (!value) return absl::OkStatus();
    return kv_->Put(StoreKey(key, start, ++seq_), value);
  }
  return kv_->Put(StoreKey(key, start, 0), value);
}

absl::StatusOr<std::optional<std::string>> WindowStore::Fetch(std::string_view key, Timestamp start) const {
  if (start.value() < 0 || Expired(start)) return std::optional<std::string>();
  return reader_->Get(StoreKey(key, start, 0));
}

absl::StatusOr<std::vector<WindowEntry>> WindowStore::Fetch(std::string_view key, Timestamp from, Timestamp to) const {
  return FetchRange(key, key, from, to);
}

absl::StatusOr<std::vector<WindowEntry>> WindowStore::FetchRange(std::optional<std::string_view> key_from,
                                                                 std::optional<std::string_view> key_to,
                                                                 Timestamp from, Timestamp to) const {
  std::vector<WindowEntry> out;
  if (to < from || to.value() < 0) return out;
  from = Timestamp(std::max<int64_t>(0, from.value()));
  const std::string lo = BE64(from.value());
  const std::string hi = BE64(to.value());
  RUNNEL_RETURN_IF_ERROR(Scan(SegmentOf(from), SegmentOf(to), key_from, key_to, kWindowSuffix, lo, hi,
                              [&](std::string_view key, std::string_view suffix, std::string_view value) {
                                out.push_back({std::string(key), Timestamp(static_cast<int64_t>(ReadBE64(suffix))),
                                               std::string(value)});
                                return absl::OkStatus();
                              }));
  // Segments come in time order: by key, then start, across them. The sort
  // is stable, so duplicates keep their insertion (seq) order.
  std::stable_sort(out.begin(), out.end(), [](const WindowEntry& a, const WindowEntry& b) {
    return std::tie(a.key, a.start) < std::tie(b.key, b.start);
  });
  return out;
}

absl::StatusOr<std::vector<WindowEntry>> WindowStore::FetchAll(Timestamp from, Timestamp to) const {
  auto out = FetchRange(std::nullopt, std::nullopt, from, to);
  if (!out.ok()) return out.status();
  std::stable_sort(out->begin(), out->end(), [](const WindowEntry& a, const WindowEntry& b) {
    return std::tie(a.start, a.key) < std::tie(b.start, b.key);
  });
  return out;
}

// ---- SessionStore ----

SessionStore::SessionStore(KeyValueStore* kv, SegmentedStoreOptions options) : SegmentedStore(kv, options) {}
SessionStore::SessionStore(const ReadOnlyKeyValueStore* reader, SegmentedStoreOptions options)
    : SegmentedStore(reader, options) {}

namespace {
std::string SessionSuffix(Timestamp start, Timestamp end) {
  std::string s = BE64(end.value());
  s += BE64(start.value());
  return s;
}
}  // namespace

absl::Status SessionStore::Put(std::string_view key, Timestamp start, Timestamp end,
                               std::optional<std::string_view> value) {
  if (read_only()) return ReadOnlyError();
  if (start.value() < 0) return NegativeTime(name(), start);
  if (end < start) {
    return absl::InvalidArgumentError(absl::StrCat("store '", ToAbsl(name()), "': session ends (", end.value(),
                                                   ") before it starts (", start.value(), ")"));
  }
  RUNNEL_RETURN_IF_ERROR(AdvanceStreamTime(end));
  if (Expired(end)) return absl::OkStatus();
  std::string k = SegmentPrefix(SegmentOf(end));
  k.append(key.data(), key.size());
  k += SessionSuffix(start, end);
  return kv_->Put(k, value);
}

absl::StatusOr<std::optional<std::string>> SessionStore::FetchSession(std::string_view key, Timestamp start,
                                                                      Timestamp end) const {
  if (start.value() < 0 || end < start || Expired(end)) return std::optional<std::string>();
  std::string k = SegmentPrefix(SegmentOf(end));
  k.append(key.data(), key.size());
  k += SessionSuffix(start, end);
  return reader_->Get(k);
}

absl::StatusOr<std::vector<SessionEntry>> SessionStore::FindSessions(std::string_view key, Timestamp earliest_end,
                                                                     Timestamp latest_start) const {
  return FindSessions(std::optional<std::string_view>(key), std::optional<std::string_view>(key), earliest_end,
                      latest_start);
}

absl::StatusOr<std::vector<SessionEntry>> SessionStore::FindSessions(std::optional<std::string_view> key_from,
                                                                     std::optional<std::string_view> key_to,
                                                                     Timestamp earliest_end,
                                                                     Timestamp latest_start) const {
  std::vector<SessionEntry> out;
  if (latest_start.value() < 0) return out;
  earliest_end = Timestamp(std::max<int64_t>(0, earliest_end.value()));
  const std::string lo = BE64(earliest_end.value());
  const std::string hi(kSessionSuffix, '\xff');
  RUNNEL_RETURN_IF_ERROR(Scan(SegmentOf(earliest_end), std::numeric_limits<int64_t>::max(), key_from, key_to,
                              kSessionSuffix, lo, hi,
                              [&](std::string_view key, std::string_view suffix, std::string_view value) {
                                const auto end = static_cast<int64_t>(ReadBE64(suffix));
                                const auto start = static_cast<int64_t>(ReadBE64(suffix.substr(8)));
                                RUNNEL_RETURN_IF_ERROR(CheckSession(name(), start, end));
                                // An expired session (its segment not dropped yet) is gone, as
                                // for Put and FetchSession: a merge must not fold in a session
                                // it cannot remove.
                                if (start > latest_start.value() || Expired(Timestamp(end))) return absl::OkStatus();
                                out.push_back({std::string(key), Timestamp(start), Timestamp(end), std::string(value)});
                                return absl::OkStatus();
                              }));
  std::sort(out.begin(), out.end(), [](const SessionEntry& a, const SessionEntry& b) {
    return std::tie(a.key, a.end, a.start) < std::tie(b.key, b.end, b.start);
  });
  return out;
}

absl::StatusOr<std::vector<SessionEntry>> SessionStore::FetchAllEndingIn(Timestamp from, Timestamp to) const {
  std::vector<SessionEntry> out;
  if (to < from || to.value() < 0) return out;
  from = Timestamp(std::max<int64_t>(0, from.value()));
  const std::string lo = BE64(from.value());
  const std::string hi = BE64(to.value());
  RUNNEL_RETURN_IF_ERROR(Scan(SegmentOf(from), SegmentOf(to), std::nullopt, std::nullopt, kSessionSuffix, lo, hi,
                              [&](std::string_view key, std::string_view suffix, std::string_view value) {
                                const auto end = static_cast<int64_t>(ReadBE64(suffix));
                                const auto start = static_cast<int64_t>(ReadBE64(suffix.substr(8)));
                                RUNNEL_RETURN_IF_ERROR(CheckSession(name(), start, end));
                                if (Expired(Timestamp(end))) return absl::OkStatus();
                                out.push_back({std::string(key), Timestamp(start), Timestamp(end), std::string(value)});
                                return absl::OkStatus();
                              }));
  std::sort(out.begin(), out.end(), [](const SessionEntry& a, const SessionEntry& b) {
    return std::tie(a.end, a.key, a.start) < std::tie(b.end, b.key, b.start);
  });
  return out;
}

}  // namespace runnel
