#ifndef RUNNEL_QUERY_INTERNAL_GRPC_CONVERT_H_
#define RUNNEL_QUERY_INTERNAL_GRPC_CONVERT_H_

// Status and deadline conversions between gRPC and the rest of Runnel.
// gRPC keeps deadlines as system_clock time points; the query code keeps
// absl::Time and measures "now" with its injected Clock, so these are the
// only places the two meet. Stateless; any thread.

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace runnel::query::internal {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// A gRPC deadline as an absl::Time (InfiniteFuture when the caller set none).
inline absl::Time FromGrpcDeadline(std::chrono::system_clock::time_point deadline) {
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// An absl::Time deadline (from the injected clock) for a gRPC ClientContext.
inline std::chrono::system_clock::time_point ToGrpcDeadline(absl::Time deadline) {
  return absl::ToChronoTime(deadline);
}

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_GRPC_CONVERT_H_
