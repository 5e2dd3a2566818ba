#ifndef RUNNEL_QUERY_QUERY_SERVER_H_
#define RUNNEL_QUERY_QUERY_SERVER_H_

// The interactive-query server of one instance: the runnel.query.v1
// QueryService (proto/runnel/query/v1/query.proto) over the instance's
// stores, at its application.server, with gRPC health checking and server
// reflection (grpcurl needs no .proto file).
//
//   auto streams = KafkaStreams::Create(topology, config);   // with application.server
//   (*streams)->Start();
//   auto server = query::QueryServer::Start(**streams);
//   ...
//   (*server)->Shutdown();   // before closing the streams
//
// A request may reach any instance. Keyed requests are answered from the
// local copy of the key's partition when this instance is its active owner
// and that copy is restored; otherwise they are forwarded once to the owner
// (found from the group's assignment, see KafkaStreams::Metadata). Range,
// All and WindowRange ask every instance at once and stream the k-way merge
// of their answers in key order, at the reader's pace. Reads see what
// RocksDB holds: the last commit's state under exactly-once; under
// at-least-once also writes the record cache evicted since. See
// docs/interactive-queries.md for staleness (max_lag), positions and codes.
//
// Threading: gRPC's threads run the handlers and local committed reads
// (a range served from local copies included, batch by batch); forwards,
// fan-outs' merges and uncommitted reads run on the server's own worker
// threads; requests waiting for min_position are parked on one waiter
// thread that a store's position advance wakes. Never on stream threads
// (an uncommitted read is handed to one). Lifecycle: Start -> Shutdown
// (idempotent; the destructor calls it). The KafkaStreams must outlive the
// server.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runnel/common/clock.h"
#include "runnel/runtime/kafka_streams.h"

namespace runnel::query {

struct ServerOptions {
  // Where to listen; empty: the streams' application.server.
  std::string listen;
  // Threads for forwarding, fan-out and position waits.
  int worker_threads = 4;
  // How often the group's assignment is re-read for routing.
  absl::Duration metadata_refresh = absl::Seconds(1);
  // Measures deadlines and position waits; null: the streams' clock.
  const Clock* clock = nullptr;
};

class QueryServer {
 public:
  static absl::StatusOr<std::unique_ptr<QueryServer>> Start(KafkaStreams& streams, ServerOptions options = {});
  ~QueryServer();
  void Shutdown();
  // The port it listens on (useful with port 0).
  int port() const;
  const std::string& endpoint() const;

  class Impl;

 private:
  explicit QueryServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel::query

#endif  // RUNNEL_QUERY_QUERY_SERVER_H_
