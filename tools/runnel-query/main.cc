// runnel-query: interactive queries against a running Runnel application,
// for people. Prints one JSON object per result line.
//
//   runnel-query --server HOST:PORT get STORE KEY
//   runnel-query --server HOST:PORT range STORE [FROM [TO]] [--limit N]
//   runnel-query --server HOST:PORT all STORE [--limit N]
//   runnel-query --server HOST:PORT window STORE KEY FROM_MS TO_MS
//   runnel-query --server HOST:PORT windows STORE FROM_MS TO_MS [--limit N]
//   runnel-query --server HOST:PORT session STORE KEY
//   runnel-query --server HOST:PORT metadata [STORE KEY]
//
// Options: --max-lag N (a standby or restoring copy this many changelog
// records behind may answer), --timeout-ms N (default 10000); TLS (see
// docs/tls.md): --tls (the system's roots), --cacert FILE (the CA that
// issued the servers' certificates; implies --tls), --cert FILE and --key
// FILE (this client's certificate, for servers with
// query.tls.client.auth=required). Keys are given
// as text (the store's key serde parses them). Exit codes: 0 ok, 1 the
// query failed (the gRPC status is printed to stderr), 2 bad usage.

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runnel/query/client.h"
#include "runnel/serde/text_codec.h"

namespace {

namespace v1 = runnel::query::v1;

std::string Json(const std::string& s) { return runnel::serde::internal::JsonString(s); }

std::string KeyJson(const v1::Key& key) {
  return key.form_case() == v1::Key::kText ? Json(key.text()) : Json(key.raw());
}

// The value as JSON when the server rendered it, else its bytes as a string.
std::string ValueJson(const v1::Value& value) { return value.json().empty() ? Json(value.raw()) : value.json(); }

std::string AnswerJson(const v1::Answer& a) {
  std::string positions;
  for (const auto& p : a.position()) {
    absl::StrAppend(&positions, positions.empty() ? "" : ",", "{\"topic\":", Json(p.topic()),
                    ",\"partition\":", p.partition(), ",\"offset\":", p.offset(), "}");
  }
  return absl::StrCat("{\"endpoint\":", Json(a.endpoint()), ",\"partition\":", a.partition(),
                      ",\"standby\":", a.standby() ? "true" : "false", ",\"lag\":", a.lag(), ",\"position\":[",
                      positions, "]}");
}

std::string WindowJson(const v1::WindowValue& w) {
  return absl::StrCat("{\"key\":", KeyJson(w.key()), ",\"start\":", w.start(), ",\"end\":", w.end(),
                      ",\"value\":", ValueJson(w.value()), ",\"timestamp\":", w.timestamp(), "}");
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "runnel-query: %s\n"
               "usage: runnel-query --server HOST:PORT [--max-lag N] [--timeout-ms N] [--limit N]\n"
               "         [--tls] [--cacert FILE] [--cert FILE --key FILE]\n"
               "         get STORE KEY | range STORE [FROM [TO]] | all STORE | window STORE KEY FROM_MS TO_MS\n"
               "         | windows STORE FROM_MS TO_MS | session STORE KEY | metadata [STORE KEY]\n",
               why);
  return 2;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "runnel-query: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server;
  std::vector<std::string> args;
  v1::ReadOptions options;
  int64_t timeout_ms = 10'000, limit = 0;
  std::optional<runnel::TlsSettings> tls;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](int64_t& out) {
      if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], &out)) return false;
      ++i;
      return true;
    };
    if (a == "--server" && i + 1 < argc) {
      server = argv[++i];
    } else if (a == "--max-lag") {
      int64_t lag = 0;
      if (!number(lag)) return Usage("--max-lag needs a number");
      options.set_max_lag(lag);
    } else if (a == "--timeout-ms") {
      if (!number(timeout_ms)) return Usage("--timeout-ms needs a number");
    } else if (a == "--limit") {
      if (!number(limit)) return Usage("--limit needs a number");
    } else if (a == "--tls") {
      tls.emplace();
    } else if ((a == "--cacert" || a == "--cert" || a == "--key") && i + 1 < argc) {
      if (!tls.has_value()) tls.emplace();
      std::string& file = a == "--cacert" ? tls->ca_file : a == "--cert" ? tls->cert_file : tls->key_file;
      file = argv[++i];
    } else if (a.rfind("--", 0) == 0) {
      return Usage(absl::StrCat("unknown option ", a).c_str());
    } else {
      args.push_back(a);
    }
  }
  if (server.empty()) return Usage("--server is required");
  if (args.empty()) return Usage("no command");
  auto client =
      runnel::query::Client::Connect(server, {.timeout = absl::Milliseconds(timeout_ms), .tls = std::move(tls)});
  if (!client.ok()) return Fail(client.status());
  const std::string& cmd = args[0];
  auto time_arg = [&](size_t i, int64_t& out) { return i < args.size() && absl::SimpleAtoi(args[i], &out); };
  if (cmd == "get" && args.size() == 3) {
    v1::GetRequest req;
    req.set_store(args[1]);
    req.mutable_key()->set_text(args[2]);
    *req.mutable_options() = options;
    auto r = (*client)->Get(req);
    if (!r.ok()) return Fail(r.status());
    std::printf("{\"key\":%s,\"found\":%s,\"value\":%s,\"answered_by\":%s}\n", Json(args[2]).c_str(),
                r->found() ? "true" : "false", r->found() ? ValueJson(r->value()).c_str() : "null",
                AnswerJson(r->answered_by()).c_str());
    return 0;
  }
  if ((cmd == "range" && args.size() >= 2 && args.size() <= 4) || (cmd == "all" && args.size() == 2)) {
    absl::StatusOr<std::vector<v1::KeyValue>> r;
    if (cmd == "range") {
      v1::RangeRequest req;
      req.set_store(args[1]);
      if (args.size() > 2) req.mutable_from()->set_text(args[2]);
      if (args.size() > 3) req.mutable_to()->set_text(args[3]);
      req.set_limit(static_cast<int32_t>(limit));
      *req.mutable_options() = options;
      r = (*client)->Range(req);
    } else {
      v1::AllRequest req;
      req.set_store(args[1]);
      req.set_limit(static_cast<int32_t>(limit));
      *req.mutable_options() = options;
      r = (*client)->All(req);
    }
    if (!r.ok()) return Fail(r.status());
    for (const auto& kv : *r) {
      std::printf("{\"key\":%s,\"value\":%s}\n", KeyJson(kv.key()).c_str(), ValueJson(kv.value()).c_str());
    }
    return 0;
  }
  if (cmd == "window" && args.size() == 5) {
    v1::WindowFetchRequest req;
    req.set_store(args[1]);
    req.mutable_key()->set_text(args[2]);
    int64_t from = 0, to = 0;
    if (!time_arg(3, from) || !time_arg(4, to)) return Usage("window needs FROM_MS and TO_MS as numbers");
    req.set_time_from(from);
    req.set_time_to(to);
    *req.mutable_options() = options;
    auto r = (*client)->WindowFetch(req);
    if (!r.ok()) return Fail(r.status());
    for (const auto& w : r->windows()) std::printf("%s\n", WindowJson(w).c_str());
    return 0;
  }
  if (cmd == "windows" && args.size() == 4) {
    v1::WindowRangeRequest req;
    req.set_store(args[1]);
    int64_t from = 0, to = 0;
    if (!time_arg(2, from) || !time_arg(3, to)) return Usage("windows needs FROM_MS and TO_MS as numbers");
    req.set_time_from(from);
    req.set_time_to(to);
    req.set_limit(static_cast<int32_t>(limit));
    *req.mutable_options() = options;
    auto r = (*client)->WindowRange(req);
    if (!r.ok()) return Fail(r.status());
    for (const auto& w : *r) std::printf("%s\n", WindowJson(w).c_str());
    return 0;
  }
  if (cmd == "session" && args.size() == 3) {
    v1::SessionFetchRequest req;
    req.set_store(args[1]);
    req.mutable_key()->set_text(args[2]);
    *req.mutable_options() = options;
    auto r = (*client)->SessionFetch(req);
    if (!r.ok()) return Fail(r.status());
    for (const auto& w : r->windows()) std::printf("%s\n", WindowJson(w).c_str());
    return 0;
  }
  if (cmd == "metadata" && (args.size() == 1 || args.size() == 3)) {
    v1::MetadataRequest req;
    if (args.size() == 3) {
      req.set_store(args[1]);
      req.mutable_key()->set_text(args[2]);
    }
    auto r = (*client)->Metadata(req);
    if (!r.ok()) return Fail(r.status());
    for (const auto& s : r->stores()) {
      std::printf("{\"store\":%s,\"kind\":%s,\"key_serde\":%s,\"value_serde\":%s,\"partitions\":%d}\n",
                  Json(s.name()).c_str(), Json(s.kind()).c_str(), Json(s.key_serde()).c_str(),
                  Json(s.value_serde()).c_str(), s.partitions());
    }
    for (const auto& i : r->instances()) {
      std::string active, standby;
      for (const auto& sp : i.active()) {
        std::string ps;
        for (int32_t p : sp.partitions()) absl::StrAppend(&ps, ps.empty() ? "" : ",", p);
        absl::StrAppend(&active, active.empty() ? "" : ",", Json(sp.store()), ":[", ps, "]");
      }
      for (const auto& sp : i.standby()) {
        std::string ps;
        for (int32_t p : sp.partitions()) absl::StrAppend(&ps, ps.empty() ? "" : ",", p);
        absl::StrAppend(&standby, standby.empty() ? "" : ",", Json(sp.store()), ":[", ps, "]");
      }
      std::printf("{\"instance\":%s,\"process_id\":%s,\"active\":{%s},\"standby\":{%s}}\n", Json(i.endpoint()).c_str(),
                  Json(i.process_id()).c_str(), active.c_str(), standby.c_str());
    }
    if (r->has_owner()) {
      std::string standbys;
      for (const auto& e : r->owner().standby_endpoints()) absl::StrAppend(&standbys, standbys.empty() ? "" : ",", Json(e));
      std::printf("{\"key\":%s,\"partition\":%d,\"active\":%s,\"standbys\":[%s]}\n", Json(args[2]).c_str(),
                  r->owner().partition(), Json(r->owner().active_endpoint()).c_str(), standbys.c_str());
    }
    return 0;
  }
  return Usage(absl::StrCat("bad command or arguments: ", cmd).c_str());
}
