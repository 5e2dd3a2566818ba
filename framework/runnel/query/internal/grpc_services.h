#ifndef RUNNEL_QUERY_INTERNAL_GRPC_SERVICES_H_
#define RUNNEL_QUERY_INTERNAL_GRPC_SERVICES_H_

// The standard services every Runnel gRPC server offers besides its own:
// health checking (grpc.health.v1.Health, gRPC's built-in service) and
// server reflection (grpc.reflection.v1alpha), so that grpcurl and other
// standard clients need no .proto file.
//
// gRPC's built-in health service is compiled without protobuf descriptors:
// reflection would list grpc.health.v1.Health but answer NOT_FOUND for its
// file, and `grpcurl ... grpc.health.v1.Health/Check` says "target server
// does not expose service". EnableStandardServices therefore also makes sure
// our copy of grpc/health/v1/health.proto (proto/grpc/health/v1) is linked
// in and in protobuf's generated pool, which reflection reads.
//
// Threading: gRPC's settings are process-wide; call before building a
// server (ServerBuilder::BuildAndStart), from any thread. Idempotent.

namespace runnel::query::internal {

void EnableStandardServices();

}  // namespace runnel::query::internal

#endif  // RUNNEL_QUERY_INTERNAL_GRPC_SERVICES_H_
