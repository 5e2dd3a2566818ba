#ifndef RUNNEL_RUNTIME_INTERNAL_LOCAL_STATE_H_
#define RUNNEL_RUNTIME_INTERNAL_LOCAL_STATE_H_

// The rules for trusting local state, shared by a task's stores
// (TaskStores) and the global stores (GlobalStores): local files are a cache
// of a changelog (or of a global topic) and are kept only while that log
// vouches for them. See docs/architecture.md, "Local state and its
// changelog".
//
// Threading: plain functions, called by the thread that owns the stores.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <map>

#include "absl/status/statusor.h"
#include "runnel/common/types.h"
#include "runnel/state/checkpoint.h"
#include "runnel/state/rocksdb_kv_store.h"

namespace runnel::runtime::internal {

// Why a local position (the next offset a store would read) cannot belong to
// a log whose offsets now run from `low` to `end` (exclusive), or nullopt
// when it can. Past the end: the log was recreated (internal topics deleted,
// a new cluster) and the store holds a history the log never had. Before
// the start: records the store never saw were deleted (DeleteRecords,
// retention). Either way the store must be wiped and rebuilt from the log,
// as Kafka Streams does with a checkpoint outside the changelog's offsets.
std::optional<std::string> PositionOutsideLog(Offset position, Offset low, Offset end);

// Reads `checkpoint`. Without a trustworthy one (missing, or damaged:
// NotFound / DataLoss) nothing under `dir` can be vouched for: `dir` is
// removed (logged, naming `who` and the reason) and the answer is empty.
// Other errors (I/O) are returned. `*wiped` (optional) says whether `dir`
// existed and was removed.
absl::StatusOr<std::map<TopicPartition, Offset>> ReadCheckpointOrWipe(const CheckpointFile& checkpoint,
                                                                      const std::string& dir, std::string_view who,
                                                                      bool* wiped = nullptr);

// Opens the RocksDB store `name` in `dir`; a corrupt one (DataLoss) is
// destroyed and opened empty, and `*wiped` says so. `*wiped` is also true
// when there was no database: either way the store holds nothing and no
// offset recorded for it may be trusted.
absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> OpenRocksDbOrWipe(
    const std::string& name, const std::string& dir, const std::shared_ptr<RocksDbResources>& resources,
    std::string_view who, bool* wiped);

}  // namespace runnel::runtime::internal

#endif  // RUNNEL_RUNTIME_INTERNAL_LOCAL_STATE_H_
