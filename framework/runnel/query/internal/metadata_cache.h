#ifndef RUNNEL_QUERY_INTERNAL_METADATA_CACHE_H_
#define RUNNEL_QUERY_INTERNAL_METADATA_CACHE_H_

// The group's assignment (KafkaStreams::Metadata), re-read in the
// background every `refresh`, so that routing a request never waits for a
// broker round trip. Until the first read succeeds, or while the group
// rebalances, Get answers the last error (Unavailable).
//
// Threading: one refresher thread of its own; Get and Refresh from any
// thread. Lifecycle: constructed running, stopped by the destructor.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/runtime/kafka_streams.h"

namespace runnel::query::internal {

class MetadataCache {
 public:
  // `clock` paces the warnings about failed reads.
  MetadataCache(const KafkaStreams& streams, absl::Duration refresh, const Clock& clock);
  ~MetadataCache();

  absl::StatusOr<std::shared_ptr<const KafkaStreams::GroupMetadata>> Get() const;
  // Tasks per sub-topology as last read (they do not change while the
  // application runs); empty before the first successful read.
  std::vector<int32_t> TasksPerSubtopology() const;
  // The same for one sub-topology (0 when unknown), without a copy: on
  // every keyed request's path.
  int32_t TasksOf(int32_t subtopology) const;
  // Asks for a re-read now (after a forward found the owner gone).
  void Refresh();

 private:
  void Run();

  const KafkaStreams& streams_;
  const absl::Duration refresh_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool refresh_now_ = false;
  absl::StatusOr<std::shared_ptr<const KafkaStreams::GroupMetadata>> current_ =
      absl::UnavailableError("the group's assignment has not been read yet");
  std::vector<int32_t> tasks_per_subtopology_;
  std::thread thread_;
};

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_METADATA_CACHE_H_
