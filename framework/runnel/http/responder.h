#ifndef RUNNEL_HTTP_RESPONDER_H_
#define RUNNEL_HTTP_RESPONDER_H_

// How a handler answers.
//
//   using Handler = std::function<void(Request request, Responder responder)>;
//
// The server calls a handler on one of its I/O threads, on the connection's
// strand. The handler must not block: it either answers at once
//
//   std::move(responder).Respond(Response::Text(200, "ok"));
//
// or moves the Responder (and the Request, if it needs it) wherever the
// answer will come from, and calls Respond there later, from any thread:
// Respond only posts the response back onto the connection's strand. E.g.
// the sensor gateway answers from librdkafka's delivery thread once Kafka has
// acknowledged every record of the request.
//
// Exactly one answer per request: Respond (or StartEventStream) consumes the
// Responder; calling it again on the moved-from object is a bug (checked).
// A Responder destroyed without answering sends 500, so a forgotten path
// never hangs a client. If the client or the server went away in between,
// the answer is dropped silently (the connection is gone; there is nobody
// to tell).
//
// The connection reads its next request only after the answer is written
// (no pipelining), so one connection has at most one Responder outstanding.
//
// Thread-safety: a Responder is move-only and used by one thread at a time;
// Respond may run on any thread, also after the Server was shut down or
// destroyed (the answer is then dropped).

#include <functional>
#include <memory>

#include "runnel/http/event_stream.h"
#include "runnel/http/message.h"

namespace runnel::http {

namespace internal {
class Session;
}

class Responder {
 public:
  Responder() = default;
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  ~Responder();

  // Sends `response` (from any thread).
  void Respond(Response response) &&;
  // Answers 200 text/event-stream and returns the stream to push events to;
  // the connection then belongs to the stream until it closes.
  std::shared_ptr<EventStream> StartEventStream() &&;

  // False once used (or for a default-constructed Responder).
  explicit operator bool() const { return session_ != nullptr; }

 private:
  friend class internal::Session;
  explicit Responder(std::shared_ptr<internal::Session> session) : session_(std::move(session)) {}
  std::shared_ptr<internal::Session> session_;
};

using Handler = std::function<void(Request request, Responder responder)>;

// Adapts a synchronous function (quick, non-blocking) to a Handler.
Handler Sync(std::function<Response(const Request&)> fn);

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_RESPONDER_H_
