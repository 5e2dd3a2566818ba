#ifndef RUNNEL_QUERY_INTERNAL_MERGE_H_
#define RUNNEL_QUERY_INTERNAL_MERGE_H_

// The k-way merge of a range's answer: several sources (local copies'
// iterators, other instances' streams), each in key order, merged into one
// source in key order and cut at the limit. It holds one entry per source;
// the sources bound what they buffer themselves (see fan_out.h), so a
// range's memory does not grow with its length.
//
// Header-only template; unit-tested with in-memory sources (merge_test.cc).
// Not thread-safe: one thread at a time pulls it (and so its sources).

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace runnel::query::internal {

// Entries in ascending key order.
template <typename Entry>
class SortedSource {
 public:
  virtual ~SortedSource() = default;
  // The next entry into *out: true; false at the end; or the error that
  // ended the source.
  virtual absl::StatusOr<bool> Next(Entry* out) = 0;
};

// Entries from `sources` in ascending `key_of(entry)` order, at most `limit`
// of them. An entry whose key equals the one before it (the same key from
// two copies of one partition, e.g. an owner and a standby) is dropped; of
// equal keys the lower-numbered source's wins. A source's error ends the
// merge with that error.
template <typename Entry, typename KeyOf>
class KWayMerge final : public SortedSource<Entry> {
 public:
  KWayMerge(std::vector<std::unique_ptr<SortedSource<Entry>>> sources, size_t limit, KeyOf key_of = KeyOf())
      : sources_(std::move(sources)), limit_(limit), key_of_(std::move(key_of)) {}

  absl::StatusOr<bool> Next(Entry* out) override {
    if (!started_) {
      started_ = true;
      heap_.reserve(sources_.size());
      for (size_t i = 0; i < sources_.size(); ++i) {
        if (absl::Status s = Pull(i); !s.ok()) return s;
      }
    }
    while (!heap_.empty() && emitted_ < limit_) {
      std::pop_heap(heap_.begin(), heap_.end(), After);
      Head head = std::move(heap_.back());
      heap_.pop_back();
      const bool repeat = last_ && *last_ == head.key;
      if (absl::Status s = Pull(head.source); !s.ok()) return s;
      if (repeat) continue;
      last_ = std::move(head.key);
      ++emitted_;
      *out = std::move(head.entry);
      return true;
    }
    return false;
  }

 private:
  using Key = decltype(std::declval<const KeyOf&>()(std::declval<const Entry&>()));
  struct Head {
    Key key;
    size_t source;
    Entry entry;
  };
  // A min-heap on (key, source).
  static bool After(const Head& a, const Head& b) { return a.key != b.key ? b.key < a.key : b.source < a.source; }

  absl::Status Pull(size_t i) {
    Head head{Key(), i, Entry()};
    absl::StatusOr<bool> more = sources_[i]->Next(&head.entry);
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    head.key = key_of_(head.entry);
    heap_.push_back(std::move(head));
    std::push_heap(heap_.begin(), heap_.end(), After);
    return absl::OkStatus();
  }

  std::vector<std::unique_ptr<SortedSource<Entry>>> sources_;
  const size_t limit_;
  KeyOf key_of_;
  bool started_ = false;
  std::vector<Head> heap_;
  std::optional<Key> last_;
  size_t emitted_ = 0;
};

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_MERGE_H_
