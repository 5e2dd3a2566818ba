#ifndef RUNNEL_STATE_CHECKPOINT_H_
#define RUNNEL_STATE_CHECKPOINT_H_

// The checkpoint file of a task's state directory: for each changelog
// partition, the offset up to which the local stores hold its records
// (exclusive: the next offset to restore from). Written after every commit,
// once the stores are flushed; read at start to restore only the tail.
//
// Format (text, one entry per line, ending in a checksum of what precedes):
//   runnel-checkpoint 1
//   2
//   app-counts-changelog 3 1042
//   app-totals-changelog 3 977
//   fnv1a64 5c0ffee0ddba11ad
//
// Read() answers NotFound when there is no file and DataLoss when it is
// truncated, garbled or fails its checksum: the caller must then restore
// from the start of the changelog, never trust the local store as is.
//
// Threading: called by the owning task's thread. Write() is atomic (temp
// file, fsync, rename, fsync of the directory).

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runnel/common/types.h"

namespace runnel {

class CheckpointFile {
 public:
  explicit CheckpointFile(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> Read() const;
  [[nodiscard]] absl::Status Write(const std::map<TopicPartition, Offset>& offsets) const;

 private:
  std::string path_;
};

}  // namespace runnel

#endif  // RUNNEL_STATE_CHECKPOINT_H_
