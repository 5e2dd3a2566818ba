#include "runnel/query/client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "runnel/common/clock.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/query/internal/grpc_convert.h"
#include "runnel/query/internal/tls_credentials.h"

namespace runnel::query {
using internal::FromGrpc;
using internal::ToGrpcDeadline;

Client::Client(std::string endpoint, ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials)
    : seed_(std::move(endpoint)), options_(std::move(options)), credentials_(std::move(credentials)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(std::string endpoint, ClientOptions options) {
  if (endpoint.empty()) return absl::InvalidArgumentError("query client: no endpoint given");
  if (options.clock == nullptr) return absl::InvalidArgumentError("query client: ClientOptions.clock is null");
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls.has_value()) {
    auto tls = internal::MakeTlsChannelCredentials(*options.tls);
    if (!tls.ok()) return tls.status();
    credentials = *std::move(tls);
  }
  return std::unique_ptr<Client>(new Client(std::move(endpoint), std::move(options), std::move(credentials)));
}

std::shared_ptr<v1::QueryService::Stub> Client::StubFor(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& stub = stubs_[endpoint];
  if (stub == nullptr) stub = v1::QueryService::NewStub(grpc::CreateChannel(endpoint, credentials_));
  return stub;
}

void Client::RefreshMetadata(bool force) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!force && metadata_ != nullptr && options_.clock->Now() - metadata_read_ < options_.metadata_ttl) return;
  }
  // Ask the instances we know, the seed last.
  std::vector<std::string> endpoints;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (metadata_ != nullptr) {
      for (const auto& i : metadata_->instances()) {
        if (!i.endpoint().empty()) endpoints.push_back(i.endpoint());
      }
    }
  }
  endpoints.push_back(seed_);
  for (const auto& endpoint : endpoints) {
    grpc::ClientContext context;
    context.set_deadline(ToGrpcDeadline(options_.clock->Now() + absl::Seconds(2)));
    auto response = std::make_shared<v1::MetadataResponse>();
    if (StubFor(endpoint)->Metadata(&context, v1::MetadataRequest(), response.get()).ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      metadata_ = std::move(response);
      metadata_read_ = options_.clock->Now();
      return;
    }
  }
}

std::string Client::EndpointFor(const std::string& store, const v1::Key& key) {
  RefreshMetadata(false);
  std::lock_guard<std::mutex> lock(mu_);
  if (metadata_ == nullptr) return seed_;
  const v1::StoreInfo* info = nullptr;
  for (const auto& s : metadata_->stores()) {
    if (s.name() == store) info = &s;
  }
  if (info == nullptr || info->partitions() <= 0) return seed_;
  std::string bytes;
  if (key.form_case() == v1::Key::kRaw) {
    bytes = key.raw();
  } else if (key.form_case() == v1::Key::kText && (info->key_serde() == "string" || info->key_serde() == "bytes")) {
    bytes = key.text();
  } else {
    return seed_;  // the server parses it (and forwards)
  }
  const int32_t partition = kafka::PartitionForKey(bytes, info->partitions()).value();
  for (const auto& instance : metadata_->instances()) {
    for (const auto& sp : instance.active()) {
      if (sp.store() != store) continue;
      if (std::find(sp.partitions().begin(), sp.partitions().end(), partition) != sp.partitions().end() &&
          !instance.endpoint().empty()) {
        return instance.endpoint();
      }
    }
  }
  return seed_;
}

std::string Client::AnyEndpoint(int attempt) {
  RefreshMetadata(false);
  std::lock_guard<std::mutex> lock(mu_);
  // The seed first; after a failure, the other instances in turn.
  if (attempt == 0 || metadata_ == nullptr || metadata_->instances_size() == 0) return seed_;
  const auto& instance = metadata_->instances(attempt % metadata_->instances_size());
  return instance.endpoint().empty() ? seed_ : instance.endpoint();
}

template <typename Call>
absl::Status Client::Routed(const std::string& store, const v1::Key* key, Call call) {
  const absl::Time deadline = options_.clock->Now() + options_.timeout;
  absl::Duration backoff = absl::Milliseconds(50);
  for (int attempt = 0;; ++attempt) {
    std::string endpoint = key != nullptr ? EndpointFor(store, *key) : AnyEndpoint(attempt);
    grpc::ClientContext context;
    context.set_deadline(ToGrpcDeadline(deadline));
    grpc::Status s = call(*StubFor(endpoint), context);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return FromGrpc(s);
    // The owner moved, is restoring, or is gone: re-read who owns what.
    RefreshMetadata(true);
    if (options_.clock->Now() + backoff >= deadline) return FromGrpc(s);
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

absl::StatusOr<v1::GetResponse> Client::Get(const v1::GetRequest& request) {
  v1::GetResponse response;
  absl::Status s = Routed(request.store(), &request.key(), [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) {
    response.Clear();
    return stub.Get(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::MultiGetResponse> Client::MultiGet(const v1::MultiGetRequest& request) {
  v1::MultiGetResponse response;
  absl::Status s = Routed(request.store(), nullptr, [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) {
    response.Clear();
    return stub.MultiGet(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::WindowResponse> Client::WindowFetch(const v1::WindowFetchRequest& request) {
  v1::WindowResponse response;
  absl::Status s = Routed(request.store(), &request.key(), [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) {
    response.Clear();
    return stub.WindowFetch(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::WindowResponse> Client::SessionFetch(const v1::SessionFetchRequest& request) {
  v1::WindowResponse response;
  absl::Status s = Routed(request.store(), &request.key(), [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) {
    response.Clear();
    return stub.SessionFetch(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

template <typename Item, typename Batch, typename Open, typename Items>
absl::StatusOr<std::vector<Item>> Client::Collect(const std::string& store, Open open, Items items) {
  std::vector<Item> out;
  absl::Status s = Routed(store, nullptr, [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) {
    out.clear();
    auto reader = open(stub, c);
    Batch batch;
    while (reader->Read(&batch)) {
      for (auto& item : *items(batch)) out.push_back(std::move(item));
    }
    return reader->Finish();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<v1::KeyValue>> Client::Range(const v1::RangeRequest& request) {
  return Collect<v1::KeyValue, v1::KeyValueBatch>(
      request.store(), [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) { return stub.Range(&c, request); },
      [](v1::KeyValueBatch& b) { return b.mutable_entries(); });
}

absl::StatusOr<std::vector<v1::KeyValue>> Client::All(const v1::AllRequest& request) {
  return Collect<v1::KeyValue, v1::KeyValueBatch>(
      request.store(), [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) { return stub.All(&c, request); },
      [](v1::KeyValueBatch& b) { return b.mutable_entries(); });
}

absl::StatusOr<std::vector<v1::WindowValue>> Client::WindowRange(const v1::WindowRangeRequest& request) {
  return Collect<v1::WindowValue, v1::WindowBatch>(
      request.store(),
      [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) { return stub.WindowRange(&c, request); },
      [](v1::WindowBatch& b) { return b.mutable_windows(); });
}

absl::StatusOr<v1::MetadataResponse> Client::Metadata(const v1::MetadataRequest& request) {
  v1::MetadataResponse response;
  absl::Status s = Routed(request.store(), nullptr, [&](v1::QueryService::Stub& stub, grpc::ClientContext& c) {
    response.Clear();
    return stub.Metadata(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

}  // namespace runnel::query
