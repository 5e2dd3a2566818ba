#ifndef RUNNEL_HTTP_ROUTER_H_
#define RUNNEL_HTTP_ROUTER_H_

// Routes: method + path pattern -> Handler.
//
// A pattern is a path of literal segments and parameters in braces:
//   "/healthz", "/api/sensors/{id}", "/api/sensors/{id}/windows"
// A parameter matches one whole, non-empty segment; its percent-decoded
// value is Request::PathParam("id"). When several patterns match, the one
// with a literal where the others have a parameter (earliest segment first)
// wins, so "/api/sensors/top" beats "/api/sensors/{id}". Paths match
// exactly (a trailing slash is another path).
//
// No route for the path: 404. A route for the path but not the method: 405
// with an Allow header. Both answers are JSON ({"error": ...}).
//
// Lifecycle: build the Router fully, then hand it to Server::Start (by
// value); it is immutable from then on and read by every I/O thread.

#include <string>
#include <string_view>
#include <vector>

#include "runnel/http/message.h"
#include "runnel/http/responder.h"

namespace runnel::http {

class Router {
 public:
  // A malformed pattern (not starting with '/', an unclosed or empty brace,
  // a parameter name used twice) or the same method + pattern twice is a
  // programming error: checked (aborts).
  Router& Handle(Method method, std::string_view pattern, Handler handler);
  Router& Get(std::string_view pattern, Handler handler) { return Handle(Method::kGet, pattern, std::move(handler)); }
  Router& Post(std::string_view pattern, Handler handler) {
    return Handle(Method::kPost, pattern, std::move(handler));
  }
  Router& Put(std::string_view pattern, Handler handler) { return Handle(Method::kPut, pattern, std::move(handler)); }
  Router& Delete(std::string_view pattern, Handler handler) {
    return Handle(Method::kDelete, pattern, std::move(handler));
  }

  struct Match {
    // Null when nothing matched; then `allow` lists the methods the path
    // has ("GET, POST"), empty when no route has the path (404).
    const Handler* handler = nullptr;
    Fields params;
    std::string allow;
  };
  // `path` is the raw (still percent-encoded) path; segments are decoded
  // before they are compared. A badly encoded segment matches nothing.
  Match Find(Method method, std::string_view raw_path) const;

  // Routes the request: calls the matched handler, or answers 404/405.
  void Dispatch(Request request, Responder responder) const;

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter's name
    bool is_param = false;
  };
  struct Route {
    Method method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_ROUTER_H_
