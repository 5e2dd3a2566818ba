#ifndef RUNNEL_RUNTIME_INTERNAL_PARTITION_LAGS_H_
#define RUNNEL_RUNTIME_INTERNAL_PARTITION_LAGS_H_

// PartitionLags: one stream thread's consumer lag per assigned input
// partition (runnel_consumer_lag_records{thread,topic,partition}), written
// by the thread and read when /metrics is scraped.
//
// The series of a partition exist only while the thread owns it: Remove
// (revocation, loss) and Clear (thread exit) take them away at once, so a
// dashboard summing the lag never counts a partition another instance
// reads now.
//
// Ownership: shared by the stream thread and the collector it registers in
// the instance's registry (which outlives the thread: the thread clears
// the table as it exits). Thread-safe: one mutex, taken once per update by
// the thread and once per scrape by the collector.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "runnel/common/metrics.h"
#include "runnel/common/types.h"

namespace runnel::runtime::internal {

class PartitionLags {
 public:
  explicit PartitionLags(std::string thread) : thread_(std::move(thread)) {}

  // Replaces every partition's lag by `lags` (records; negative counts as
  // 0). Takes the contents of `lags` and hands back the previous table's
  // storage in it (emptied), so a caller reusing it does not allocate.
  void Publish(std::vector<std::pair<TopicPartition, int64_t>>& lags);
  // Drops the series of `partitions`.
  void Remove(const std::vector<TopicPartition>& partitions);
  void Clear();

  // Appends one gauge sample per partition (a registry collector).
  void Collect(std::vector<MetricSample>* out) const;

 private:
  const std::string thread_;
  mutable absl::Mutex mu_;
  std::vector<std::pair<TopicPartition, int64_t>> lags_ ABSL_GUARDED_BY(mu_);
};

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_PARTITION_LAGS_H_
