#ifndef RUNNEL_QUERY_CLIENT_H_
#define RUNNEL_QUERY_CLIENT_H_

// runnel::query::Client: the C++ client of the interactive-query service.
// Give it any one instance; it learns the others from Metadata and sends
// each keyed request straight to the key's owner (so a point lookup costs
// one hop), falling back to any instance (which forwards) when it cannot
// compute the owner itself (a key given as text for a non-string serde).
// UNAVAILABLE answers (a rebalance, a restore, an instance gone) are retried
// with backoff, re-reading the metadata, until the call's timeout; the last
// error is returned after it.
//
//   auto client = query::Client::Connect("localhost:7001");
//   v1::GetRequest get;
//   get.set_store("counts");
//   get.mutable_key()->set_text("sensor-7");
//   auto answer = (*client)->Get(get);   // answer->value().json() == "42"
//
// Threading: thread-safe; share one client. Lifecycle: Connect -> use ->
// destroy.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "runnel/common/clock.h"
#include "runnel/common/tls.h"
#include "runnel/query/v1/query.grpc.pb.h"

namespace runnel::query {

namespace v1 = ::runnel::query::v1;

struct ClientOptions {
  // Per call, retries included.
  absl::Duration timeout = absl::Seconds(10);
  // How long routing metadata is trusted before it is re-read.
  absl::Duration metadata_ttl = absl::Seconds(2);
  // Measures timeouts, backoff deadlines and the metadata's age; the
  // default is the app's real clock, tests give a ManualClock.
  const Clock* clock = &Clock::System();
  // Unset: plaintext. Set: TLS to every instance, each server's certificate
  // checked against ca_file (empty: the system's roots); cert_file and
  // key_file are this client's certificate for servers that require one
  // (query.tls.client.auth=required). The files are read by Connect.
  std::optional<TlsSettings> tls;
};

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Connect(std::string endpoint, ClientOptions options = {});

  absl::StatusOr<v1::GetResponse> Get(const v1::GetRequest& request);
  absl::StatusOr<v1::MultiGetResponse> MultiGet(const v1::MultiGetRequest& request);
  absl::StatusOr<v1::WindowResponse> WindowFetch(const v1::WindowFetchRequest& request);
  absl::StatusOr<v1::WindowResponse> SessionFetch(const v1::SessionFetchRequest& request);
  // Streams, collected.
  absl::StatusOr<std::vector<v1::KeyValue>> Range(const v1::RangeRequest& request);
  absl::StatusOr<std::vector<v1::KeyValue>> All(const v1::AllRequest& request);
  absl::StatusOr<std::vector<v1::WindowValue>> WindowRange(const v1::WindowRangeRequest& request);
  absl::StatusOr<v1::MetadataResponse> Metadata(const v1::MetadataRequest& request);

  // The instance a keyed request for `store` and `key` goes to.
  std::string EndpointFor(const std::string& store, const v1::Key& key);

 private:
  Client(std::string endpoint, ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials);
  std::shared_ptr<v1::QueryService::Stub> StubFor(const std::string& endpoint);
  // Calls `call(stub, context)` on the key's owner (or the seed), retrying
  // UNAVAILABLE until the timeout.
  template <typename Call>
  absl::Status Routed(const std::string& store, const v1::Key* key, Call call);
  // A server stream, collected: open(stub, context) starts it, items(batch)
  // gives a batch's items.
  template <typename Item, typename Batch, typename Open, typename Items>
  absl::StatusOr<std::vector<Item>> Collect(const std::string& store, Open open, Items items);
  void RefreshMetadata(bool force);
  // For requests any instance answers: the seed, then (after failures) the
  // other known instances in turn.
  std::string AnyEndpoint(int attempt);

  const std::string seed_;
  const ClientOptions options_;
  // Every channel's: insecure, or TLS from options_.tls.
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<v1::QueryService::Stub>> stubs_;
  std::shared_ptr<const v1::MetadataResponse> metadata_;
  absl::Time metadata_read_ = absl::InfinitePast();
};

}  // namespace runnel::query

#endif  // RUNNEL_QUERY_CLIENT_H_
