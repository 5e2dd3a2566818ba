#include "runnel/query/internal/fan_out.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_join.h"
#include "runnel/common/status.h"
#include "runnel/query/internal/resolution.h"

namespace runnel::query::internal {

IteratorSource::IteratorSource(std::shared_ptr<ReadOnlyKeyValueStore> view, std::optional<std::string> from,
                               std::optional<std::string> to, size_t limit, Render render, size_t chunk)
    : view_(std::move(view)),
      from_(std::move(from)),
      to_(std::move(to)),
      left_(limit),
      render_(std::move(render)),
      chunk_(std::max<size_t>(1, chunk)) {}

absl::StatusOr<bool> IteratorSource::Next(v1::KeyValue* out) {
  if (next_ >= read_.size()) {
    if (exhausted_ || left_ == 0) return false;
    RUNNEL_RETURN_IF_ERROR(ReadChunk());
    if (read_.empty()) return false;
  }
  *out = std::move(read_[next_++]);
  return true;
}

absl::Status IteratorSource::ReadChunk() {
  read_.clear();
  next_ = 0;
  // Seeks to `from` when there is one (RangeFrom seeks: walking All() up to
  // it cost every key before it).
  auto it = from_ && to_ ? view_->Range(*from_, *to_) : from_ ? view_->RangeFrom(*from_) : view_->All();
  if (!it.ok()) return TaskMoved(it.status());
  KeyValueIterator& i = **it;
  const size_t want = std::min(chunk_, left_);
  std::string last;
  for (; i.Valid() && read_.size() < want; i.Next()) {
    if (to_ && i.key() > *to_) break;
    if (read_.size() + 1 == want) last = std::string(i.key());
    render_(i.key(), i.value(), &read_.emplace_back());
  }
  RUNNEL_RETURN_IF_ERROR(TaskMoved(i.status()));
  left_ -= read_.size();
  if (read_.size() < want) {
    exhausted_ = true;
  } else {
    // The next chunk starts just after the last key read.
    last.push_back('\0');
    from_ = std::move(last);
  }
  return absl::OkStatus();
}

absl::Status CheckCoverage(const std::string& store, int32_t partitions, const std::map<int32_t, v1::Answer>& answered) {
  std::vector<int32_t> missing;
  for (int32_t p = 0; p < partitions; ++p) {
    if (!answered.contains(p)) missing.push_back(p);
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("store '", store, "': partitions [", absl::StrJoin(missing, ", "),
                                             "] have no instance able to answer now; retry"));
}

}  // namespace runnel::query::internal
