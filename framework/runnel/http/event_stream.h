#ifndef RUNNEL_HTTP_EVENT_STREAM_H_
#define RUNNEL_HTTP_EVENT_STREAM_H_

// Server-sent events (text/event-stream).
//
// A handler turns its exchange into a stream with
// `std::move(responder).StartEventStream()` and keeps the returned
// EventStream (or hands it to an EventBroadcaster); any thread may then
// Send() events to that one client until the stream closes. The stream
// closes when the client goes away, when the client reads too slowly (more
// than ServerOptions::max_queued_events queued), when Close() is called, or
// at server shutdown. Sending to a closed stream is a no-op returning false.
//
// Ownership: the server owns the connection; an EventStream is a handle to
// it, shared by whoever wants to push (it keeps no connection alive).
// Thread-safety: every method of both classes may be called from any thread.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::http {

namespace internal {
class Session;
}

struct Event {
  // Empty fields are left out; `data` may hold several lines (each becomes
  // a "data:" line, as the SSE format requires).
  std::string event;
  std::string data;
  std::string id;
  // Reconnection delay advised to the browser, in ms (0: not sent).
  int retry_ms = 0;
};

// The wire form of one event ("event: x\ndata: y\n\n").
std::string FormatEvent(const Event& event);

class EventStream {
 public:
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Queues the event for the client. False when the stream is closed (the
  // event is dropped).
  bool Send(const Event& event);
  // Queues an already formatted event (FormatEvent): lets a broadcaster
  // format once for every client.
  bool SendFormatted(std::string formatted);
  // Ends the stream: queued events are still written, then the response
  // ends and the connection closes. Idempotent.
  void Close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

 private:
  friend class internal::Session;
  explicit EventStream(std::weak_ptr<internal::Session> session) : session_(std::move(session)) {}
  void MarkClosed() { closed_.store(true, std::memory_order_release); }

  std::weak_ptr<internal::Session> session_;
  std::atomic<bool> closed_{false};
};

// Fans events out to many streams (e.g. every open dashboard page).
// Closed streams are dropped at the next Publish.
class EventBroadcaster {
 public:
  void Add(std::shared_ptr<EventStream> stream);
  // Sends the event to every open stream; returns how many got it.
  size_t Publish(const Event& event);
  // Open streams as of the last Publish or Add.
  size_t size() const;
  // Closes every stream (e.g. before the publisher goes away).
  void CloseAll();

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<EventStream>> streams_;
};

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_EVENT_STREAM_H_
