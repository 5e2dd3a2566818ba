#ifndef RUNNEL_HTTP_MESSAGE_H_
#define RUNNEL_HTTP_MESSAGE_H_

// HTTP requests and responses as handlers see them: plain value types, no
// Boost in sight. A Request owns its body and headers (moved out of the
// parser, not copied byte by byte); a Response is what a handler hands back
// through its Responder (responder.h).
//
// Thread-safety: plain values; a Request may be moved to another thread
// together with its Responder.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace runnel::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

std::string_view MethodName(Method method);

// Name/value pairs in arrival order (headers, query parameters, path
// parameters). Lookups are linear: these lists are short.
using Fields = std::vector<std::pair<std::string, std::string>>;

class Request {
 public:
  Method method() const { return method_; }
  // The method as sent ("GET", "PROPFIND", ...).
  std::string_view method_name() const { return method_name_; }
  // The request target, e.g. "/api/sensors/s%201?from=10" (an
  // absolute-form target reduced to that).
  std::string_view target() const { return target_; }
  // The target's path, percent-decoded: "/api/sensors/s 1".
  std::string_view path() const { return path_; }

  // The value of a header (case-insensitive name), the first if repeated.
  std::optional<std::string_view> Header(std::string_view name) const;
  const Fields& headers() const { return headers_; }
  // The media type of Content-Type without parameters, lower-cased:
  // "application/json" for "Application/JSON; charset=utf-8"; empty if absent.
  std::string ContentType() const;

  // A path parameter of the matched route ("id" for "/api/sensors/{id}"),
  // percent-decoded; empty when the route has no such parameter.
  std::string_view PathParam(std::string_view name) const;
  const Fields& path_params() const { return path_params_; }

  // A query parameter (percent- and '+'-decoded), the first if repeated.
  std::optional<std::string_view> Query(std::string_view name) const;
  const Fields& query() const { return query_; }

  const std::string& body() const { return body_; }
  // Takes the body (e.g. to keep it beyond the handler) without a copy.
  std::string TakeBody() { return std::move(body_); }

  // "ip:port" of the client.
  const std::string& remote_address() const { return remote_address_; }

  // Builds a request (the server does this; tests and adapters may too).
  // An absolute-form target ("http://host/a?b") counts as its path and
  // query. Fails (nullopt) when the path or query is not valid
  // percent-encoding or the target is neither ("*", "host:443").
  static std::optional<Request> Make(std::string_view method_name, std::string target, Fields headers,
                                     std::string body, std::string remote_address = {});
  // For the router: sets the matched route's parameters.
  void SetPathParams(Fields params) { path_params_ = std::move(params); }

 private:
  Method method_ = Method::kOther;
  std::string method_name_;
  std::string target_;
  std::string path_;
  Fields headers_;
  Fields path_params_;
  Fields query_;
  std::string body_;
  std::string remote_address_;
};

struct Response {
  int status = 200;
  // Sent as Content-Type unless empty.
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Further headers (Retry-After, Cache-Control, Allow, ...). The server
  // sets Content-Length, Date, Server and Connection itself.
  Fields headers;

  static Response Text(int status, std::string body);
  Response& WithHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Percent-decoding of a path segment (plus_is_space=false) or a query
// component (true). nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);
// Splits "a=1&b=x%20y&c" into {{a,1},{b,"x y"},{c,""}}; nullopt when a
// component is badly encoded.
std::optional<Fields> ParseQuery(std::string_view query);

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_MESSAGE_H_
