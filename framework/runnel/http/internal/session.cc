#include "runnel/http/internal/session.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runnel/common/check.h"
#include "runnel/common/logging.h"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"
#include "runnel/http/responder.h"

namespace runnel::http {
namespace internal {
namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

std::string Chunk(std::string_view data) {
  return absl::StrCat(absl::Hex(data.size()), "\r\n", ToAbsl(data), "\r\n");
}

bool IsQuietEnd(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == beast::error::timeout || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor;
}

}  // namespace

Session::Session(std::shared_ptr<Core> core, Strand strand, tcp::socket socket, uint64_t id)
    : core_(std::move(core)),
      id_(id),
      strand_(strand),
      stream_(std::move(socket), core_->tls.get()),
      heartbeat_(strand) {
  beast::error_code ec;
  auto endpoint = stream_.tcp().socket().remote_endpoint(ec);
  if (!ec) remote_ = absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
  stream_.tcp().socket().set_option(tcp::no_delay(true), ec);
}

Session::~Session() = default;

void Session::Start() {
  core_->Post(strand_, [self = shared_from_this()] {
    if (self->stream_.is_tls()) {
      self->DoHandshake();
    } else {
      self->DoIdle();
    }
  });
}

void Session::DoHandshake() {
  state_ = State::kReading;
  stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.read_timeout));
  stream_.async_handshake([self = shared_from_this()](beast::error_code ec) {
    if (self->state_ != State::kReading) return;
    if (ec) {
      // No certificate, one from another CA, not TLS at all: nothing to answer.
      Logger("http")->debug("TLS handshake with {} failed: {}", self->remote_, ec.message());
      self->Close();
      return;
    }
    self->DoIdle();
  });
}

// Waits for the first byte of the next request with nothing buffered: the
// one state in which shutdown may close the connection without cutting a
// request off.
void Session::DoIdle() {
  state_ = State::kIdle;
  if (shutdown_requested_ || core_->stopping()) {
    Close();
    return;
  }
  if (buffer_.size() > 0) {
    DoReadHeader();
    return;
  }
  stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.read_timeout));
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
    if (ec) {
      self->Close();
      return;
    }
    self->buffer_.commit(n);
    if (self->state_ == State::kIdle) self->DoReadHeader();
  });
}

void Session::DoReadHeader() {
  state_ = State::kReading;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
  parser_->body_limit(core_->options.max_body_bytes);
  stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.read_timeout));
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(beast::error_code ec) {
  if (state_ != State::kReading) return;
  if (ec) {
    OnReadError(ec);
    return;
  }
  if (parser_->is_done()) {
    OnRequest();
    return;
  }
  const auto& header = parser_->get();
  auto expect = header.find(bhttp::field::expect);
  if (expect != header.end() && absl::EqualsIgnoreCase(ToAbsl(std::string_view(expect->value())), "100-continue")) {
    stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.write_timeout));
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->DoReadBody();
                      });
    return;
  }
  DoReadBody();
}

void Session::DoReadBody() {
  if (state_ != State::kReading) return;
  stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.read_timeout));
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

void Session::OnBody(beast::error_code ec) {
  if (state_ != State::kReading) return;
  if (ec) {
    OnReadError(ec);
    return;
  }
  OnRequest();
}

void Session::OnReadError(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    Reject(413, absl::StrCat("request body over ", core_->options.max_body_bytes, " bytes"));
  } else if (ec == bhttp::error::header_limit) {
    Reject(431, absl::StrCat("request header over ", core_->options.max_header_bytes, " bytes"));
  } else if (IsQuietEnd(ec) || ec == bhttp::error::partial_message) {
    Close();
  } else {
    Reject(400, absl::StrCat("malformed request: ", ec.message()));
  }
}

void Session::OnRequest() {
  bhttp::request<bhttp::string_body> message = parser_->release();
  parser_.reset();
  version_ = message.version();
  keep_alive_ = message.keep_alive();
  Fields headers;
  headers.reserve(8);
  for (const auto& field : message) {
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  auto request = Request::Make(std::string_view(message.method_string()), std::string(message.target()),
                               std::move(headers), std::move(message.body()), remote_);
  if (!request) {
    // A well-formed message with a bad target: the connection stays usable.
    core_->requests.fetch_add(1, std::memory_order_relaxed);
    core_->in_flight.fetch_add(1, std::memory_order_relaxed);
    core_->rejected.fetch_add(1, std::memory_order_relaxed);
    state_ = State::kHandling;
    DoRespond(JsonError(400, "malformed request target (not an absolute path, or a bad %-escape)"));
    return;
  }
  core_->requests.fetch_add(1, std::memory_order_relaxed);
  core_->in_flight.fetch_add(1, std::memory_order_relaxed);
  state_ = State::kHandling;
  try {
    core_->router.Dispatch(*std::move(request), Responder(shared_from_this()));
  } catch (const std::exception& e) {
    // The Responder, destroyed on the way out, has answered 500.
    Logger("http")->error("handler for {} threw: {}", message.target(), e.what());
  }
}

void Session::Reject(int status, std::string message) {
  core_->rejected.fetch_add(1, std::memory_order_relaxed);
  core_->in_flight.fetch_add(1, std::memory_order_relaxed);
  keep_alive_ = false;
  state_ = State::kHandling;
  DoRespond(JsonError(status, message));
}

void Session::Respond(Response response) {
  if (strand_.running_in_this_thread()) {
    DoRespond(std::move(response));
    return;
  }
  core_->Post(strand_, [self = shared_from_this(), response = std::move(response)]() mutable {
    self->DoRespond(std::move(response));
  });
}

void Session::DoRespond(Response r) {
  if (state_ != State::kHandling) return;  // closed meanwhile
  core_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  const int status = r.status >= 100 && r.status <= 999 ? r.status : 500;
  response_ = {};
  response_.version(version_);
  response_.result(static_cast<unsigned>(status));
  response_.set(bhttp::field::server, core_->options.server_name);
  response_.set(bhttp::field::date, core_->HttpDate());
  if (!r.content_type.empty()) response_.set(bhttp::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) response_.insert(name, value);
  response_.body() = std::move(r.body);
  response_.keep_alive(keep_alive_ && !shutdown_requested_ && !core_->stopping());
  response_.prepare_payload();
  state_ = State::kWriting;
  stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.write_timeout));
  bhttp::async_write(stream_, response_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void Session::OnWrite(beast::error_code ec) {
  if (state_ != State::kWriting) return;
  if (ec) {
    Close();
    return;
  }
  if (!response_.keep_alive()) {
    LingerClose();
    return;
  }
  DoIdle();
}

std::shared_ptr<EventStream> Session::StartStream() {
  std::shared_ptr<EventStream> stream(new EventStream(weak_from_this()));
  if (strand_.running_in_this_thread()) {
    DoStartStream(stream);
  } else if (!core_->Post(strand_, [self = shared_from_this(), stream] { self->DoStartStream(stream); })) {
    stream->MarkClosed();
  }
  return stream;
}

void Session::DoStartStream(std::shared_ptr<EventStream> stream) {
  if (state_ != State::kHandling) {
    stream->MarkClosed();
    return;
  }
  core_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  core_->streams_open.fetch_add(1, std::memory_order_relaxed);
  state_ = State::kStreaming;
  events_ = std::move(stream);
  queue_.push_back(absl::StrCat(version_ == 10 ? "HTTP/1.0" : "HTTP/1.1",
                                " 200 OK\r\nServer: ", core_->options.server_name, "\r\nDate: ",
                                ToAbsl(core_->HttpDate()),
                                "\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                                "X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // Reads (to notice the client leaving) never time out; writes do.
  stream_.tcp().expires_never();
  WatchClient();
  StartStreamWrite();
  ArmHeartbeat();
  if (shutdown_requested_ || core_->stopping()) DoEndStream();
}

void Session::EnqueueEvent(std::string formatted) {
  core_->Post(strand_, [self = shared_from_this(), chunk = Chunk(formatted)]() mutable {
    self->DoEnqueue(std::move(chunk));
  });
}

void Session::DoEnqueue(std::string chunk) {
  if (state_ != State::kStreaming || ending_) return;
  if (queue_.size() >= core_->options.max_queued_events) {
    Logger("http")->warn("event stream to {}: {} events queued, client too slow; closing it", remote_,
                         queue_.size());
    Close();
    return;
  }
  queue_.push_back(std::move(chunk));
  if (!writing_) StartStreamWrite();
}

void Session::EndStream() {
  core_->Post(strand_, [self = shared_from_this()] { self->DoEndStream(); });
}

void Session::DoEndStream() {
  if (state_ != State::kStreaming || ending_) return;
  ending_ = true;
  events_->MarkClosed();
  queue_.emplace_back(kLastChunk);
  if (!writing_) StartStreamWrite();
}

void Session::StartStreamWrite() {
  if (queue_.empty() || state_ != State::kStreaming) return;
  writing_ = true;
  stream_.tcp().expires_after(absl::ToChronoNanoseconds(core_->options.write_timeout));
  asio::async_write(stream_, asio::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->OnStreamWrite(ec); });
}

void Session::OnStreamWrite(beast::error_code ec) {
  writing_ = false;
  if (state_ != State::kStreaming) return;
  if (ec) {
    Close();
    return;
  }
  queue_.pop_front();
  if (!queue_.empty()) {
    StartStreamWrite();
  } else if (ending_) {
    Close();
  }
}

void Session::WatchClient() {
  stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (self->state_ != State::kStreaming) return;
    if (ec) {
      self->Close();  // the client went away
      return;
    }
    self->WatchClient();  // whatever it sent is ignored
  });
}

void Session::ArmHeartbeat() {
  const absl::Duration every = core_->options.event_heartbeat;
  if (every <= absl::ZeroDuration()) return;
  heartbeat_.expires_after(absl::ToChronoNanoseconds(every));
  heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->state_ != State::kStreaming || self->ending_) return;
    if (self->queue_.empty()) self->DoEnqueue(Chunk(":\n\n"));
    self->ArmHeartbeat();
  });
}

void Session::LingerClose() {
  if (lingering_) {
    Close();
    return;
  }
  lingering_ = true;
  state_ = State::kIdle;  // nothing in flight; shutdown may cut this short
  if (stream_.is_tls()) {
    // close_notify, then wait a moment for the client's (or its close).
    stream_.tcp().expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->Close(); });
    return;
  }
  beast::error_code ec;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    Close();
    return;
  }
  stream_.tcp().expires_after(std::chrono::seconds(2));
  Drain();
}

void Session::Drain() {
  stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec || self->state_ == State::kClosed) {
      self->Close();
      return;
    }
    self->Drain();
  });
}

void Session::PostShutdown(bool force) {
  core_->Post(strand_, [self = shared_from_this(), force] { self->OnShutdown(force); });
}

void Session::OnShutdown(bool force) {
  shutdown_requested_ = true;
  switch (state_) {
    case State::kIdle:
      Close();
      break;
    case State::kStreaming:
      if (force) {
        Close();
      } else {
        DoEndStream();
      }
      break;
    case State::kReading:
    case State::kHandling:
    case State::kWriting:
      if (force) Close();
      break;
    case State::kClosed:
      break;
  }
}

void Session::Close() {
  if (state_ == State::kClosed) return;
  if (state_ == State::kHandling) core_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (events_ != nullptr) {
    events_->MarkClosed();
    core_->streams_open.fetch_sub(1, std::memory_order_relaxed);
  }
  state_ = State::kClosed;
  queue_.clear();
  heartbeat_.cancel();
  beast::error_code ec;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.tcp().close();
  core_->Unregister(id_);
}

}  // namespace internal

// Responder and EventStream: thin handles on a Session.

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (session_ != nullptr) session_->Respond(JsonError(500, "handler did not answer"));
    session_ = std::move(other.session_);
  }
  return *this;
}

Responder::~Responder() {
  if (session_ != nullptr) session_->Respond(JsonError(500, "handler did not answer"));
}

void Responder::Respond(Response response) && {
  RUNNEL_CHECK(session_ != nullptr) << "Responder used twice (or default-constructed)";
  std::shared_ptr<internal::Session> session = std::move(session_);
  session->Respond(std::move(response));
}

std::shared_ptr<EventStream> Responder::StartEventStream() && {
  RUNNEL_CHECK(session_ != nullptr) << "Responder used twice (or default-constructed)";
  std::shared_ptr<internal::Session> session = std::move(session_);
  return session->StartStream();
}

Handler Sync(std::function<Response(const Request&)> fn) {
  return [fn = std::move(fn)](Request request, Responder responder) {
    std::move(responder).Respond(fn(request));
  };
}

EventStream::~EventStream() = default;

bool EventStream::Send(const Event& event) { return SendFormatted(FormatEvent(event)); }

bool EventStream::SendFormatted(std::string formatted) {
  if (closed()) return false;
  std::shared_ptr<internal::Session> session = session_.lock();
  if (session == nullptr) {
    MarkClosed();
    return false;
  }
  session->EnqueueEvent(std::move(formatted));
  return true;
}

void EventStream::Close() {
  if (closed()) return;
  if (std::shared_ptr<internal::Session> session = session_.lock()) session->EndStream();
  MarkClosed();
}

}  // namespace runnel::http
