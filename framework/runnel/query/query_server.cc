// The QueryService handlers: each checks and resolves its request
// (internal/resolution.h), then answers here, forwards, waits for a
// position (internal/position_waiter.h) or fans out and merges
// (internal/fan_out.h, merge.h, range_writer.h); responses are built by
// internal/rendering.h. See docs/architecture.md, "Interactive queries".

#include "runnel/query/query_server.h"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "runnel/common/logging.h"
#include "runnel/query/internal/executor.h"
#include "runnel/query/internal/fan_out.h"
#include "runnel/query/internal/grpc_convert.h"
#include "runnel/query/internal/grpc_services.h"
#include "runnel/query/internal/merge.h"
#include "runnel/query/internal/metadata_cache.h"
#include "runnel/query/internal/position_waiter.h"
#include "runnel/query/internal/range_writer.h"
#include "runnel/query/internal/rendering.h"
#include "runnel/query/internal/resolution.h"
#include "runnel/query/internal/tls_credentials.h"
#include "runnel/query/v1/query.grpc.pb.h"
#include "runnel/state/window_store.h"

namespace runnel::query {
namespace {

namespace v1 = ::runnel::query::v1;
using internal::Ending;
using internal::StoreRef;
using internal::Target;

// The request and response of a unary call on one protobuf arena, whose
// first block lives in the holder: a Get's messages (answer, positions,
// strings' holders) cost one allocation instead of a dozen. Thread-safe
// (stateless); must outlive the server.
template <typename Req, typename Resp>
class ArenaMessages final : public grpc::MessageAllocator<Req, Resp> {
 public:
  grpc::MessageHolder<Req, Resp>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Req, Resp> {
   public:
    Holder() : arena_(Options(block_, sizeof(block_))) {
      this->set_request(google::protobuf::Arena::CreateMessage<Req>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Resp>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(char* block, size_t size) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = size;
      return options;
    }
    alignas(16) char block_[2048];
    google::protobuf::Arena arena_;
  };
};

// Merge keys: a key-value entry by its key, a window by (key, start).
struct KeyValueKey {
  std::string operator()(const v1::KeyValue& kv) const { return kv.key().raw(); }
};
struct WindowKey {
  std::pair<std::string, int64_t> operator()(const v1::WindowValue& w) const { return {w.key().raw(), w.start()}; }
};

google::protobuf::RepeatedPtrField<v1::KeyValue>* KeyValues(v1::KeyValueBatch& b) { return b.mutable_entries(); }
google::protobuf::RepeatedPtrField<v1::WindowValue>* Windows(v1::WindowBatch& b) { return b.mutable_windows(); }

}  // namespace

class QueryServer::Impl final : public v1::QueryService::CallbackService {
 public:
  Impl(KafkaStreams& streams, ServerOptions options)
      : streams_(streams),
        options_(std::move(options)),
        clock_(options_.clock != nullptr ? *options_.clock : streams.clock()),
        metadata_(streams, options_.metadata_refresh, clock_),
        executor_(options_.worker_threads),
        waiter_(clock_) {
    self_.process_id = streams.process_id();
    SetMessageAllocatorFor_Get(&get_messages_);
    SetMessageAllocatorFor_MultiGet(&multi_get_messages_);
  }

  absl::Status Listen() {
    const std::string& listen = options_.listen.empty() ? streams_.config().application_server() : options_.listen;
    if (listen.empty()) {
      return absl::InvalidArgumentError(
          "interactive queries need an endpoint: set config key 'application.server' (host:port)");
    }
    self_.endpoint = streams_.config().application_server().empty() ? listen : streams_.config().application_server();
    // query.tls.*: the files are read now, so a missing one stops start-up
    // naming its key; forwarding presents the same certificate.
    const TlsSettings tls = streams_.config().query_tls();
    auto server_credentials = internal::MakeServerCredentials(tls);
    if (!server_credentials.ok()) return server_credentials.status();
    if (tls.enabled()) {
      auto channel_credentials = internal::MakeTlsChannelCredentials(tls);
      if (!channel_credentials.ok()) return channel_credentials.status();
      forward_credentials_ = *std::move(channel_credentials);
    } else {
      forward_credentials_ = grpc::InsecureChannelCredentials();
    }
    internal::EnableStandardServices();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(listen, *server_credentials, &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(absl::StrCat("interactive queries: cannot listen on '", listen, "'"));
    }
    Logger("runnel")->info("interactive queries served at {} (port {}){}", self_.endpoint, port_,
                           !tls.enabled()                                 ? ""
                           : tls.client_auth == TlsClientAuth::kRequired ? " over mutual TLS"
                                                                          : " over TLS");
    return absl::OkStatus();
  }

  void Shutdown() {
    std::unique_ptr<grpc::Server> server;
    {
      std::lock_guard<std::mutex> lock(mu_);
      server = std::move(server_);
    }
    if (server != nullptr) server->Shutdown(internal::ToGrpcDeadline(clock_.Now() + absl::Seconds(5)));
  }

  int port() const { return port_; }
  const std::string& endpoint() const { return self_.endpoint; }

  // ---- keyed calls ----

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                v1::GetResponse* resp) override {
    return Keyed(
        ctx, *req, StoreSpec::Layout::kKeyValue,
        [this, resp](const StoreRef& ref, const LocalStores::Copy& copy, const ReadOnlyKeyValueStore& store,
                     std::string_view key, int32_t partition) -> absl::Status {
          auto value = store.Get(key);
          if (!value.ok()) return value.status();
          resp->set_found(value->has_value());
          if (*value) internal::SetValue(*ref.spec, **value, resp->mutable_value());
          internal::Describe(self_, copy, partition, resp->mutable_answered_by());
          return absl::OkStatus();
        },
        [resp](v1::QueryService::Stub& stub, grpc::ClientContext& c, const v1::GetRequest& forwarded) {
          return stub.Get(&c, forwarded, resp);
        });
  }

  grpc::ServerUnaryReactor* WindowFetch(grpc::CallbackServerContext* ctx, const v1::WindowFetchRequest* req,
                                        v1::WindowResponse* resp) override {
    if (absl::Status s = internal::CheckTimeRange(req->time_from(), req->time_to()); !s.ok()) return Reject(ctx, s);
    return Keyed(
        ctx, *req, StoreSpec::Layout::kWindow,
        [this, req, resp](const StoreRef& ref, const LocalStores::Copy& copy, const ReadOnlyKeyValueStore& store,
                          std::string_view key, int32_t partition) -> absl::Status {
          WindowStore ws(&store, internal::SegmentOptions(*ref.spec));
          RUNNEL_RETURN_IF_ERROR(ws.Init());
          auto windows = ws.Fetch(key, Timestamp(std::max<int64_t>(0, req->time_from())),
                                  Timestamp(std::max<int64_t>(0, req->time_to())));
          if (!windows.ok()) return windows.status();
          for (const WindowEntry& e : *windows) {
            RUNNEL_RETURN_IF_ERROR(internal::SetWindow(*ref.spec, e.key, e.start.value(),
                                                       e.start.value() + ref.spec->window_size_ms, e.value,
                                                       resp->add_windows()));
          }
          internal::Describe(self_, copy, partition, resp->mutable_answered_by());
          return absl::OkStatus();
        },
        [resp](v1::QueryService::Stub& stub, grpc::ClientContext& c, const v1::WindowFetchRequest& forwarded) {
          return stub.WindowFetch(&c, forwarded, resp);
        });
  }

  grpc::ServerUnaryReactor* SessionFetch(grpc::CallbackServerContext* ctx, const v1::SessionFetchRequest* req,
                                         v1::WindowResponse* resp) override {
    return Keyed(
        ctx, *req, StoreSpec::Layout::kSession,
        [this, resp](const StoreRef& ref, const LocalStores::Copy& copy, const ReadOnlyKeyValueStore& store,
                     std::string_view key, int32_t partition) -> absl::Status {
          SessionStore ss(&store, internal::SegmentOptions(*ref.spec));
          RUNNEL_RETURN_IF_ERROR(ss.Init());
          auto sessions = ss.FindSessions(key, Timestamp(0), Timestamp(std::numeric_limits<int64_t>::max()));
          if (!sessions.ok()) return sessions.status();
          for (const SessionEntry& e : *sessions) {
            RUNNEL_RETURN_IF_ERROR(
                internal::SetWindow(*ref.spec, e.key, e.start.value(), e.end.value(), e.value, resp->add_windows()));
          }
          internal::Describe(self_, copy, partition, resp->mutable_answered_by());
          return absl::OkStatus();
        },
        [resp](v1::QueryService::Stub& stub, grpc::ClientContext& c, const v1::SessionFetchRequest& forwarded) {
          return stub.SessionFetch(&c, forwarded, resp);
        });
  }

  grpc::ServerUnaryReactor* MultiGet(grpc::CallbackServerContext* ctx, const v1::MultiGetRequest* req,
                                     v1::MultiGetResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    auto finish = [ctx, reactor](const absl::Status& s) { reactor->Finish(Ending(ctx, s)); };
    if (req->keys_size() > internal::kMaxLimit) {
      finish(absl::InvalidArgumentError(
          absl::StrCat("at most ", internal::kMaxLimit, " keys per MultiGet, got ", req->keys_size())));
      return reactor;
    }
    auto plan = PlanMultiGet(*req);
    if (!plan.ok()) {
      finish(plan.status());
      return reactor;
    }
    // Every key local, nothing to wait for: answered on gRPC's thread, like
    // a Get. Positions not reached yet: parked until they are. Forwards and
    // uncommitted reads: on a worker.
    std::vector<std::shared_ptr<const StoreCopyStatus>> waits;
    bool blocking = req->options().uncommitted();
    for (const auto& [bytes, target] : plan->keys) {
      blocking = blocking || !target.local;
      if (target.local && !internal::Reached(*target.local, req->options())) waits.push_back(target.local->status);
    }
    if (waits.empty() && !blocking) {
      finish(AnswerMultiGet(ctx, *req, *plan, resp));
      return reactor;
    }
    auto answer = [this, ctx, req, resp, finish, plan = *std::move(plan)] {
      finish(AnswerMultiGet(ctx, *req, plan, resp));
    };
    if (waits.empty()) {
      executor_.Run(std::move(answer));
      return reactor;
    }
    waiter_.Wait(std::move(waits), req->options(), internal::FromGrpcDeadline(ctx->deadline()),
                 [ctx] { return ctx->IsCancelled(); },
                 [this, finish, answer = std::move(answer)](absl::Status s) mutable {
                   if (!s.ok()) {
                     finish(s);
                     return;
                   }
                   executor_.Run(std::move(answer));
                 });
    return reactor;
  }

  grpc::ServerUnaryReactor* Metadata(grpc::CallbackServerContext* ctx, const v1::MetadataRequest* req,
                                     v1::MetadataResponse* resp) override {
    auto metadata = metadata_.Get();
    if (!metadata.ok()) return Reject(ctx, metadata.status());
    return Reject(ctx, internal::FillMetadata(streams_.topology(), **metadata, *req, self_.endpoint, resp));
  }

  // ---- ranges ----

  grpc::ServerWriteReactor<v1::KeyValueBatch>* Range(grpc::CallbackServerContext* ctx,
                                                      const v1::RangeRequest* req) override {
    return KeyValueRange(ctx, req->store(), req->has_from() ? &req->from() : nullptr,
                         req->has_to() ? &req->to() : nullptr, req->limit(), req->options());
  }

  grpc::ServerWriteReactor<v1::KeyValueBatch>* All(grpc::CallbackServerContext* ctx,
                                                    const v1::AllRequest* req) override {
    return KeyValueRange(ctx, req->store(), nullptr, nullptr, req->limit(), req->options());
  }

  grpc::ServerWriteReactor<v1::WindowBatch>* WindowRange(grpc::CallbackServerContext* ctx,
                                                         const v1::WindowRangeRequest* req) override {
    using Writer = internal::RangeWriter<v1::WindowBatch, v1::WindowValue>;
    auto* writer = new Writer(ctx, Windows);
    const v1::ReadOptions& options = req->options();
    auto checked = CheckRange(req->store(), StoreSpec::Layout::kWindow, req->limit(), options);
    if (!checked.ok()) {
      writer->Fail(checked.status());
      return writer;
    }
    const StoreRef ref = checked->first;
    const size_t max = checked->second;
    absl::Status times = internal::CheckTimeRange(req->time_from(), req->time_to());
    auto bounds = times.ok() ? internal::ResolveBounds(ref, req->has_key_from() ? &req->key_from() : nullptr,
                                                       "key_from", req->has_key_to() ? &req->key_to() : nullptr,
                                                       "key_to")
                             : absl::StatusOr<internal::KeyBounds>(times);
    if (!bounds.ok()) {
      writer->Fail(bounds.status());
      return writer;
    }
    auto local = [ref, max, req, bounds = *std::move(bounds)](const LocalStores::Copy& copy)
        -> absl::StatusOr<std::unique_ptr<internal::SortedSource<v1::WindowValue>>> {
      // The window store reads whole ranges into memory: at most `max` of
      // them are kept per copy.
      WindowStore ws(copy.view.get(), internal::SegmentOptions(*ref.spec));
      RUNNEL_RETURN_IF_ERROR(internal::TaskMoved(ws.Init()));
      std::optional<std::string_view> lo, hi;
      if (bounds.lo) lo = *bounds.lo;
      if (bounds.hi) hi = *bounds.hi;
      auto windows = ws.FetchRange(lo, hi, Timestamp(std::max<int64_t>(0, req->time_from())),
                                   Timestamp(std::max<int64_t>(0, req->time_to())));
      if (!windows.ok()) return internal::TaskMoved(windows.status());
      std::vector<v1::WindowValue> out(std::min(windows->size(), max));
      for (size_t i = 0; i < out.size(); ++i) {
        const WindowEntry& e = (*windows)[i];
        RUNNEL_RETURN_IF_ERROR(internal::SetWindow(*ref.spec, e.key, e.start.value(),
                                                   e.start.value() + ref.spec->window_size_ms, e.value, &out[i]));
      }
      return std::make_unique<internal::ListSource<v1::WindowValue>>(std::move(out));
    };
    auto open = [this, req](const std::string& endpoint, absl::Time deadline) {
      auto forwarded = std::make_shared<v1::WindowRangeRequest>(*req);
      forwarded->mutable_options()->set_no_forward(true);
      auto stub = StubFor(endpoint);
      return std::make_unique<internal::RemoteStream<v1::WindowBatch>>(
          endpoint, deadline,
          [stub, forwarded](grpc::ClientContext* c, grpc::ClientReadReactor<v1::WindowBatch>* reactor) {
            stub->async()->WindowRange(c, forwarded.get(), reactor);
          });
    };
    StartRange<v1::WindowBatch, v1::WindowValue, WindowKey>(ctx, writer, ref, max, options, local, open);
    return writer;
  }

 private:
  // ---- keyed calls: answered here, parked, forwarded, or refused ----

  // `answer(ref, copy, store, key, partition)` reads a local copy into the
  // response; `forward(stub, context, request)` asks the owner.
  template <typename Req, typename Answer, typename Forward>
  grpc::ServerUnaryReactor* Keyed(grpc::CallbackServerContext* ctx, const Req& req, StoreSpec::Layout layout,
                                  Answer answer, Forward forward) {
    auto* reactor = ctx->DefaultReactor();
    auto finish = [ctx, reactor](const absl::Status& s) { reactor->Finish(Ending(ctx, s)); };
    const v1::ReadOptions& options = req.options();
    auto target = ResolveKey(req.store(), req.key(), layout, options);
    if (!target.ok()) {
      finish(target.status());
      return reactor;
    }
    const StoreRef ref = target->ref;
    std::string bytes = std::move(target->bytes);
    Target to = std::move(target->target);
    if (to.local && !options.uncommitted() && internal::Reached(*to.local, options)) {
      finish(internal::TaskMoved(answer(ref, *to.local, *to.local->view, bytes, to.partition)));
      return reactor;
    }
    if (!to.local) {
      // Forwarding blocks: off gRPC's threads.
      executor_.Run([this, ctx, &req, remote = to.remote, forward, finish] {
        Req forwarded = req;
        forwarded.mutable_options()->set_no_forward(true);
        grpc::ClientContext client;
        client.set_deadline(ctx->deadline());
        finish(ForwardResult(ctx, forward(*StubFor(remote), client, forwarded)));
      });
      return reactor;
    }
    // Before `to` moves into the read.
    std::shared_ptr<const StoreCopyStatus> status = to.local->status;
    const bool reached = internal::Reached(*to.local, options);
    auto read = [this, ctx, finish, answer, ref, bytes = std::move(bytes), to = std::move(to),
                 uncommitted = options.uncommitted()] {
      const LocalStores::Copy& copy = *to.local;
      finish(ReadCopy(ctx, copy, ref.spec->name, uncommitted, [&](const ReadOnlyKeyValueStore& store) {
        return answer(ref, copy, store, bytes, to.partition);
      }));
    };
    if (reached) {
      executor_.Run(std::move(read));  // an uncommitted read: on the stream thread, waited for here
      return reactor;
    }
    waiter_.Wait({std::move(status)}, options, internal::FromGrpcDeadline(ctx->deadline()),
                 [ctx] { return ctx->IsCancelled(); },
                 [this, finish, read = std::move(read)](absl::Status s) mutable {
                   if (!s.ok()) {
                     finish(s);
                     return;
                   }
                   executor_.Run(std::move(read));
                 });
    return reactor;
  }

  struct KeyTarget {
    StoreRef ref;
    std::string bytes;
    Target target;
  };
  absl::StatusOr<KeyTarget> ResolveKey(const std::string& store, const v1::Key& key, StoreSpec::Layout layout,
                                       const v1::ReadOptions& options) {
    RUNNEL_RETURN_IF_ERROR(internal::CheckOptions(options));
    auto ref = internal::FindStore(streams_.topology(), store, layout);
    if (!ref.ok()) return ref.status();
    auto bytes = internal::KeyBytes(*ref, key, "key");
    if (!bytes.ok()) return bytes.status();
    auto target = internal::Route(*ref, *bytes, options, Routing(*ref));
    if (!target.ok()) return target.status();
    return KeyTarget{*ref, *std::move(bytes), *std::move(target)};
  }

  internal::RoutingContext Routing(const StoreRef& ref) {
    return internal::RoutingContext{streams_.local_stores(), self_.process_id, metadata_.TasksOf(ref.subtopology),
                                    [this] { return metadata_.Get(); }};
  }

  // Runs `fn` against a local copy: its committed view, or with
  // `uncommitted` on the stream thread that owns it (cache and open
  // transaction included). Blocks: worker threads only when uncommitted.
  absl::Status ReadCopy(grpc::CallbackServerContext* ctx, const LocalStores::Copy& copy, const std::string& store,
                        bool uncommitted, const std::function<absl::Status(const ReadOnlyKeyValueStore&)>& fn) {
    if (!uncommitted || copy.status == nullptr) return internal::TaskMoved(fn(*copy.view));
    const absl::Duration left = internal::FromGrpcDeadline(ctx->deadline()) - clock_.Now();
    return streams_.ReadUncommitted(copy.task, store, fn, std::clamp(left, absl::Milliseconds(1), absl::Seconds(30)));
  }

  // A forwarded call's status as this call's: the owner cancelling (it is
  // shutting down) or being unreachable is a retry for our caller.
  absl::Status ForwardResult(grpc::CallbackServerContext* ctx, const grpc::Status& s) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        (s.error_code() == grpc::StatusCode::CANCELLED && !ctx->IsCancelled())) {
      metadata_.Refresh();
      return absl::UnavailableError(absl::StrCat("the owner did not answer: ", s.error_message()));
    }
    return internal::FromGrpc(s);
  }

  grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* ctx, const absl::Status& s) {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(Ending(ctx, s));
    return reactor;
  }

  // A MultiGet's keys, decoded and resolved, in request order.
  struct MultiGetPlan {
    StoreRef ref;
    std::vector<std::pair<std::string, Target>> keys;
  };

  absl::StatusOr<MultiGetPlan> PlanMultiGet(const v1::MultiGetRequest& req) {
    RUNNEL_RETURN_IF_ERROR(internal::CheckOptions(req.options()));
    auto ref = internal::FindStore(streams_.topology(), req.store(), StoreSpec::Layout::kKeyValue);
    if (!ref.ok()) return ref.status();
    MultiGetPlan plan{*ref, {}};
    plan.keys.reserve(static_cast<size_t>(req.keys_size()));
    const internal::RoutingContext routing = Routing(*ref);
    for (const v1::Key& key : req.keys()) {
      auto bytes = internal::KeyBytes(*ref, key, "key");
      if (!bytes.ok()) return bytes.status();
      auto target = internal::Route(*ref, *bytes, req.options(), routing);
      if (!target.ok()) return target.status();
      plan.keys.emplace_back(*std::move(bytes), *std::move(target));
    }
    return plan;
  }

  // Answers local keys here (their positions reached) and sends the others
  // to their owners, one MultiGet per owner, all at once; results keep the
  // request's order. Blocks for the forwards.
  absl::Status AnswerMultiGet(grpc::CallbackServerContext* ctx, const v1::MultiGetRequest& req,
                              const MultiGetPlan& plan, v1::MultiGetResponse* resp) {
    std::set<std::pair<std::string, int32_t>> answered;
    std::map<std::string, std::vector<int>> remote;  // owner endpoint -> key indexes
    for (int i = 0; i < req.keys_size(); ++i) *resp->add_results()->mutable_key() = req.keys(i);
    for (int i = 0; i < req.keys_size(); ++i) {
      const auto& [bytes, target] = plan.keys[static_cast<size_t>(i)];
      if (!target.local) {
        remote[target.remote].push_back(i);
        continue;
      }
      std::optional<std::string> value;
      RUNNEL_RETURN_IF_ERROR(ReadCopy(ctx, *target.local, req.store(), req.options().uncommitted(),
                                      [&](const ReadOnlyKeyValueStore& store) -> absl::Status {
                                        auto v = store.Get(bytes);
                                        if (!v.ok()) return v.status();
                                        value = *std::move(v);
                                        return absl::OkStatus();
                                      }));
      v1::KeyValue* out = resp->mutable_results(i);
      out->set_found(value.has_value());
      if (value) internal::SetValue(*plan.ref.spec, *value, out->mutable_value());
      if (answered.insert({self_.endpoint, target.partition}).second) {
        internal::Describe(self_, *target.local, target.partition, resp->add_answered_by());
      }
    }
    if (remote.empty()) return absl::OkStatus();
    // The forwards: each owner answers its keys itself (no_forward).
    struct Forward {
      std::string endpoint;
      const std::vector<int>* indexes;
      v1::MultiGetRequest request;
      v1::MultiGetResponse response;
      grpc::ClientContext context;
      grpc::Status status;
    };
    std::vector<std::unique_ptr<Forward>> forwards;
    std::mutex mu;
    std::condition_variable done;
    size_t pending = remote.size();
    for (const auto& [endpoint, indexes] : remote) {
      auto& f = forwards.emplace_back(std::make_unique<Forward>());
      f->endpoint = endpoint;
      f->indexes = &indexes;
      f->request.set_store(req.store());
      *f->request.mutable_options() = req.options();
      f->request.mutable_options()->set_no_forward(true);
      for (int i : indexes) *f->request.add_keys() = req.keys(i);
      f->context.set_deadline(ctx->deadline());
      StubFor(endpoint)->async()->MultiGet(&f->context, &f->request, &f->response,
                                           [&mu, &done, &pending, f = f.get()](grpc::Status s) {
                                             std::lock_guard<std::mutex> lock(mu);
                                             f->status = std::move(s);
                                             if (--pending == 0) done.notify_all();
                                           });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      done.wait(lock, [&] { return pending == 0; });
    }
    for (const auto& f : forwards) {
      RUNNEL_RETURN_IF_ERROR(ForwardResult(ctx, f->status));
      if (f->response.results_size() != static_cast<int>(f->indexes->size())) {
        return absl::InternalError(absl::StrCat("instance ", f->endpoint, " answered ", f->response.results_size(),
                                                " results for ", f->indexes->size(), " keys"));
      }
      for (size_t j = 0; j < f->indexes->size(); ++j) {
        const v1::KeyValue& got = f->response.results(static_cast<int>(j));
        v1::KeyValue* out = resp->mutable_results((*f->indexes)[j]);
        out->set_found(got.found());
        if (got.found()) *out->mutable_value() = got.value();
      }
      for (const v1::Answer& by : f->response.answered_by()) {
        if (answered.insert({f->endpoint, by.partition()}).second) *resp->add_answered_by() = by;
      }
    }
    return absl::OkStatus();
  }

  // ---- ranges: local copies and other instances, merged in key order ----

  // A range's options, store and limit, checked.
  absl::StatusOr<std::pair<StoreRef, size_t>> CheckRange(const std::string& store, StoreSpec::Layout layout,
                                                         int32_t limit, const v1::ReadOptions& options) {
    RUNNEL_RETURN_IF_ERROR(internal::CheckOptions(options));
    RUNNEL_RETURN_IF_ERROR(internal::NoUncommittedRange(options));
    auto max = internal::CheckLimit(limit);
    if (!max.ok()) return max.status();
    auto ref = internal::FindStore(streams_.topology(), store, layout);
    if (!ref.ok()) return ref.status();
    return std::make_pair(*ref, *max);
  }

  grpc::ServerWriteReactor<v1::KeyValueBatch>* KeyValueRange(grpc::CallbackServerContext* ctx, const std::string& store,
                                                             const v1::Key* from, const v1::Key* to, int32_t limit,
                                                             const v1::ReadOptions& options) {
    auto* writer = new internal::RangeWriter<v1::KeyValueBatch, v1::KeyValue>(ctx, KeyValues);
    auto checked = CheckRange(store, StoreSpec::Layout::kKeyValue, limit, options);
    if (!checked.ok()) {
      writer->Fail(checked.status());
      return writer;
    }
    const StoreRef ref = checked->first;
    const size_t max = checked->second;
    auto bounds = internal::ResolveBounds(ref, from, "from", to, "to");
    if (!bounds.ok()) {
      writer->Fail(bounds.status());
      return writer;
    }
    auto local = [ref, max, bounds = *bounds](const LocalStores::Copy& copy)
        -> absl::StatusOr<std::unique_ptr<internal::SortedSource<v1::KeyValue>>> {
      return std::make_unique<internal::IteratorSource>(
          copy.view, bounds.lo, bounds.hi, max,
          [spec = ref.spec](std::string_view key, std::string_view value, v1::KeyValue* out) {
            out->set_found(true);
            out->mutable_key()->set_raw(std::string(key));
            internal::SetValue(*spec, value, out->mutable_value());
          });
    };
    // Other instances get a Range (All included) that they answer alone.
    auto forwarded = std::make_shared<v1::RangeRequest>();
    forwarded->set_store(store);
    if (from != nullptr) *forwarded->mutable_from() = *from;
    if (to != nullptr) *forwarded->mutable_to() = *to;
    forwarded->set_limit(limit);
    *forwarded->mutable_options() = options;
    forwarded->mutable_options()->set_no_forward(true);
    auto open = [this, forwarded](const std::string& endpoint, absl::Time deadline) {
      auto stub = StubFor(endpoint);
      return std::make_unique<internal::RemoteStream<v1::KeyValueBatch>>(
          endpoint, deadline,
          [stub, forwarded](grpc::ClientContext* c, grpc::ClientReadReactor<v1::KeyValueBatch>* reactor) {
            stub->async()->Range(c, forwarded.get(), reactor);
          });
    };
    StartRange<v1::KeyValueBatch, v1::KeyValue, KeyValueKey>(ctx, writer, ref, max, options, local, open);
    return writer;
  }

  // Starts `writer` on the merge of the local copies (`local(copy)` opens
  // one) and, unless the request was forwarded here or the store is
  // global, the other instances' streams (`open(endpoint, deadline)`), all
  // at once. Local only: it runs on gRPC's threads (reads never wait);
  // with other instances, on workers, one batch at a time.
  template <typename Batch, typename Entry, typename KeyOf, typename Local, typename Open>
  void StartRange(grpc::CallbackServerContext* ctx, internal::RangeWriter<Batch, Entry>* writer, const StoreRef& ref,
                  size_t max, const v1::ReadOptions& options, Local local, Open open) {
    using Writer = internal::RangeWriter<Batch, Entry>;
    const bool fan_out = !options.no_forward() && ref.subtopology >= 0;
    const absl::Time deadline = internal::FromGrpcDeadline(ctx->deadline());
    auto prepare = [this, writer, ref, max, options, local, open, fan_out,
                    deadline]() -> absl::StatusOr<typename Writer::Prepared> {
      std::map<int32_t, v1::Answer> answered;
      std::vector<std::unique_ptr<internal::SortedSource<Entry>>> sources;
      for (auto& copy : internal::RangeCopies(streams_.local_stores().FindCopies(ref.spec->name), options)) {
        const int32_t partition = copy.task.partition.value();
        if (answered.contains(partition)) continue;
        auto source = local(copy);
        if (!source.ok()) return source.status();
        internal::Describe(self_, copy, partition, &answered[partition]);
        sources.push_back(*std::move(source));
      }
      if (fan_out) {
        auto metadata = metadata_.Get();
        if (!metadata.ok()) return metadata.status();
        std::vector<std::string> endpoints;
        for (const auto& [process, endpoint] : (*metadata)->endpoints) {
          if (process != self_.process_id && !endpoint.empty()) endpoints.push_back(endpoint);
        }
        auto remote = internal::OpenRemoteSources<Batch, Entry>(
            endpoints, [&](const std::string& endpoint) { return open(endpoint, deadline); },
            writer->entries(), answered,
            [](const std::string& endpoint, const absl::Status& s) {
              // Its partitions count as missing: the coverage check decides.
              Logger("runnel")->debug("queries: fan-out to {}: {}", endpoint, s.ToString());
            });
        for (auto& source : remote) sources.push_back(std::move(source));
        if (absl::Status s = internal::CheckCoverage(ref.spec->name, metadata_.TasksOf(ref.subtopology), answered);
            !s.ok()) {
          metadata_.Refresh();
          return s;
        }
      }
      typename Writer::Prepared prepared;
      for (auto& [partition, answer] : answered) prepared.answers.push_back(std::move(answer));
      prepared.source = std::make_unique<internal::KWayMerge<Entry, KeyOf>>(std::move(sources), max);
      return prepared;
    };
    if (fan_out) {
      writer->Begin([this](std::function<void()> step) { executor_.Run(std::move(step)); }, std::move(prepare));
    } else {
      writer->Begin([](std::function<void()> step) { step(); }, std::move(prepare));
    }
  }

  std::shared_ptr<v1::QueryService::Stub> StubFor(const std::string& endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& stub = stubs_[endpoint];
    if (stub == nullptr) {
      stub = v1::QueryService::NewStub(grpc::CreateChannel(endpoint, forward_credentials_));
    }
    return stub;
  }

  KafkaStreams& streams_;
  const ServerOptions options_;
  const Clock& clock_;
  internal::Self self_;
  int port_ = 0;
  internal::MetadataCache metadata_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<v1::QueryService::Stub>> stubs_;
  // For forwards and fan-outs to other instances: TLS with this instance's
  // certificate when query.tls is on. Set by Listen, read-only after.
  std::shared_ptr<grpc::ChannelCredentials> forward_credentials_;
  // Before the server: they outlive it.
  ArenaMessages<v1::GetRequest, v1::GetResponse> get_messages_;
  ArenaMessages<v1::MultiGetRequest, v1::MultiGetResponse> multi_get_messages_;
  std::unique_ptr<grpc::Server> server_;
  // Last: destroyed first. The waiter completes what it still parks (its
  // callbacks may queue on the executor), then the workers finish the queue.
  internal::Executor executor_;
  internal::PositionWaiter waiter_;
};

QueryServer::QueryServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

QueryServer::~QueryServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<QueryServer>> QueryServer::Start(KafkaStreams& streams, ServerOptions options) {
  if (streams.process_id().empty()) {
    return absl::FailedPreconditionError("start the KafkaStreams instance before its query server");
  }
  auto impl = std::make_unique<Impl>(streams, std::move(options));
  RUNNEL_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<QueryServer>(new QueryServer(std::move(impl)));
}

void QueryServer::Shutdown() {
  if (impl_ != nullptr) impl_->Shutdown();
}

int QueryServer::port() const { return impl_->port(); }
const std::string& QueryServer::endpoint() const { return impl_->endpoint(); }

}  // namespace runnel::query
