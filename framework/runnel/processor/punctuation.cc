#include "runnel/processor/punctuation.h"

#include <algorithm>

#include "runnel/processor/processing_error.h"

namespace runnel {

Cancellable PunctuationSchedule::Add(PunctuationType type, absl::Duration interval, Punctuator punctuator,
                                     Timestamp now) {
  auto cancelled = std::make_shared<bool>(false);
  const int64_t interval_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(interval));
  int64_t next = -1;
  if (type == PunctuationType::kWallClockTime) {
    next = now.value() + interval_ms;
  } else if (now.value() >= 0) {
    next = now.value();
  }
  entries_.push_back({type, interval_ms, std::move(punctuator), next, cancelled});
  return Cancellable(cancelled);
}

absl::Status PunctuationSchedule::Fire(PunctuationType type, Timestamp now,
                                       const std::function<absl::Status(absl::Status)>& on_error) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [](const Entry& e) { return *e.cancelled; }),
                 entries_.end());
  // Index loop: a punctuator may schedule more (appended, due later).
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].type != type || *entries_[i].cancelled) continue;
    if (entries_[i].next_ms >= 0 && now.value() < entries_[i].next_ms) continue;
    // Copy out: the callback may append to entries_ and move them.
    Punctuator run = entries_[i].punctuator;
    const int64_t due = entries_[i].next_ms < 0 ? now.value() : entries_[i].next_ms;
    const int64_t interval = entries_[i].interval_ms;
    int64_t next = due + interval;
    if (now.value() >= next) next = now.value() + interval;  // skipped intervals do not pile up
    entries_[i].next_ms = next;
    absl::Status s;
    try {
      s = run(now);
    } catch (...) {
      s = processor::internal::CurrentExceptionAsProcessingError("punctuator");
    }
    if (!s.ok() && on_error) s = on_error(std::move(s));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace runnel
