#ifndef RUNNEL_STATE_INTERNAL_ROCKSDB_STATUS_H_
#define RUNNEL_STATE_INTERNAL_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace runnel::state::internal {

// RocksDB's status as ours, with the kinds DESIGN.md assigns: corruption is
// DataLoss (wipe and restore), busy/try-again Unavailable (retry).
absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context);

}  // namespace runnel::state::internal

#endif  // RUNNEL_STATE_INTERNAL_ROCKSDB_STATUS_H_
