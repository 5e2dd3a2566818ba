#ifndef RUNNEL_STATE_INTERNAL_SNAPSHOT_ITERATOR_H_
#define RUNNEL_STATE_INTERNAL_SNAPSHOT_ITERATOR_H_

#include <memory>
#include <vector>

#include "runnel/state/kv_store.h"

namespace runnel::state_internal {

// An iterator over entries it owns (already in key order).
std::unique_ptr<KeyValueIterator> MakeSnapshotIterator(std::vector<KeyValueEntry> entries);

}  // namespace runnel::state_internal

#endif  // RUNNEL_STATE_INTERNAL_SNAPSHOT_ITERATOR_H_
