#include "runnel/runtime/internal/partition_lags.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace runnel::runtime::internal {

void PartitionLags::Publish(std::vector<std::pair<TopicPartition, int64_t>>& lags) {
  for (auto& [tp, lag] : lags) lag = std::max<int64_t>(lag, 0);
  {
    absl::MutexLock lock(&mu_);
    lags_.swap(lags);
  }
  lags.clear();
}

void PartitionLags::Remove(const std::vector<TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  std::erase_if(lags_, [&](const auto& entry) {
    return std::find(partitions.begin(), partitions.end(), entry.first) != partitions.end();
  });
}

void PartitionLags::Clear() {
  absl::MutexLock lock(&mu_);
  lags_.clear();
}

void PartitionLags::Collect(std::vector<MetricSample>* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [tp, lag] : lags_) {
    out->push_back({"runnel_consumer_lag_records",
                    {{"thread", thread_}, {"topic", tp.topic}, {"partition", absl::StrCat(tp.partition.value())}},
                    lag,
                    false});
  }
}

}  // namespace runnel::runtime::internal
