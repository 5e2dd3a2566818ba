// query-load: the load client of benchmark W7 (interactive queries). Keeps
// N calls in flight on one gRPC channel (closed loop: a call's completion
// starts the next one), with gRPC's callback API, for a warm-up and then a
// measured duration, and prints one JSON line.
//
//   query-load --target HOST:PORT --mode get|multiget|range|echo [--concurrency 16] [--seconds 5]
//              [--warmup 1] [--keys 1000000] [--store counts] [--key-form raw|text]
//              [--range-limit 100] [--range-to 0|1] [--payload-bytes 100] [--expect-count C]
//              [--seed 1]
//
// Modes:
//   get    runnel.query.v1.QueryService/Get on --store, key "key-%08d" of a
//          uniformly random index below --keys (the keys runnel-kafka
//          produce-bench writes), as raw bytes or as text. An answer must be
//          OK and found (and, with --expect-count, the 8-byte big-endian
//          count C).
//   multiget  QueryService/MultiGet of --range-limit random keys (as for
//          get); every result must be its key's, in order, found (and with
//          the expected count).
//   range  QueryService/Range from a random key, no upper bound, limit
//          --range-limit: the index is drawn below keys - limit, so the
//          answer must be exactly the next `limit` keys in order (checked
//          key by key; values as for get). --range-to 1 also sets `to` to
//          the last of those keys.
//   echo   runnel.bench.Echo/Echo (tools/bench/echo.proto) with a payload of
//          --payload-bytes random bytes; the answer must be the same bytes.
// Any other answer is an error: a gRPC code other than OK counts under its
// code's name, a wrong answer under not_found, wrong_value, wrong_range,
// wrong_results or wrong_echo.
//
// Output: mode, concurrency, requests (completed in the measured window),
// seconds, qps, p50_ms, p99_ms, p999_ms, max_ms (latency of each call, start
// to completion), errors and error_codes (over the whole run, warm-up
// included: every answer must be right), entries (range, multiget: keys
// received in the measured window),
// req_bytes/resp_bytes (serialized size of the last request and response,
// so that the echo payload can be sized like a lookup), and connect_ms (the
// channel is connected before the warm-up starts).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "runnel/query/v1/query.grpc.pb.h"

namespace {

namespace v1 = ::runnel::query::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string target;
  std::string mode;
  int concurrency = 16;
  double seconds = 5;
  double warmup = 1;
  int64_t keys = 1'000'000;
  std::string store = "counts";
  bool text_keys = false;
  int range_limit = 100;
  bool range_to = false;
  int payload_bytes = 100;
  int64_t expect_count = -1;
  uint64_t seed = 1;
};

enum class Phase { kWarmup, kMeasure, kStop };

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

std::string KeyName(int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key-%08lld", static_cast<long long>(index));
  return buf;
}

std::string BigEndian64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

// One in-flight call's chain: calls on a slot run one after the other, so
// its fields need no lock.
struct Slot {
  std::mt19937_64 rng;
  std::vector<uint32_t> latency_us;
  std::map<std::string, int64_t> errors;
  int64_t entries = 0;
  size_t req_bytes = 0, resp_bytes = 0;
};

class Load {
 public:
  explicit Load(Options o) : o_(std::move(o)) {
    channel_ = grpc::CreateChannel(o_.target, grpc::InsecureChannelCredentials());
    query_ = v1::QueryService::NewStub(channel_);
    echo_ = runnel::bench::Echo::NewStub(channel_);
    expected_value_ = o_.expect_count >= 0 ? BigEndian64(o_.expect_count) : "";
    std::mt19937_64 payload_rng(o_.seed ^ 0x9e3779b97f4a7c15ULL);
    payload_.resize(static_cast<size_t>(o_.payload_bytes));
    for (char& c : payload_) c = static_cast<char>(payload_rng());
    slots_.resize(static_cast<size_t>(o_.concurrency));
    for (size_t i = 0; i < slots_.size(); ++i) slots_[i].rng.seed(o_.seed * 1000003 + i);
  }

  // Connects the channel (not part of any call's time).
  bool Connect() {
    const auto t = Clock::now();
    const bool ok = channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30));
    connect_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    return ok;
  }

  // Runs the warm-up and the measured window; returns the JSON line.
  std::string Run() {
    in_flight_ = o_.concurrency;
    for (auto& slot : slots_) Start(slot);
    std::this_thread::sleep_for(std::chrono::duration<double>(o_.warmup));
    const auto t0 = Clock::now();
    phase_.store(Phase::kMeasure, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::duration<double>(o_.seconds));
    phase_.store(Phase::kStop, std::memory_order_release);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    {
      std::unique_lock<std::mutex> lock(mu_);
      idle_.wait(lock, [this] { return in_flight_ == 0; });
    }
    return Report(seconds);
  }

 private:
  int64_t Draw(Slot& slot, int64_t below) {
    return static_cast<int64_t>(slot.rng() % static_cast<uint64_t>(std::max<int64_t>(1, below)));
  }

  void SetKey(const std::string& key, v1::Key* out) const {
    if (o_.text_keys) {
      out->set_text(key);
    } else {
      out->set_raw(key);
    }
  }

  void Start(Slot& slot) {
    if (o_.mode == "get") {
      StartGet(slot);
    } else if (o_.mode == "range") {
      StartRange(slot);
    } else if (o_.mode == "multiget") {
      StartMultiGet(slot);
    } else {
      StartEcho(slot);
    }
  }

  // A call ended at `end` after starting at `start`; `error` names what was
  // wrong (empty: a good answer). Starts the slot's next call unless the
  // run is over.
  void Finish(Slot& slot, Clock::time_point start, const char* error) {
    const Phase phase = phase_.load(std::memory_order_acquire);
    if (phase == Phase::kMeasure) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      slot.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
    }
    if (error != nullptr) ++slot.errors[error];
    if (phase != Phase::kStop) {
      Start(slot);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) idle_.notify_all();
  }

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  void StartGet(Slot& slot) {
    struct Call {
      std::unique_ptr<grpc::ClientContext> ctx;
      v1::GetRequest req;
      v1::GetResponse resp;
      Clock::time_point start;
    };
    auto* call = new Call{Context(), {}, {}, {}};
    call->req.set_store(o_.store);
    SetKey(KeyName(Draw(slot, o_.keys)), call->req.mutable_key());
    call->start = Clock::now();
    query_->async()->Get(call->ctx.get(), &call->req, &call->resp, [this, &slot, call](grpc::Status s) {
      const char* error = nullptr;
      if (!s.ok()) {
        error = CodeName(s.error_code());
      } else if (!call->resp.found()) {
        error = "not_found";
      } else if (!expected_value_.empty() && call->resp.value().raw() != expected_value_) {
        error = "wrong_value";
      }
      slot.req_bytes = call->req.ByteSizeLong();
      slot.resp_bytes = call->resp.ByteSizeLong();
      const auto start = call->start;
      delete call;
      Finish(slot, start, error);
    });
  }

  void StartMultiGet(Slot& slot) {
    struct Call {
      std::unique_ptr<grpc::ClientContext> ctx;
      v1::MultiGetRequest req;
      v1::MultiGetResponse resp;
      std::vector<std::string> keys;
      Clock::time_point start;
    };
    auto* call = new Call{Context(), {}, {}, {}, {}};
    call->req.set_store(o_.store);
    for (int i = 0; i < o_.range_limit; ++i) {
      call->keys.push_back(KeyName(Draw(slot, o_.keys)));
      SetKey(call->keys.back(), call->req.add_keys());
    }
    call->start = Clock::now();
    query_->async()->MultiGet(call->ctx.get(), &call->req, &call->resp, [this, &slot, call](grpc::Status s) {
      const char* error = nullptr;
      if (!s.ok()) {
        error = CodeName(s.error_code());
      } else if (call->resp.results_size() != static_cast<int>(call->keys.size())) {
        error = "wrong_results";
      } else {
        for (int i = 0; i < call->resp.results_size() && error == nullptr; ++i) {
          const v1::KeyValue& kv = call->resp.results(i);
          const std::string& key = o_.text_keys ? kv.key().text() : kv.key().raw();
          if (key != call->keys[static_cast<size_t>(i)]) {
            error = "wrong_results";
          } else if (!kv.found()) {
            error = "not_found";
          } else if (!expected_value_.empty() && kv.value().raw() != expected_value_) {
            error = "wrong_value";
          }
        }
      }
      if (phase_.load(std::memory_order_acquire) == Phase::kMeasure) slot.entries += call->resp.results_size();
      slot.req_bytes = call->req.ByteSizeLong();
      slot.resp_bytes = call->resp.ByteSizeLong();
      const auto start = call->start;
      delete call;
      Finish(slot, start, error);
    });
  }

  class RangeCall final : public grpc::ClientReadReactor<v1::KeyValueBatch> {
   public:
    RangeCall(Load* load, Slot& slot) : load_(load), slot_(slot), ctx_(load->Context()) {
      first_ = load->Draw(slot, load->o_.keys - load->o_.range_limit + 1);
      req_.set_store(load->o_.store);
      load->SetKey(KeyName(first_), req_.mutable_from());
      if (load->o_.range_to) load->SetKey(KeyName(first_ + load->o_.range_limit - 1), req_.mutable_to());
      req_.set_limit(load->o_.range_limit);
      start_ = Clock::now();
      load->query_->async()->Range(ctx_.get(), &req_, this);
      StartRead(&batch_);
      StartCall();
    }

    void OnReadDone(bool ok) override {
      if (!ok) return;
      for (const auto& kv : batch_.entries()) {
        if (error_ == nullptr && kv.key().raw() != KeyName(first_ + entries_)) error_ = "wrong_range";
        if (error_ == nullptr && !load_->expected_value_.empty() && kv.value().raw() != load_->expected_value_) {
          error_ = "wrong_value";
        }
        ++entries_;
      }
      slot_.resp_bytes = batch_.ByteSizeLong();
      StartRead(&batch_);
    }

    void OnDone(const grpc::Status& s) override {
      const char* error = error_;
      if (!s.ok()) {
        error = CodeName(s.error_code());
      } else if (error == nullptr && entries_ != load_->o_.range_limit) {
        error = "wrong_range";
      }
      if (load_->phase_.load(std::memory_order_acquire) == Phase::kMeasure) slot_.entries += entries_;
      slot_.req_bytes = req_.ByteSizeLong();
      Load* load = load_;
      Slot& slot = slot_;
      const auto start = start_;
      delete this;
      load->Finish(slot, start, error);
    }

   private:
    Load* load_;
    Slot& slot_;
    std::unique_ptr<grpc::ClientContext> ctx_;
    v1::RangeRequest req_;
    v1::KeyValueBatch batch_;
    int64_t first_ = 0;
    int64_t entries_ = 0;
    const char* error_ = nullptr;
    Clock::time_point start_;
  };

  void StartRange(Slot& slot) { new RangeCall(this, slot); }

  void StartEcho(Slot& slot) {
    struct Call {
      std::unique_ptr<grpc::ClientContext> ctx;
      runnel::bench::Blob req;
      runnel::bench::Blob resp;
      Clock::time_point start;
    };
    auto* call = new Call{Context(), {}, {}, {}};
    call->req.set_payload(payload_);
    call->start = Clock::now();
    echo_->async()->Echo(call->ctx.get(), &call->req, &call->resp, [this, &slot, call](grpc::Status s) {
      const char* error = nullptr;
      if (!s.ok()) {
        error = CodeName(s.error_code());
      } else if (call->resp.payload() != payload_) {
        error = "wrong_echo";
      }
      slot.req_bytes = call->req.ByteSizeLong();
      slot.resp_bytes = call->resp.ByteSizeLong();
      const auto start = call->start;
      delete call;
      Finish(slot, start, error);
    });
  }

  std::string Report(double seconds) {
    std::vector<uint32_t> all;
    std::map<std::string, int64_t> errors;
    int64_t entries = 0, error_total = 0;
    size_t req_bytes = 0, resp_bytes = 0;
    for (auto& slot : slots_) {
      all.insert(all.end(), slot.latency_us.begin(), slot.latency_us.end());
      for (const auto& [code, n] : slot.errors) {
        errors[code] += n;
        error_total += n;
      }
      entries += slot.entries;
      req_bytes = std::max(req_bytes, slot.req_bytes);
      resp_bytes = std::max(resp_bytes, slot.resp_bytes);
    }
    auto quantile = [&all](double q) -> double {
      if (all.empty()) return 0;
      const size_t i = std::min(all.size() - 1, static_cast<size_t>(q * static_cast<double>(all.size())));
      std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(i), all.end());
      return all[i] / 1000.0;
    };
    const double p50 = quantile(0.50), p99 = quantile(0.99), p999 = quantile(0.999);
    const double max = all.empty() ? 0 : *std::max_element(all.begin(), all.end()) / 1000.0;
    std::string codes;
    for (const auto& [code, n] : errors) {
      if (!codes.empty()) codes.append(",");
      codes.append("\"").append(code).append("\":").append(std::to_string(n));
    }
    const auto requests = static_cast<int64_t>(all.size());
    char line[1024];
    std::snprintf(line, sizeof line,
                  "{\"mode\":\"%s\",\"concurrency\":%d,\"requests\":%lld,\"seconds\":%.3f,\"qps\":%.1f,"
                  "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%lld,"
                  "\"error_codes\":{%s},\"entries\":%lld,\"req_bytes\":%zu,\"resp_bytes\":%zu,\"connect_ms\":%.1f}",
                  o_.mode.c_str(), o_.concurrency, static_cast<long long>(requests), seconds,
                  static_cast<double>(requests) / seconds, p50, p99, p999, max, static_cast<long long>(error_total),
                  codes.c_str(), static_cast<long long>(entries), req_bytes, resp_bytes, connect_ms_);
    return line;
  }

  const Options o_;
  std::shared_ptr<grpc::Channel> channel_;
  double connect_ms_ = 0;
  std::unique_ptr<v1::QueryService::Stub> query_;
  std::unique_ptr<runnel::bench::Echo::Stub> echo_;
  std::string expected_value_;
  std::string payload_;
  std::vector<Slot> slots_;
  std::atomic<Phase> phase_{Phase::kWarmup};
  std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "query-load: %s\nusage: query-load --target HOST:PORT --mode get|multiget|range|echo [--concurrency N] "
               "[--seconds S] [--warmup S] [--keys K] [--store NAME] [--key-form raw|text] [--range-limit L] "
               "[--range-to 0|1] "
               "[--payload-bytes B] [--expect-count C] [--seed X]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string key_form = "raw";
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      std::string f = argv[i], v = argv[i + 1];
      if (f == "--target") o.target = v;
      else if (f == "--mode") o.mode = v;
      else if (f == "--concurrency") o.concurrency = std::stoi(v);
      else if (f == "--seconds") o.seconds = std::stod(v);
      else if (f == "--warmup") o.warmup = std::stod(v);
      else if (f == "--keys") o.keys = std::stoll(v);
      else if (f == "--store") o.store = v;
      else if (f == "--key-form") key_form = v;
      else if (f == "--range-limit") o.range_limit = std::stoi(v);
      else if (f == "--range-to") o.range_to = v == "1";
      else if (f == "--payload-bytes") o.payload_bytes = std::stoi(v);
      else if (f == "--expect-count") o.expect_count = std::stoll(v);
      else if (f == "--seed") o.seed = std::stoull(v);
      else return Usage(("unknown flag " + f).c_str());
    }
  } catch (const std::exception&) {
    return Usage("a flag's value is not a number");
  }
  if (o.target.empty() || (o.mode != "get" && o.mode != "multiget" && o.mode != "range" && o.mode != "echo")) {
    return Usage("--target and --mode get|multiget|range|echo are required");
  }
  if (key_form != "raw" && key_form != "text") return Usage("--key-form is raw or text");
  o.text_keys = key_form == "text";
  if (o.concurrency < 1 || o.seconds <= 0 || o.warmup < 0 || o.keys < 1 || o.payload_bytes < 0 ||
      o.range_limit < 1 || (o.mode == "range" && o.keys < o.range_limit)) {
    return Usage("--concurrency, --seconds, --keys and --range-limit must be positive (keys >= range limit)");
  }
  Load load(o);
  if (!load.Connect()) {
    std::fprintf(stderr, "query-load: cannot connect to %s\n", o.target.c_str());
    return 1;
  }
  std::printf("%s\n", load.Run().c_str());
  return 0;
}
