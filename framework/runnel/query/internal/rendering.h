#ifndef RUNNEL_QUERY_INTERNAL_RENDERING_H_
#define RUNNEL_QUERY_INTERNAL_RENDERING_H_

// Rendering: building the responses. Values as stored plus their JSON
// form, windows and sessions from their stored layout, who answered
// (`Answer`), and the Metadata response from the topology and the group's
// assignment. Pure functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "runnel/query/internal/resolution.h"
#include "runnel/query/v1/query.pb.h"
#include "runnel/runtime/kafka_streams.h"
#include "runnel/runtime/local_stores.h"
#include "runnel/state/window_store.h"
#include "runnel/topology/topology.h"

namespace runnel::query::internal {

// Who this instance is, as answers name it.
struct Self {
  std::string endpoint;
  std::string process_id;
};

SegmentedStoreOptions SegmentOptions(const StoreSpec& spec);

// The stored bytes, and their JSON form when the store's value serde has one.
void SetValue(const StoreSpec& spec, std::string_view bytes, v1::Value* value);

// A window or session as stored (8 bytes of timestamp, then the value);
// DATA_LOSS when shorter.
absl::Status SetWindow(const StoreSpec& spec, std::string_view key, int64_t start, int64_t end,
                       std::string_view stored, v1::WindowValue* out);

// Who answered from `copy`, how stale it is, and its position.
void Describe(const Self& self, const LocalStores::Copy& copy, int32_t partition, v1::Answer* answer);

// The Metadata response: the stores, every instance's partitions and, when
// the request names a store and key, the key's owners.
absl::Status FillMetadata(const Topology& topology, const KafkaStreams::GroupMetadata& metadata,
                          const v1::MetadataRequest& req, const std::string& endpoint, v1::MetadataResponse* resp);

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_RENDERING_H_
