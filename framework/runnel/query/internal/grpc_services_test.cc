#include "runnel/query/internal/grpc_services.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace runnel::query::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::DynamicMessageFactory;
using google::protobuf::Message;

// What a standard client does (grpcurl, grpc_cli, Postman): asks server
// reflection for the file defining a symbol. Over a generic stub with the
// reflection messages taken from the generated pool (gRPC's reflection
// library registers them), so this test links nothing of health.proto
// itself: only what EnableStandardServices brings in.
class ReflectionClient {
 public:
  explicit ReflectionClient(std::shared_ptr<grpc::Channel> channel) : stub_(std::move(channel)) {
    request_type_ = DescriptorPool::generated_pool()->FindMessageTypeByName(
        "grpc.reflection.v1alpha.ServerReflectionRequest");
    response_type_ = DescriptorPool::generated_pool()->FindMessageTypeByName(
        "grpc.reflection.v1alpha.ServerReflectionResponse");
  }
  bool ready() const { return request_type_ != nullptr && response_type_ != nullptr; }

  // One request (field `field` of ServerReflectionRequest set to `value`),
  // one response, on a stream of its own.
  std::unique_ptr<Message> Ask(const std::string& field, const std::string& value, grpc::Status& status) {
    std::unique_ptr<Message> request(factory_.GetPrototype(request_type_)->New());
    request->GetReflection()->SetString(request.get(), request_type_->FindFieldByName(field), value);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::CompletionQueue cq;
    auto call = stub_.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    grpc::ByteBuffer response_bytes;
    std::unique_ptr<Message> response;
    call->StartCall(Tag(1));
    if (Await(cq, 1)) {
      const std::string bytes = request->SerializeAsString();
      grpc::Slice slice(bytes);
      call->Write(grpc::ByteBuffer(&slice, 1), Tag(2));
      if (Await(cq, 2)) {
        call->WritesDone(Tag(3));
        if (Await(cq, 3)) {
          call->Read(&response_bytes, Tag(4));
          if (Await(cq, 4)) response = Parse(response_bytes);
        }
      }
    }
    call->Finish(&status, Tag(5));
    Await(cq, 5);
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
    return response;
  }

 private:
  static void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }
  static bool Await(grpc::CompletionQueue& cq, intptr_t n) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && tag == Tag(n) && ok;
  }
  std::unique_ptr<Message> Parse(const grpc::ByteBuffer& buffer) {
    std::vector<grpc::Slice> slices;
    if (!buffer.Dump(&slices).ok()) return nullptr;
    std::string bytes;
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    std::unique_ptr<Message> message(factory_.GetPrototype(response_type_)->New());
    if (!message->ParseFromString(bytes)) return nullptr;
    return message;
  }

  grpc::GenericStub stub_;
  DynamicMessageFactory factory_;
  const Descriptor* request_type_ = nullptr;
  const Descriptor* response_type_ = nullptr;
};

class GrpcServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EnableStandardServices();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
    // StrCat, not "..." + std::to_string: GCC 12's false -Wrestrict at -O3.
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcServicesTest, ReflectionListsTheHealthService) {
  ReflectionClient reflection(channel_);
  ASSERT_TRUE(reflection.ready()) << "gRPC's reflection messages are not in the generated pool";
  grpc::Status status;
  auto response = reflection.Ask("list_services", "*", status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Not ASSERT_NE(response, nullptr): gtest would print the Message, and its
  // protobuf printer trips GCC 12's false -Wrestrict at -O3.
  ASSERT_TRUE(response != nullptr);
  EXPECT_NE(response->DebugString().find("grpc.health.v1.Health"), std::string::npos) << response->DebugString();
}

// grpcurl's "target server does not expose service": reflection listed the
// health service but had no file for it.
TEST_F(GrpcServicesTest, ReflectionDescribesTheHealthService) {
  ReflectionClient reflection(channel_);
  ASSERT_TRUE(reflection.ready());
  grpc::Status status;
  auto response = reflection.Ask("file_containing_symbol", "grpc.health.v1.Health", status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response != nullptr);
  const auto* type = response->GetDescriptor();
  const auto* refl = response->GetReflection();
  ASSERT_FALSE(refl->HasField(*response, type->FindFieldByName("error_response"))) << response->DebugString();
  const Message& files = refl->GetMessage(*response, type->FindFieldByName("file_descriptor_response"));
  const auto* files_field = files.GetDescriptor()->FindFieldByName("file_descriptor_proto");
  ASSERT_GE(files.GetReflection()->FieldSize(files, files_field), 1);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(files.GetReflection()->GetRepeatedString(files, files_field, 0)));
  EXPECT_EQ(file.name(), "grpc/health/v1/health.proto");
  EXPECT_EQ(file.package(), "grpc.health.v1");
  ASSERT_EQ(file.service_size(), 1);
  EXPECT_EQ(file.service(0).name(), "Health");
  ASSERT_EQ(file.service(0).method_size(), 2);
  EXPECT_EQ(file.service(0).method(0).name(), "Check");
  EXPECT_EQ(file.service(0).method(0).input_type(), ".grpc.health.v1.HealthCheckRequest");
  EXPECT_EQ(file.service(0).method(1).name(), "Watch");
}

// The described service is the one that answers: Check with an empty
// HealthCheckRequest is SERVING (HealthCheckResponse{status: 1} = 08 01).
TEST_F(GrpcServicesTest, HealthCheckAnswersServing) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty("");  // an empty HealthCheckRequest: the server as a whole
  grpc::ByteBuffer request(&empty, 1), response;
  grpc::Status status;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   done_cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  done_cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

}  // namespace
}  // namespace runnel::query::internal
