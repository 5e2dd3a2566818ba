#include "runnel/query/internal/metadata_cache.h"

#include <chrono>

#include "runnel/common/logging.h"

namespace runnel::query::internal {

MetadataCache::MetadataCache(const KafkaStreams& streams, absl::Duration refresh, const Clock& clock)
    : streams_(streams), refresh_(refresh), clock_(clock), thread_([this] { Run(); }) {}

MetadataCache::~MetadataCache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

absl::StatusOr<std::shared_ptr<const KafkaStreams::GroupMetadata>> MetadataCache::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::vector<int32_t> MetadataCache::TasksPerSubtopology() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_per_subtopology_;
}

int32_t MetadataCache::TasksOf(int32_t subtopology) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (subtopology < 0 || subtopology >= static_cast<int32_t>(tasks_per_subtopology_.size())) return 0;
  return tasks_per_subtopology_[static_cast<size_t>(subtopology)];
}

void MetadataCache::Refresh() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_now_ = true;
  }
  wake_.notify_all();
}

void MetadataCache::Run() {
  RateLimiter log_limit(30'000);
  while (true) {
    auto metadata = streams_.Metadata();
    std::unique_lock<std::mutex> lock(mu_);
    if (metadata.ok()) {
      tasks_per_subtopology_ = metadata->tasks_per_subtopology;
      current_ = std::make_shared<const KafkaStreams::GroupMetadata>(*std::move(metadata));
    } else {
      current_ = metadata.status();
      int64_t suppressed = 0;
      if (!absl::IsUnavailable(metadata.status()) &&
          log_limit.Allow(clock_.NowMillis().value(), &suppressed)) {
        Logger("runnel")->warn("queries: reading the group's assignment: {}", metadata.status().ToString());
      }
    }
    // A failed read is retried sooner: routing waits on it.
    const absl::Duration wait = metadata.ok() ? refresh_ : std::min(refresh_, absl::Milliseconds(200));
    wake_.wait_for(lock, absl::ToChronoMilliseconds(wait), [this] { return stop_ || refresh_now_; });
    if (stop_) return;
    refresh_now_ = false;
  }
}

}  // namespace runnel::query::internal
