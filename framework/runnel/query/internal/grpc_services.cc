#include "runnel/query/internal/grpc_services.h"

#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace runnel::query::internal {

void EnableStandardServices() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Referencing the generated code links health.pb.o out of the static
  // runnel_query_proto (unreferenced, the linker would drop it and its
  // registration with it) and builds the file's descriptor in the generated
  // pool.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
}

}  // namespace runnel::query::internal
