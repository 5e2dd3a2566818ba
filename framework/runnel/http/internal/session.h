#ifndef RUNNEL_HTTP_INTERNAL_SESSION_H_
#define RUNNEL_HTTP_INTERNAL_SESSION_H_

// One connection: read a request, hand it to the router, write the answer
// when the Responder delivers it, repeat while keep-alive; or, after
// StartEventStream, write events until the stream ends.
//
// Thread: everything named Do*/On* runs on the session's strand. Respond,
// StartStream, Enqueue*, EndStream and OnShutdown are called from any
// thread and post to the strand (through Core::Post, so nothing is posted
// once the server has stopped).
//
// Lifecycle: (TLS: the handshake, counted as kReading) kIdle (waiting for a request) -> kReading -> kHandling (a
// handler owns the Responder) -> kWriting -> kIdle ...; kHandling ->
// kStreaming; any -> kClosed. Owned by shared_ptrs: the pending I/O
// operation's handler, the outstanding Responder, and nothing else.

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "runnel/http/event_stream.h"
#include "runnel/http/internal/core.h"
#include "runnel/http/internal/stream.h"
#include "runnel/http/message.h"

namespace runnel::http::internal {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Core> core, Strand strand, tcp::socket socket, uint64_t id);
  ~Session();

  // Starts reading (posts to the strand).
  void Start();
  // Any thread.
  void Respond(Response response);
  std::shared_ptr<EventStream> StartStream();
  void EnqueueEvent(std::string formatted);
  void EndStream();
  // Server shutdown: close if idle, end an event stream, otherwise let the
  // exchange finish with "Connection: close"; `force` closes at once.
  void PostShutdown(bool force);

 private:
  void OnShutdown(bool force);
  enum class State { kIdle, kReading, kHandling, kWriting, kStreaming, kClosed };

  // TLS: the handshake, then DoIdle; a failed handshake closes.
  void DoHandshake();
  void DoIdle();
  void DoReadHeader();
  void OnHeader(beast::error_code ec);
  void DoReadBody();
  void OnBody(beast::error_code ec);
  void OnReadError(beast::error_code ec);
  void OnRequest();
  void Reject(int status, std::string message);
  void DoRespond(Response response);
  void OnWrite(beast::error_code ec);
  void DoStartStream(std::shared_ptr<EventStream> stream);
  void DoEnqueue(std::string chunk);
  void DoEndStream();
  void StartStreamWrite();
  void OnStreamWrite(beast::error_code ec);
  void WatchClient();
  void ArmHeartbeat();
  // Half-closes, reads what the client still sends for a moment (so the
  // last answer is not destroyed by a reset), then closes.
  void LingerClose();
  void Drain();
  void Close();

  // First member: destroyed last, so the io_context outlives the socket.
  std::shared_ptr<Core> core_;
  const uint64_t id_;
  Strand strand_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  std::string remote_;
  State state_ = State::kIdle;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool shutdown_requested_ = false;
  bool lingering_ = false;
  // Event stream.
  std::shared_ptr<EventStream> events_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool ending_ = false;
  asio::steady_timer heartbeat_;
  std::array<char, 1024> scratch_;
};

}  // namespace runnel::http::internal

#endif  // RUNNEL_HTTP_INTERNAL_SESSION_H_
