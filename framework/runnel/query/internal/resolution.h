#ifndef RUNNEL_QUERY_INTERNAL_RESOLUTION_H_
#define RUNNEL_QUERY_INTERNAL_RESOLUTION_H_

// Resolution: what a query request targets. The store (and its kind), the
// key's bytes, the range bounds and the limit, checked with
// INVALID_ARGUMENT naming the field at fault; then, for a keyed request,
// the key's partition and where it is answered: a local copy, another
// instance (the owner, or with max_lag a standby), or UNAVAILABLE.
//
// Pure functions over the topology, this instance's LocalStores and the
// group's assignment: no I/O, no gRPC calls; unit-tested with in-memory
// stores and a hand-made assignment (resolution_test.cc). Any thread.
// See docs/architecture.md, "Interactive queries".

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runnel/query/v1/query.pb.h"
#include "runnel/runtime/kafka_streams.h"
#include "runnel/runtime/local_stores.h"
#include "runnel/topology/topology.h"

namespace runnel::query::internal {

namespace v1 = ::runnel::query::v1;

// The most entries a range answers, and keys a MultiGet asks for.
inline constexpr int kMaxLimit = 1'000'000;

// A store as queries see it.
struct StoreRef {
  const StoreSpec* spec = nullptr;
  // -1: a global store (every instance has all of it).
  int32_t subtopology = -1;
};

const char* LayoutName(StoreSpec::Layout layout);

// The queryable store `name`, of layout `want` when given. NOT_FOUND for no
// such store (listing the queryable ones), INVALID_ARGUMENT for an empty
// name, an internal or in-memory store, or the wrong call for its layout.
absl::StatusOr<StoreRef> FindStore(const Topology& topology, const std::string& name,
                                   std::optional<StoreSpec::Layout> want);

// The key's bytes as stored: `raw`, or `text` through the store's key
// serde. INVALID_ARGUMENT naming `field` when missing or undecodable.
absl::StatusOr<std::string> KeyBytes(const StoreRef& ref, const v1::Key& key, std::string_view field);

// max_lag >= 0, and not with uncommitted (standbys have no stream thread).
absl::Status CheckOptions(const v1::ReadOptions& options);
// Uncommitted reads run on a stream thread: a range could hold it for long,
// so only keyed calls may ask for them.
absl::Status NoUncommittedRange(const v1::ReadOptions& options);
// A range's limit as a count: 0 means kMaxLimit; outside 0..kMaxLimit is
// INVALID_ARGUMENT naming "limit".
absl::StatusOr<size_t> CheckLimit(int32_t limit);
// time_from <= time_to.
absl::Status CheckTimeRange(int64_t time_from, int64_t time_to);

struct KeyBounds {
  std::optional<std::string> lo, hi;
};
// A range's key bounds as bytes (unset: open); INVALID_ARGUMENT naming the
// field when one cannot be encoded or `from` is after `to`.
absl::StatusOr<KeyBounds> ResolveBounds(const StoreRef& ref, const v1::Key* from, std::string_view from_field,
                                        const v1::Key* to, std::string_view to_field);

// Whether the copy's position has reached every min_position of the
// request (true when it asks for none).
bool Reached(const StoreCopyStatus* status, const v1::ReadOptions& options);
inline bool Reached(const LocalStores::Copy& copy, const v1::ReadOptions& options) {
  return Reached(copy.status.get(), options);
}

// Where a keyed request is answered: a local copy, or `remote`, the
// endpoint of the instance to forward it to.
struct Target {
  std::optional<LocalStores::Copy> local;
  std::string remote;
  int32_t partition = 0;
};

// What routing needs to know about the instance and the group.
struct RoutingContext {
  const LocalStores& local;
  // This instance's process id (never forwarded to).
  std::string_view self;
  // The tasks of the store's sub-topology (0: not known yet).
  int32_t partitions = 0;
  // The group's assignment, read only when the answer is not local.
  std::function<absl::StatusOr<std::shared_ptr<const KafkaStreams::GroupMetadata>>()> metadata;
};

// The key's partition and who answers it: the local active copy when it is
// ready; else (unless options.no_forward) the owner elsewhere; else, with
// max_lag, a local or remote standby (or restoring copy) within the lag.
// UNAVAILABLE saying why when nobody can answer now.
absl::StatusOr<Target> Route(const StoreRef& ref, std::string_view key, const v1::ReadOptions& options,
                             const RoutingContext& context);

// The local copies that answer a range: active and ready ones (with
// max_lag, also standbys and restoring copies within it) that reached the
// request's min_position.
std::vector<LocalStores::Copy> RangeCopies(std::vector<LocalStores::Copy> copies, const v1::ReadOptions& options);

// A store closed under a read (its task moved away meanwhile) answers
// FailedPrecondition: for the caller that is a retry (UNAVAILABLE).
absl::Status TaskMoved(absl::Status s);

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_RESOLUTION_H_
