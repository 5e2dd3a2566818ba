#include "runnel/query/query_server.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "runnel/common/logging.h"
#include "runnel/common/strings.h"
#include "runnel/kafka/partitioner.h"
#include "runnel/query/internal/grpc_services.h"
#include "runnel/query/internal/metadata_cache.h"
#include "runnel/query/v1/query.grpc.pb.h"
#include "runnel/serde/serdes.h"
#include "runnel/state/window_store.h"

namespace runnel::query {
namespace {

namespace v1 = ::runnel::query::v1;

constexpr int kMaxLimit = 1'000'000;
constexpr size_t kBatchEntries = 1000;
constexpr const char* kRetryAfterMs = "500";

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// Fixed worker threads for what must not run on gRPC's callback threads:
// blocking forwards, fan-outs and position waits.
class Executor {
 public:
  explicit Executor(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { Work(); });
  }
  ~Executor() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void Run(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// Writes a prepared list of messages on a server stream, one after the
// other, then finishes. Deletes itself when gRPC is done with it.
template <typename T>
class ListWriter final : public grpc::ServerWriteReactor<T> {
 public:
  // From any thread, once: the messages to send, or the error to end with.
  void Send(absl::StatusOr<std::vector<T>> messages) {
    if (!messages.ok()) {
      this->Finish(ToGrpc(messages.status()));
      return;
    }
    messages_ = *std::move(messages);
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ >= messages_.size()) {
      this->Finish(grpc::Status::OK);
      return;
    }
    this->StartWrite(&messages_[next_++]);
  }
  std::vector<T> messages_;
  size_t next_ = 0;
};

// A store as queries see it.
struct StoreRef {
  const StoreSpec* spec = nullptr;
  // -1: a global store (every instance has all of it).
  int32_t subtopology = -1;
};

// Where a keyed request is answered.
struct Target {
  std::optional<LocalStores::Copy> local;
  std::string remote;  // an endpoint to forward to (when no local copy)
  int32_t partition = 0;
};

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

}  // namespace

class QueryServer::Impl final : public v1::QueryService::CallbackService {
 public:
  Impl(KafkaStreams& streams, ServerOptions options)
      : streams_(streams),
        options_(std::move(options)),
        process_id_(streams.process_id()),
        metadata_(streams, options_.metadata_refresh),
        executor_(options_.worker_threads) {
    SetMessageAllocatorFor_Get(&get_messages_);
    SetMessageAllocatorFor_MultiGet(&multi_get_messages_);
  }

  absl::Status Listen() {
    const std::string& listen = options_.listen.empty() ? streams_.config().application_server() : options_.listen;
    if (listen.empty()) {
      return absl::InvalidArgumentError(
          "interactive queries need an endpoint: set config key 'application.server' (host:port)");
    }
    endpoint_ = streams_.config().application_server().empty() ? listen : streams_.config().application_server();
    internal::EnableStandardServices();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(absl::StrCat("interactive queries: cannot listen on '", listen, "'"));
    }
    Logger("runnel")->info("interactive queries served at {} (port {})", endpoint_, port_);
    return absl::OkStatus();
  }

  void Shutdown() {
    std::unique_ptr<grpc::Server> server;
    {
      std::lock_guard<std::mutex> lock(mu_);
      server = std::move(server_);
    }
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  int port() const { return port_; }
  const std::string& endpoint() const { return endpoint_; }

  // ---- unary calls ----

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                v1::GetResponse* resp) override {
    return Keyed(ctx, req->store(), req->key(), req->options(), StoreSpec::Layout::kKeyValue, resp,
                 [this, resp](const StoreRef& ref, const LocalStores::Copy& copy, const ReadOnlyKeyValueStore& store,
                              std::string_view key, int32_t partition) -> absl::Status {
                   auto value = store.Get(key);
                   if (!value.ok()) return value.status();
                   resp->set_found(value->has_value());
                   if (*value) SetValue(ref, **value, resp->mutable_value());
                   Describe(copy, partition, resp->mutable_answered_by());
                   return absl::OkStatus();
                 },
                 [](v1::QueryService::Stub& stub, grpc::ClientContext& c, const v1::GetRequest& forwarded,
                    v1::GetResponse* out) { return stub.Get(&c, forwarded, out); },
                 *req);
  }

  grpc::ServerUnaryReactor* WindowFetch(grpc::CallbackServerContext* ctx, const v1::WindowFetchRequest* req,
                                        v1::WindowResponse* resp) override {
    if (req->time_from() > req->time_to()) {
      return Reject(ctx, absl::InvalidArgumentError(absl::StrCat("time_from (", req->time_from(),
                                                                 ") is after time_to (", req->time_to(), ")")));
    }
    return Keyed(ctx, req->store(), req->key(), req->options(), StoreSpec::Layout::kWindow, resp,
                 [this, req, resp](const StoreRef& ref, const LocalStores::Copy& copy,
                                   const ReadOnlyKeyValueStore& store, std::string_view key,
                                   int32_t partition) -> absl::Status {
                   WindowStore ws(&store, SegmentOptions(ref));
                   RUNNEL_RETURN_IF_ERROR(ws.Init());
                   auto windows = ws.Fetch(key, Timestamp(std::max<int64_t>(0, req->time_from())),
                                           Timestamp(std::max<int64_t>(0, req->time_to())));
                   if (!windows.ok()) return windows.status();
                   for (const WindowEntry& e : *windows) {
                     RUNNEL_RETURN_IF_ERROR(AddWindow(ref, e.key, e.start.value(),
                                                      e.start.value() + ref.spec->window_size_ms, e.value,
                                                      resp->add_windows()));
                   }
                   Describe(copy, partition, resp->mutable_answered_by());
                   return absl::OkStatus();
                 },
                 [](v1::QueryService::Stub& stub, grpc::ClientContext& c, const v1::WindowFetchRequest& forwarded,
                    v1::WindowResponse* out) { return stub.WindowFetch(&c, forwarded, out); },
                 *req);
  }

  grpc::ServerUnaryReactor* SessionFetch(grpc::CallbackServerContext* ctx, const v1::SessionFetchRequest* req,
                                         v1::WindowResponse* resp) override {
    return Keyed(ctx, req->store(), req->key(), req->options(), StoreSpec::Layout::kSession, resp,
                 [this, resp](const StoreRef& ref, const LocalStores::Copy& copy, const ReadOnlyKeyValueStore& store,
                              std::string_view key, int32_t partition) -> absl::Status {
                   SessionStore ss(&store, SegmentOptions(ref));
                   RUNNEL_RETURN_IF_ERROR(ss.Init());
                   auto sessions = ss.FindSessions(key, Timestamp(0), Timestamp(std::numeric_limits<int64_t>::max()));
                   if (!sessions.ok()) return sessions.status();
                   for (const SessionEntry& e : *sessions) {
                     RUNNEL_RETURN_IF_ERROR(
                         AddWindow(ref, e.key, e.start.value(), e.end.value(), e.value, resp->add_windows()));
                   }
                   Describe(copy, partition, resp->mutable_answered_by());
                   return absl::OkStatus();
                 },
                 [](v1::QueryService::Stub& stub, grpc::ClientContext& c, const v1::SessionFetchRequest& forwarded,
                    v1::WindowResponse* out) { return stub.SessionFetch(&c, forwarded, out); },
                 *req);
  }

  grpc::ServerUnaryReactor* MultiGet(grpc::CallbackServerContext* ctx, const v1::MultiGetRequest* req,
                                     v1::MultiGetResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    if (req->keys_size() > kMaxLimit) {
      reactor->Finish(ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("at most ", kMaxLimit, " keys per MultiGet, got ", req->keys_size()))));
      return reactor;
    }
    auto finish = [ctx, reactor](const absl::Status& s) {
      if (absl::IsUnavailable(s)) ctx->AddTrailingMetadata("retry-after-ms", kRetryAfterMs);
      reactor->Finish(ToGrpc(s));
    };
    auto plan = PlanMultiGet(*req);
    if (!plan.ok()) {
      finish(plan.status());
      return reactor;
    }
    // All keys local and nothing to wait for: answered on gRPC's thread, like
    // a Get. Otherwise (forwards, min_position, uncommitted reads) on a
    // worker.
    bool blocking = req->options().uncommitted() || req->options().min_position_size() > 0;
    for (const auto& [bytes, target] : plan->keys) blocking = blocking || !target.local;
    if (!blocking) {
      finish(AnswerMultiGet(ctx, *req, *plan, resp));
      return reactor;
    }
    executor_.Run([this, ctx, req, resp, finish, plan = *std::move(plan)] {
      finish(AnswerMultiGet(ctx, *req, plan, resp));
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Metadata(grpc::CallbackServerContext* ctx, const v1::MetadataRequest* req,
                                     v1::MetadataResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(FillMetadata(*req, resp)));
    return reactor;
  }

  // ---- streams ----

  grpc::ServerWriteReactor<v1::KeyValueBatch>* Range(grpc::CallbackServerContext* ctx,
                                                      const v1::RangeRequest* req) override {
    auto* writer = new ListWriter<v1::KeyValueBatch>();
    executor_.Run([this, ctx, req, writer] {
      writer->Send(RangeBlocking(ctx, req->store(), req->has_from() ? &req->from() : nullptr,
                                 req->has_to() ? &req->to() : nullptr, req->limit(), req->options()));
    });
    return writer;
  }

  grpc::ServerWriteReactor<v1::KeyValueBatch>* All(grpc::CallbackServerContext* ctx,
                                                    const v1::AllRequest* req) override {
    auto* writer = new ListWriter<v1::KeyValueBatch>();
    executor_.Run([this, ctx, req, writer] {
      writer->Send(RangeBlocking(ctx, req->store(), nullptr, nullptr, req->limit(), req->options()));
    });
    return writer;
  }

  grpc::ServerWriteReactor<v1::WindowBatch>* WindowRange(grpc::CallbackServerContext* ctx,
                                                         const v1::WindowRangeRequest* req) override {
    auto* writer = new ListWriter<v1::WindowBatch>();
    executor_.Run([this, ctx, req, writer] { writer->Send(WindowRangeBlocking(ctx, *req)); });
    return writer;
  }

 private:
  // ---- resolution ----

  absl::StatusOr<StoreRef> FindStore(const std::string& name, std::optional<StoreSpec::Layout> want) const {
    const Topology& topology = streams_.topology();
    auto it = topology.stores().find(name);
    if (name.empty()) return absl::InvalidArgumentError("no store named in the request");
    if (it == topology.stores().end()) {
      std::vector<std::string> names;
      for (const auto& [n, spec] : topology.stores()) {
        if (spec.layout != StoreSpec::Layout::kInternal) names.push_back(n);
      }
      return absl::NotFoundError(
          absl::StrCat("no store '", name, "'; queryable stores: [", absl::StrJoin(names, ", "), "]"));
    }
    const StoreSpec& spec = it->second;
    if (spec.layout == StoreSpec::Layout::kInternal) {
      return absl::InvalidArgumentError(
          absl::StrCat("store '", name, "' is internal to an operator (its layout is private): not queryable"));
    }
    if (spec.kind != StoreSpec::Kind::kRocksDb) {
      return absl::InvalidArgumentError(
          absl::StrCat("store '", name, "' is in memory: only RocksDB stores can be queried from other threads"));
    }
    if (want && spec.layout != *want) {
      return absl::InvalidArgumentError(absl::StrCat("store '", name, "' is a ", LayoutName(spec.layout),
                                                     " store; this call is for ", LayoutName(*want), " stores"));
    }
    StoreRef ref{&spec, -1};
    for (const auto& sub : topology.subtopologies()) {
      if (std::find(sub.stores.begin(), sub.stores.end(), name) != sub.stores.end()) ref.subtopology = sub.id;
    }
    return ref;
  }

  static const char* LayoutName(StoreSpec::Layout layout) {
    switch (layout) {
      case StoreSpec::Layout::kKeyValue:
        return "key_value";
      case StoreSpec::Layout::kWindow:
        return "window";
      case StoreSpec::Layout::kSession:
        return "session";
      case StoreSpec::Layout::kInternal:
        return "internal";
    }
    return "unknown";
  }

  absl::StatusOr<std::string> KeyBytes(const StoreRef& ref, const v1::Key& key, std::string_view what) const {
    switch (key.form_case()) {
      case v1::Key::kRaw:
        return key.raw();
      case v1::Key::kText:
        if (ref.spec->text == nullptr || !ref.spec->text->parse_key) {
          return absl::InvalidArgumentError(absl::StrCat(
              "store '", ref.spec->name, "' keys (serde '", ref.spec->text ? ref.spec->text->key_serde : "",
              "') have no text form: give ", ToAbsl(what), ".raw"));
        }
        {
          auto bytes = ref.spec->text->parse_key(key.text());
          if (!bytes.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat(ToAbsl(what), " '", key.text(), "' does not decode: ", bytes.status().message()));
          }
          return bytes;
        }
      case v1::Key::FORM_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError(absl::StrCat("missing ", ToAbsl(what), " (set raw or text)"));
  }

  static absl::Status CheckOptions(const v1::ReadOptions& options) {
    if (options.has_max_lag() && options.max_lag() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("max_lag must be >= 0, got ", options.max_lag()));
    }
    if (options.uncommitted() && options.has_max_lag()) {
      return absl::InvalidArgumentError(
          "uncommitted reads come from the active owner's stream thread; max_lag (standbys) does not apply");
    }
    return absl::OkStatus();
  }

  int32_t Partitions(const StoreRef& ref) const { return metadata_.TasksOf(ref.subtopology); }

  absl::StatusOr<Target> Resolve(const StoreRef& ref, std::string_view key, const v1::ReadOptions& options) {
    const LocalStores& local = streams_.local_stores();
    if (ref.subtopology < 0) {
      auto copies = local.FindCopies(ref.spec->name);
      if (copies.empty()) return absl::UnavailableError(absl::StrCat("global store '", ref.spec->name, "' is not open yet"));
      return Target{copies.front(), "", 0};
    }
    const int32_t partitions = Partitions(ref);
    if (partitions <= 0) {
      return absl::UnavailableError(absl::StrCat("store '", ref.spec->name,
                                                 "': the group's assignment is not known yet"));
    }
    const TaskId task{ref.subtopology, kafka::PartitionForKey(key, partitions)};
    Target target;
    target.partition = task.partition.value();
    auto copy = local.FindCopy(ref.spec->name, task);
    auto usable_active = [](const LocalStores::Copy& c) {
      return c.status == nullptr || (!c.status->standby() && c.status->ready());
    };
    if (copy && usable_active(*copy)) {
      target.local = std::move(copy);
      return target;
    }
    std::string why = copy ? (copy->status->standby() ? "this instance keeps only a standby of it"
                                                      : "this instance's copy is still restoring")
                           : "this instance does not own it";
    if (!options.no_forward()) {
      auto metadata = metadata_.Get();
      if (metadata.ok()) {
        auto owner = (*metadata)->active.find(task);
        if (owner != (*metadata)->active.end() && owner->second != process_id_) {
          auto endpoint = (*metadata)->endpoints.find(owner->second);
          if (endpoint != (*metadata)->endpoints.end() && !endpoint->second.empty()) {
            target.remote = endpoint->second;
            return target;
          }
          why = absl::StrCat("its owner (process ", owner->second, ") has no application.server");
        }
      } else {
        why = std::string(metadata.status().message());
      }
    }
    if (options.has_max_lag()) {
      if (copy && copy->status != nullptr && copy->status->Lag() >= 0 && copy->status->Lag() <= options.max_lag()) {
        target.local = std::move(copy);
        return target;
      }
      if (!options.no_forward()) {
        auto metadata = metadata_.Get();
        if (metadata.ok()) {
          auto standbys = (*metadata)->standbys.find(task);
          if (standbys != (*metadata)->standbys.end()) {
            for (const auto& process : standbys->second) {
              auto endpoint = (*metadata)->endpoints.find(process);
              if (process != process_id_ && endpoint != (*metadata)->endpoints.end() && !endpoint->second.empty()) {
                target.remote = endpoint->second;
                return target;
              }
            }
          }
        }
      }
    }
    return absl::UnavailableError(absl::StrCat("partition ", task.partition.value(), " of store '", ref.spec->name,
                                               "' cannot be answered now: ", why,
                                               "; retry, or allow staleness with max_lag"));
  }

  // Runs `fn` against a local copy: its committed view, or with
  // `uncommitted` on the stream thread that owns it (cache and open
  // transaction included). Blocks: worker threads only when uncommitted.
  absl::Status ReadCopy(grpc::CallbackServerContext* ctx, const LocalStores::Copy& copy, const std::string& store,
                        bool uncommitted, const std::function<absl::Status(const ReadOnlyKeyValueStore&)>& fn) {
    if (!uncommitted || copy.status == nullptr) return TaskMoved(fn(*copy.view));
    const auto left = ctx->deadline() - std::chrono::system_clock::now();
    const absl::Duration timeout =
        std::clamp(absl::FromChrono(left), absl::Milliseconds(1), absl::Seconds(30));
    return streams_.ReadUncommitted(copy.task, store, fn, timeout);
  }

  // A store closed under a read (its task moved away meanwhile) answers
  // FailedPrecondition: for the caller that is a retry, not an error.
  static absl::Status TaskMoved(absl::Status s) {
    if (!absl::IsFailedPrecondition(s)) return s;
    return absl::UnavailableError(absl::StrCat("the store closed during the read (its task moved): ", s.message()));
  }

  static bool Reached(const LocalStores::Copy& copy, const v1::ReadOptions& options) {
    if (options.min_position_size() == 0) return true;
    if (copy.status == nullptr) return false;
    auto positions = copy.status->Positions();
    for (const auto& want : options.min_position()) {
      bool ok = false;
      for (const auto& [tp, offset] : positions) {
        if (tp.topic == want.topic() && tp.partition.value() == want.partition() && offset.value() >= want.offset()) {
          ok = true;
        }
      }
      if (!ok) return false;
    }
    return true;
  }

  // Waits (on a worker thread) until the copy reaches the request's
  // positions or the deadline passes.
  static absl::Status WaitForPosition(grpc::CallbackServerContext* ctx, const LocalStores::Copy& copy,
                                      const v1::ReadOptions& options) {
    const auto deadline = ctx->deadline();
    while (!Reached(copy, options)) {
      if (ctx->IsCancelled()) return absl::CancelledError("the client cancelled the request");
      if (std::chrono::system_clock::now() >= deadline) {
        return absl::DeadlineExceededError("the store did not reach the requested min_position before the deadline");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return absl::OkStatus();
  }

  // A keyed unary call: answered locally, forwarded, or refused.
  template <typename Req, typename Resp, typename Answer, typename Forward>
  grpc::ServerUnaryReactor* Keyed(grpc::CallbackServerContext* ctx, const std::string& store, const v1::Key& key,
                                  const v1::ReadOptions& options, StoreSpec::Layout layout, Resp* resp, Answer answer,
                                  Forward forward, const Req& req) {
    auto* reactor = ctx->DefaultReactor();
    auto finish = [ctx, reactor](const absl::Status& s) {
      if (absl::IsUnavailable(s)) ctx->AddTrailingMetadata("retry-after-ms", kRetryAfterMs);
      reactor->Finish(ToGrpc(s));
    };
    if (absl::Status s = CheckOptions(options); !s.ok()) {
      finish(s);
      return reactor;
    }
    auto ref = FindStore(store, layout);
    if (!ref.ok()) {
      finish(ref.status());
      return reactor;
    }
    auto bytes = KeyBytes(*ref, key, "key");
    if (!bytes.ok()) {
      finish(bytes.status());
      return reactor;
    }
    auto target = Resolve(*ref, *bytes, options);
    if (!target.ok()) {
      finish(target.status());
      return reactor;
    }
    if (target->local && !options.uncommitted() && Reached(*target->local, options)) {
      finish(TaskMoved(answer(*ref, *target->local, *target->local->view, *bytes, target->partition)));
      return reactor;
    }
    // Forwarding or waiting blocks: off gRPC's threads.
    executor_.Run([this, ctx, ref = *ref, bytes = *std::move(bytes), target = *std::move(target), answer, forward,
                   &req, resp, finish]() mutable {
      if (target.local) {
        absl::Status waited = WaitForPosition(ctx, *target.local, req.options());
        if (!waited.ok()) {
          finish(waited);
          return;
        }
        const LocalStores::Copy& copy = *target.local;
        finish(ReadCopy(ctx, copy, ref.spec->name, req.options().uncommitted(),
                        [&](const ReadOnlyKeyValueStore& store) {
                          return answer(ref, copy, store, bytes, target.partition);
                        }));
        return;
      }
      Req forwarded = req;
      forwarded.mutable_options()->set_no_forward(true);
      grpc::ClientContext client;
      client.set_deadline(ctx->deadline());
      finish(ForwardResult(ctx, forward(*StubFor(target.remote), client, forwarded, resp)));
    });
    return reactor;
  }

  // A forwarded call's status as this call's: the owner cancelling (it is
  // shutting down) or being unreachable is a retry for our caller.
  absl::Status ForwardResult(grpc::CallbackServerContext* ctx, const grpc::Status& s) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        (s.error_code() == grpc::StatusCode::CANCELLED && !ctx->IsCancelled())) {
      metadata_.Refresh();
      return absl::UnavailableError(absl::StrCat("the owner did not answer: ", s.error_message()));
    }
    return FromGrpc(s);
  }

  grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* ctx, const absl::Status& s) {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }

  // A MultiGet's keys, decoded and resolved, in request order.
  struct MultiGetPlan {
    StoreRef ref;
    std::vector<std::pair<std::string, Target>> keys;
  };

  absl::StatusOr<MultiGetPlan> PlanMultiGet(const v1::MultiGetRequest& req) {
    RUNNEL_RETURN_IF_ERROR(CheckOptions(req.options()));
    auto ref = FindStore(req.store(), StoreSpec::Layout::kKeyValue);
    if (!ref.ok()) return ref.status();
    MultiGetPlan plan{*ref, {}};
    plan.keys.reserve(static_cast<size_t>(req.keys_size()));
    for (const v1::Key& key : req.keys()) {
      auto bytes = KeyBytes(*ref, key, "key");
      if (!bytes.ok()) return bytes.status();
      auto target = Resolve(*ref, *bytes, req.options());
      if (!target.ok()) return target.status();
      plan.keys.emplace_back(*std::move(bytes), *std::move(target));
    }
    return plan;
  }

  // Answers local keys here and sends the others to their owners, one
  // MultiGet per owner, all at once; results keep the request's order.
  // Blocks (waits for positions and forwards) unless every key is local
  // and the request waits for nothing.
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
      RUNNEL_RETURN_IF_ERROR(WaitForPosition(ctx, *target.local, req.options()));
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
      if (value) SetValue(plan.ref, *value, out->mutable_value());
      if (answered.insert({endpoint_, target.partition}).second) {
        Describe(*target.local, target.partition, resp->add_answered_by());
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

  // ---- fan-out ----

  // The local active, ready copies of a store (with max_lag, also standbys
  // and restoring copies within it), one per partition.
  std::vector<std::pair<LocalStores::Copy, int32_t>> LocalCopies(const StoreRef& ref, const v1::ReadOptions& options) {
    std::vector<std::pair<LocalStores::Copy, int32_t>> out;
    for (auto& copy : streams_.local_stores().FindCopies(ref.spec->name)) {
      const bool active = copy.status == nullptr || (!copy.status->standby() && copy.status->ready());
      const bool stale_ok = options.has_max_lag() && !options.uncommitted() && copy.status != nullptr &&
                            copy.status->Lag() >= 0 && copy.status->Lag() <= options.max_lag();
      if (!active && !stale_ok) continue;
      if (!Reached(copy, options)) continue;
      const int32_t partition = copy.task.partition.value();
      out.emplace_back(std::move(copy), partition);
    }
    return out;
  }

  // Calls `remote(stub, context, request)` on every other instance with an
  // endpoint and `local()` here; `answered` collects who answered which
  // partition. Unavailable when a partition was left unanswered.
  template <typename Local, typename Remote>
  absl::Status FanOut(grpc::CallbackServerContext* ctx, const StoreRef& ref, const v1::ReadOptions& options,
                      std::map<int32_t, v1::Answer>& answered, Local local, Remote remote) {
    RUNNEL_RETURN_IF_ERROR(local(answered));
    if (options.no_forward() || ref.subtopology < 0) return absl::OkStatus();
    auto metadata = metadata_.Get();
    if (!metadata.ok()) return metadata.status();
    for (const auto& [process, endpoint] : (*metadata)->endpoints) {
      if (process == process_id_ || endpoint.empty()) continue;
      grpc::ClientContext client;
      client.set_deadline(ctx->deadline());
      grpc::Status s = remote(*StubFor(endpoint), client, answered);
      // An instance that cannot answer leaves its partitions out: the
      // coverage check below decides.
      if (!s.ok()) Logger("runnel")->debug("queries: fan-out to {}: {}", endpoint, s.error_message());
    }
    const int32_t partitions = Partitions(ref);
    std::vector<std::string> missing;
    for (int32_t p = 0; p < partitions; ++p) {
      if (!answered.contains(p)) missing.push_back(absl::StrCat(p));
    }
    if (!missing.empty()) {
      metadata_.Refresh();
      return absl::UnavailableError(absl::StrCat("store '", ref.spec->name, "': partitions [",
                                                 absl::StrJoin(missing, ", "),
                                                 "] have no instance able to answer now; retry"));
    }
    return absl::OkStatus();
  }

  // Uncommitted reads run on a stream thread: a range could hold it for
  // long, so only keyed calls may ask for them.
  static absl::Status NoUncommittedRange(const v1::ReadOptions& options) {
    if (!options.uncommitted()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        "uncommitted reads are for keyed calls (Get, MultiGet, WindowFetch, SessionFetch): a range would hold the "
        "stream thread while it reads");
  }

  // The two range calls (Range/All and WindowRange) share their checks and
  // their answer: entries merged from every copy, in key order, cut at the
  // limit, in batches, with every partition's answer in the last batch.
  static absl::StatusOr<size_t> CheckLimit(int32_t limit) {
    if (limit < 0 || limit > kMaxLimit) {
      return absl::InvalidArgumentError(absl::StrCat("limit must be in 0..", kMaxLimit, " (0: ", kMaxLimit,
                                                     "), got ", limit));
    }
    return limit == 0 ? static_cast<size_t>(kMaxLimit) : static_cast<size_t>(limit);
  }

  struct KeyBounds {
    std::optional<std::string> lo, hi;
  };
  // The key bounds as bytes; InvalidArgument naming the field when one
  // cannot be encoded or `from` is after `to`.
  absl::StatusOr<KeyBounds> ResolveBounds(const StoreRef& ref, const v1::Key* from, std::string_view from_field,
                                          const v1::Key* to, std::string_view to_field) const {
    KeyBounds bounds;
    if (from != nullptr) {
      auto b = KeyBytes(ref, *from, from_field);
      if (!b.ok()) return b.status();
      bounds.lo = *std::move(b);
    }
    if (to != nullptr) {
      auto b = KeyBytes(ref, *to, to_field);
      if (!b.ok()) return b.status();
      bounds.hi = *std::move(b);
    }
    if (bounds.lo && bounds.hi && *bounds.lo > *bounds.hi) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(from_field), " is after ", ToAbsl(to_field),
                                                     " (keys compare as bytes)"));
    }
    return bounds;
  }

  // `add(batch)` returns the batch's repeated entry field.
  template <typename Batch, typename Merged, typename Add>
  static std::vector<Batch> ToBatches(Merged& merged, size_t max, std::map<int32_t, v1::Answer>& answers,
                                      const Add& add) {
    std::vector<Batch> batches(1);
    size_t n = 0;
    for (auto& [key, entry] : merged) {
      if (n++ >= max) break;
      if (static_cast<size_t>(add(batches.back())->size()) >= kBatchEntries) batches.emplace_back();
      *add(batches.back())->Add() = std::move(entry);
    }
    for (auto& [partition, answer] : answers) *batches.back().add_answered_by() = std::move(answer);
    return batches;
  }

  absl::StatusOr<std::vector<v1::KeyValueBatch>> RangeBlocking(grpc::CallbackServerContext* ctx,
                                                               const std::string& store, const v1::Key* from,
                                                               const v1::Key* to, int32_t limit,
                                                               const v1::ReadOptions& options) {
    RUNNEL_RETURN_IF_ERROR(CheckOptions(options));
    RUNNEL_RETURN_IF_ERROR(NoUncommittedRange(options));
    auto max = CheckLimit(limit);
    if (!max.ok()) return max.status();
    auto ref = FindStore(store, StoreSpec::Layout::kKeyValue);
    if (!ref.ok()) return ref.status();
    auto bounds = ResolveBounds(*ref, from, "from", to, "to");
    if (!bounds.ok()) return bounds.status();
    const std::optional<std::string>& lo = bounds->lo;
    const std::optional<std::string>& hi = bounds->hi;
    std::map<std::string, v1::KeyValue> merged;
    std::map<int32_t, v1::Answer> answers;
    absl::Status s = FanOut(
        ctx, *ref, options, answers,
        [&](std::map<int32_t, v1::Answer>& answered) -> absl::Status {
          for (auto& [copy, partition] : LocalCopies(*ref, options)) {
            if (answered.contains(partition)) continue;
            RUNNEL_RETURN_IF_ERROR(ReadCopy(
                ctx, copy, store, options.uncommitted(), [&](const ReadOnlyKeyValueStore& kv_store) -> absl::Status {
                  // Each starts at `lo` when there is one (RangeFrom seeks:
                  // walking All() up to it cost every key before it).
                  auto it = lo && hi ? kv_store.Range(*lo, *hi) : lo ? kv_store.RangeFrom(*lo) : kv_store.All();
                  if (!it.ok()) return it.status();
                  size_t n = 0;
                  for (; (*it)->Valid() && n < *max; (*it)->Next()) {
                    if (hi && (*it)->key() > *hi) break;
                    ++n;
                    v1::KeyValue kv;
                    kv.set_found(true);
                    kv.mutable_key()->set_raw(std::string((*it)->key()));
                    SetValue(*ref, (*it)->value(), kv.mutable_value());
                    merged.emplace(std::string((*it)->key()), std::move(kv));
                  }
                  return (*it)->status();
                }));
            Describe(copy, partition, &answered[partition]);
          }
          return absl::OkStatus();
        },
        [&](v1::QueryService::Stub& stub, grpc::ClientContext& client,
            std::map<int32_t, v1::Answer>& answered) -> grpc::Status {
          v1::RangeRequest forwarded;
          forwarded.set_store(store);
          if (from != nullptr) *forwarded.mutable_from() = *from;
          if (to != nullptr) *forwarded.mutable_to() = *to;
          forwarded.set_limit(limit);
          *forwarded.mutable_options() = options;
          forwarded.mutable_options()->set_no_forward(true);
          auto reader = stub.Range(&client, forwarded);
          v1::KeyValueBatch batch;
          while (reader->Read(&batch)) {
            for (auto& kv : *batch.mutable_entries()) {
              std::string key = kv.key().raw();
              merged.emplace(std::move(key), std::move(kv));
            }
            for (const auto& a : batch.answered_by()) answered.emplace(a.partition(), a);
          }
          return reader->Finish();
        });
    if (!s.ok()) return s;
    return ToBatches<v1::KeyValueBatch>(merged, *max, answers,
                                        [](v1::KeyValueBatch& b) { return b.mutable_entries(); });
  }

  absl::StatusOr<std::vector<v1::WindowBatch>> WindowRangeBlocking(grpc::CallbackServerContext* ctx,
                                                                   const v1::WindowRangeRequest& req) {
    RUNNEL_RETURN_IF_ERROR(CheckOptions(req.options()));
    RUNNEL_RETURN_IF_ERROR(NoUncommittedRange(req.options()));
    auto max = CheckLimit(req.limit());
    if (!max.ok()) return max.status();
    if (req.time_from() > req.time_to()) {
      return absl::InvalidArgumentError(
          absl::StrCat("time_from (", req.time_from(), ") is after time_to (", req.time_to(), ")"));
    }
    auto ref = FindStore(req.store(), StoreSpec::Layout::kWindow);
    if (!ref.ok()) return ref.status();
    auto bounds = ResolveBounds(*ref, req.has_key_from() ? &req.key_from() : nullptr, "key_from",
                                req.has_key_to() ? &req.key_to() : nullptr, "key_to");
    if (!bounds.ok()) return bounds.status();
    const std::optional<std::string>& lo = bounds->lo;
    const std::optional<std::string>& hi = bounds->hi;
    // (key, start) -> window
    std::map<std::pair<std::string, int64_t>, v1::WindowValue> merged;
    std::map<int32_t, v1::Answer> answers;
    absl::Status s = FanOut(
        ctx, *ref, req.options(), answers,
        [&](std::map<int32_t, v1::Answer>& answered) -> absl::Status {
          for (auto& [copy, partition] : LocalCopies(*ref, req.options())) {
            if (answered.contains(partition)) continue;
            RUNNEL_RETURN_IF_ERROR(ReadCopy(
                ctx, copy, req.store(), req.options().uncommitted(),
                [&](const ReadOnlyKeyValueStore& kv_store) -> absl::Status {
                  WindowStore ws(&kv_store, SegmentOptions(*ref));
                  RUNNEL_RETURN_IF_ERROR(ws.Init());
                  auto windows = ws.FetchRange(lo, hi, Timestamp(std::max<int64_t>(0, req.time_from())),
                                               Timestamp(std::max<int64_t>(0, req.time_to())));
                  if (!windows.ok()) return windows.status();
                  for (const WindowEntry& e : *windows) {
                    v1::WindowValue w;
                    RUNNEL_RETURN_IF_ERROR(AddWindow(*ref, e.key, e.start.value(),
                                                     e.start.value() + ref->spec->window_size_ms, e.value, &w));
                    merged.emplace(std::make_pair(e.key, e.start.value()), std::move(w));
                  }
                  return absl::OkStatus();
                }));
            Describe(copy, partition, &answered[partition]);
          }
          return absl::OkStatus();
        },
        [&](v1::QueryService::Stub& stub, grpc::ClientContext& client,
            std::map<int32_t, v1::Answer>& answered) -> grpc::Status {
          v1::WindowRangeRequest forwarded = req;
          forwarded.mutable_options()->set_no_forward(true);
          auto reader = stub.WindowRange(&client, forwarded);
          v1::WindowBatch batch;
          while (reader->Read(&batch)) {
            for (auto& w : *batch.mutable_windows()) {
              auto k = std::make_pair(w.key().raw(), w.start());
              merged.emplace(std::move(k), std::move(w));
            }
            for (const auto& a : batch.answered_by()) answered.emplace(a.partition(), a);
          }
          return reader->Finish();
        });
    if (!s.ok()) return s;
    return ToBatches<v1::WindowBatch>(merged, *max, answers, [](v1::WindowBatch& b) { return b.mutable_windows(); });
  }

  // ---- rendering ----

  SegmentedStoreOptions SegmentOptions(const StoreRef& ref) const {
    SegmentedStoreOptions o;
    if (ref.spec->retention_ms) o.retention_ms = *ref.spec->retention_ms;
    return o;
  }

  void SetValue(const StoreRef& ref, std::string_view bytes, v1::Value* value) const {
    value->set_raw(std::string(bytes));
    if (ref.spec->text != nullptr && ref.spec->text->value_json) {
      if (auto json = ref.spec->text->value_json(bytes)) value->set_json(*std::move(json));
    }
  }

  absl::Status AddWindow(const StoreRef& ref, std::string_view key, int64_t start, int64_t end,
                         std::string_view stored, v1::WindowValue* out) const {
    if (stored.size() < 8) {
      return absl::DataLossError(absl::StrCat("store '", ref.spec->name, "': a stored window is shorter than its timestamp"));
    }
    out->mutable_key()->set_raw(std::string(key));
    out->set_start(start);
    out->set_end(end);
    out->set_timestamp(static_cast<int64_t>(serdes::ReadBigEndian64(stored.data())));
    SetValue(ref, stored.substr(8), out->mutable_value());
    return absl::OkStatus();
  }

  void Describe(const LocalStores::Copy& copy, int32_t partition, v1::Answer* answer) const {
    answer->set_endpoint(endpoint_);
    answer->set_process_id(process_id_);
    answer->set_partition(partition);
    if (copy.status != nullptr) {
      answer->set_standby(copy.status->standby() || !copy.status->ready());
      answer->set_lag(std::max<int64_t>(0, copy.status->Lag()));
      for (const auto& [tp, offset] : copy.status->Positions()) {
        v1::TopicOffset* p = answer->add_position();
        p->set_topic(tp.topic);
        p->set_partition(tp.partition.value());
        p->set_offset(offset.value());
      }
    }
  }

  absl::Status FillMetadata(const v1::MetadataRequest& req, v1::MetadataResponse* resp) {
    resp->set_endpoint(endpoint_);
    const Topology& topology = streams_.topology();
    auto tasks = metadata_.TasksPerSubtopology();
    for (const auto& [name, spec] : topology.stores()) {
      if (spec.layout == StoreSpec::Layout::kInternal) continue;
      v1::StoreInfo* info = resp->add_stores();
      info->set_name(name);
      info->set_kind(LayoutName(spec.layout));
      if (spec.text != nullptr) {
        info->set_key_serde(spec.text->key_serde);
        info->set_value_serde(spec.text->value_serde);
      }
      info->set_window_size_ms(spec.window_size_ms);
      auto ref = FindStore(name, std::nullopt);
      if (ref.ok() && ref->subtopology >= 0 && ref->subtopology < static_cast<int32_t>(tasks.size())) {
        info->set_partitions(tasks[static_cast<size_t>(ref->subtopology)]);
      }
    }
    auto metadata = metadata_.Get();
    if (!metadata.ok()) return metadata.status();
    std::map<std::string, v1::InstanceInfo> instances;
    for (const auto& [process, endpoint] : (*metadata)->endpoints) {
      instances[process].set_process_id(process);
      instances[process].set_endpoint(endpoint);
    }
    auto add = [&](const std::string& process, TaskId task, bool standby) {
      for (const auto& store : topology.subtopologies()[static_cast<size_t>(task.subtopology)].stores) {
        if (topology.stores().at(store).layout == StoreSpec::Layout::kInternal) continue;
        auto& list = standby ? *instances[process].mutable_standby() : *instances[process].mutable_active();
        v1::StorePartitions* sp = nullptr;
        for (auto& existing : list) {
          if (existing.store() == store) sp = &existing;
        }
        if (sp == nullptr) {
          sp = list.Add();
          sp->set_store(store);
        }
        sp->add_partitions(task.partition.value());
      }
    };
    for (const auto& [task, process] : (*metadata)->active) add(process, task, false);
    for (const auto& [task, processes] : (*metadata)->standbys) {
      for (const auto& process : processes) add(process, task, true);
    }
    for (auto& [process, info] : instances) *resp->add_instances() = std::move(info);
    if (!req.store().empty()) {
      auto ref = FindStore(req.store(), std::nullopt);
      if (!ref.ok()) return ref.status();
      if (req.key().form_case() == v1::Key::FORM_NOT_SET) return absl::OkStatus();
      auto bytes = KeyBytes(*ref, req.key(), "key");
      if (!bytes.ok()) return bytes.status();
      const int32_t partitions = Partitions(*ref);
      if (ref->subtopology < 0 || partitions <= 0) return absl::OkStatus();
      const TaskId task{ref->subtopology, kafka::PartitionForKey(*bytes, partitions)};
      v1::KeyOwner* owner = resp->mutable_owner();
      owner->set_partition(task.partition.value());
      auto endpoint_of = [&](const std::string& process) {
        auto e = (*metadata)->endpoints.find(process);
        return e == (*metadata)->endpoints.end() ? std::string() : e->second;
      };
      if (auto a = (*metadata)->active.find(task); a != (*metadata)->active.end()) {
        owner->set_active_endpoint(endpoint_of(a->second));
      }
      if (auto s = (*metadata)->standbys.find(task); s != (*metadata)->standbys.end()) {
        for (const auto& process : s->second) owner->add_standby_endpoints(endpoint_of(process));
      }
    }
    return absl::OkStatus();
  }

  std::shared_ptr<v1::QueryService::Stub> StubFor(const std::string& endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& stub = stubs_[endpoint];
    if (stub == nullptr) {
      stub = v1::QueryService::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
    }
    return stub;
  }

  KafkaStreams& streams_;
  const ServerOptions options_;
  const std::string process_id_;
  std::string endpoint_;
  int port_ = 0;
  internal::MetadataCache metadata_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<v1::QueryService::Stub>> stubs_;
  // Before the server: they outlive it.
  ArenaMessages<v1::GetRequest, v1::GetResponse> get_messages_;
  ArenaMessages<v1::MultiGetRequest, v1::MultiGetResponse> multi_get_messages_;
  std::unique_ptr<grpc::Server> server_;
  // Last: its workers stop first (they use everything above).
  Executor executor_;
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
