#include "runnel/http/server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/socket_base.hpp>

#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/logging.h"
#include "runnel/http/internal/core.h"
#include "runnel/http/internal/session.h"
#include "runnel/http/internal/tls_context.h"

namespace runnel::http {
namespace internal {
namespace {

// The Core whose I/O thread this is (null on other threads).
thread_local const Core* current_core = nullptr;

}  // namespace

Core::Core(ServerOptions opts, Router r)
    : options(std::move(opts)),
      router(std::move(r)),
      ioc(options.threads),
      accept_strand_(asio::make_strand(ioc)),
      acceptor_(accept_strand_),
      accept_retry_(accept_strand_) {}

Core::~Core() = default;

absl::StatusOr<uint16_t> Core::Listen() {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.address, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen address '", options.address, "'"));
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = absl::StrCat(options.address, ":", options.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  return acceptor_.local_endpoint().port();
}

void Core::Run() {
  work_.emplace(ioc.get_executor());
  for (int i = 0; i < options.threads; ++i) {
    threads_.emplace_back([this] {
      current_core = this;
      ioc.run();
      current_core = nullptr;
    });
  }
  asio::post(accept_strand_, [self = shared_from_this()] { self->Accept(); });
}

bool Core::OnIoThread() const { return current_core == this; }

void Core::Accept() {
  if (stopping()) return;
  Strand strand = asio::make_strand(ioc);
  acceptor_.async_accept(strand, [self = shared_from_this(), strand](const boost::system::error_code& ec,
                                                                     tcp::socket socket) mutable {
    self->OnAccept(strand, ec, std::move(socket));
  });
}

void Core::OnAccept(Strand strand, const boost::system::error_code& ec, tcp::socket socket) {
  if (stopping() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors, typically: back off instead of spinning.
    static RateLimiter limiter(10'000);
    int64_t suppressed = 0;
    if (limiter.Allow(absl::ToUnixMillis(options.clock->Now()), &suppressed)) {
      Logger("http")->warn("accept failed: {} ({} more suppressed)", ec.message(), suppressed);
    }
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->Accept();
    });
    return;
  }
  accepted.fetch_add(1, std::memory_order_relaxed);
  if (static_cast<size_t>(open.load(std::memory_order_relaxed)) >= options.max_connections) {
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    std::shared_ptr<Session> session;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      const uint64_t id = next_id_++;
      session = std::make_shared<Session>(shared_from_this(), strand, std::move(socket), id);
      sessions_.emplace(id, session);
      open.fetch_add(1, std::memory_order_relaxed);
    }
    session->Start();
  }
  Accept();
}

void Core::Unregister(uint64_t id) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  if (sessions_.erase(id) > 0) open.fetch_sub(1, std::memory_order_relaxed);
  if (sessions_.empty()) sessions_cv_.notify_all();
}

void Core::TellSessions(bool force) {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->PostShutdown(force);
}

bool Core::WaitClosed(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(sessions_mu_);
  return sessions_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return sessions_.empty(); });
}

absl::Status Core::Shutdown(absl::Duration grace) {
  RUNNEL_CHECK(!OnIoThread()) << "Server::Shutdown called from one of its own I/O threads (a handler)";
  if (stopping_.exchange(true)) return absl::OkStatus();
  asio::post(accept_strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->accept_retry_.cancel();
  });
  TellSessions(/*force=*/false);
  absl::Status result = absl::OkStatus();
  if (!WaitClosed(grace)) {
    const int64_t left = in_flight.load();
    result = absl::DeadlineExceededError(
        absl::StrCat(left, " requests still in flight and ", open.load(), " connections open after ",
                     absl::FormatDuration(grace), " of graceful shutdown; closed them"));
    TellSessions(/*force=*/true);
    WaitClosed(absl::Seconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(gate_mu_);
    gate_open_ = false;
  }
  work_.reset();
  ioc.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Run what was posted before the gate closed, so that the handlers (and
  // the sessions they hold) are released now rather than never: every
  // socket is closed, so each one completes at once.
  ioc.restart();
  for (int i = 0; i < 100 && ioc.poll() > 0; ++i) {
  }
  stopped_ = true;
  return result;
}

ServerStats Core::Stats() const {
  return ServerStats{.connections_accepted = accepted.load(std::memory_order_relaxed),
                     .connections_open = open.load(std::memory_order_relaxed),
                     .requests = requests.load(std::memory_order_relaxed),
                     .requests_in_flight = in_flight.load(std::memory_order_relaxed),
                     .requests_rejected = rejected.load(std::memory_order_relaxed),
                     .event_streams_open = streams_open.load(std::memory_order_relaxed)};
}

std::string_view Core::HttpDate() const {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  const absl::Time now = options.clock->Now();
  const int64_t second = absl::ToUnixSeconds(now);
  if (second != cached_second) {
    cached = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", now, absl::UTCTimeZone());
    cached_second = second;
  }
  return cached;
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Router router) {
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat("http threads must be 1..256, got ", options.threads));
  }
  if (options.max_body_bytes == 0 || options.max_header_bytes < 256 || options.max_header_bytes > (1u << 30)) {
    return absl::InvalidArgumentError("http max_body_bytes must be > 0 and max_header_bytes in 256..1 GiB");
  }
  if (options.max_connections == 0 || options.max_queued_events == 0) {
    return absl::InvalidArgumentError("http max_connections and max_queued_events must be > 0");
  }
  if (options.read_timeout <= absl::ZeroDuration() || options.write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http read and write timeouts must be positive");
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("http server needs a clock");
  std::unique_ptr<boost::asio::ssl::context> tls;
  if (absl::Status s = CheckServerTls(options.tls); !s.ok()) return s;
  if (options.tls.enabled()) {
    auto context = internal::MakeServerTlsContext(options.tls);
    if (!context.ok()) return context.status();
    tls = *std::move(context);
  }
  auto core = std::make_shared<internal::Core>(std::move(options), std::move(router));
  core->tls = std::move(tls);
  absl::StatusOr<uint16_t> port = core->Listen();
  if (!port.ok()) return port.status();
  core->Run();
  return std::unique_ptr<Server>(new Server(std::move(core), *port));
}

Server::~Server() {
  absl::Status s = core_->Shutdown(absl::Seconds(5));
  if (!s.ok()) Logger("http")->warn("server on port {}: {}", port_, std::string(s.message()));
}

ServerStats Server::stats() const { return core_->Stats(); }

absl::Status Server::Shutdown(absl::Duration grace) { return core_->Shutdown(grace); }

bool Server::Post(absl::AnyInvocable<void()> fn) { return core_->Post(std::move(fn)); }

}  // namespace runnel::http
