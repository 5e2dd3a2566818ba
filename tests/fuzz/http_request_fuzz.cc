// HTTP/1.1 requests as runnel::http's server reads them: the bytes go
// through Beast's request parser with the server's default limits, in
// chunks as a socket would deliver them (the first input byte picks the
// chunk size), header first and then the body (internal/session.cc's
// DoReadHeader/DoReadBody); a complete message becomes a Request
// (Request::Make, as Session::OnRequest builds it) and is routed
// (Router::Find, with path parameters), its headers, content type and
// query parameters read.
// Properties: no input crashes or is undefined behaviour; the limits hold
// (a body over max_body_bytes is body_limit, never buffered); an accepted
// target's path is absolute and its parameters are decoded.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "fuzz_check.h"
#include "runnel/http/message.h"
#include "runnel/http/router.h"
#include "runnel/http/server.h"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using runnel::http::Request;
using runnel::http::Response;
using runnel::http::Router;

const Router& TheRouter() {
  static const Router* router = [] {
    auto* r = new Router();
    auto ok = runnel::http::Sync([](const Request&) { return Response::Text(200, "ok"); });
    r->Get("/api/sensors/{id}", ok);
    r->Get("/api/sensors/{id}/readings/{from}", ok);
    r->Post("/sensor", ok);
    r->Post("/sensors", ok);
    r->Get("/metrics", ok);
    r->Get("/events", ok);
    r->Get("/", ok);
    return r;
  }();
  return *router;
}

void Handle(bhttp::request<bhttp::string_body> message) {
  runnel::http::Fields headers;
  for (const auto& field : message) {
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  auto request = Request::Make(std::string_view(message.method_string()), std::string(message.target()),
                               std::move(headers), std::move(message.body()), "127.0.0.1:1");
  if (!request) return;  // 400 (bad target), connection kept
  FUZZ_CHECK(!request->target().empty() && request->target()[0] == '/', "accepted a relative target");
  FUZZ_CHECK(!request->path().empty(), "accepted an empty path");
  (void)request->Header("Content-Type");
  (void)request->ContentType();
  (void)request->Query("from");
  const std::string_view target = request->target();
  Router::Match match = TheRouter().Find(request->method(), target.substr(0, target.find('?')));
  if (match.handler != nullptr) {
    for (const auto& [name, value] : match.params) FUZZ_CHECK(!value.empty(), "empty path parameter " + name);
    request->SetPathParams(std::move(match.params));
    (void)request->PathParam("id");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const runnel::http::ServerOptions defaults;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view input = runnel::fuzz::AsView(data + 1, size - 1);

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(defaults.max_header_bytes));
  parser.body_limit(defaults.max_body_bytes);
  beast::flat_buffer buffer;
  beast::error_code ec;
  size_t fed = 0;
  while (!parser.is_done()) {
    if (buffer.size() == 0 || ec == bhttp::error::need_more) {
      ec = {};
      if (fed == input.size()) {
        parser.put_eof(ec);
        break;
      }
      const size_t n = std::min(chunk, input.size() - fed);
      auto space = buffer.prepare(n);
      std::copy_n(input.data() + fed, n, static_cast<char*>(space.data()));
      buffer.commit(n);
      fed += n;
    }
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (used == 0 && !ec) ec = bhttp::error::need_more;
    if (ec && ec != bhttp::error::need_more) break;
  }
  if (ec == bhttp::error::body_limit) {
    FUZZ_CHECK(!parser.is_done(), "a body over the limit was accepted");
    return 0;
  }
  if (ec || !parser.is_done()) return 0;  // 400, 431, or the client went away
  FUZZ_CHECK(parser.get().body().size() <= defaults.max_body_bytes, "a body over the limit was buffered");
  Handle(parser.release());
  return 0;
}
