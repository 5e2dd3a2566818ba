#ifndef RUNNEL_HTTP_INTERNAL_CORE_H_
#define RUNNEL_HTTP_INTERNAL_CORE_H_

// The server's shared state: io_context, acceptor, I/O threads, the
// registry of open sessions and the gate that stops posts once the server
// is gone. Not for other modules (internal/).
//
// Ownership: shared by Server and every Session (each holds a shared_ptr),
// so the io_context outlives every socket and every Responder that might
// still post to a strand. Sessions are registered by weak_ptr: no cycles.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "runnel/http/router.h"
#include "runnel/http/server.h"

namespace runnel::http::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

class Session;

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(ServerOptions options, Router router);
  ~Core();

  // Binds and listens; returns the bound port.
  absl::StatusOr<uint16_t> Listen();
  // Starts the I/O threads and the accept loop.
  void Run();
  absl::Status Shutdown(absl::Duration grace);
  ServerStats Stats() const;

  // Posts `fn` to `strand` unless the server has stopped (then drops it
  // and returns false). Any thread.
  template <typename Fn>
  bool Post(const Strand& strand, Fn&& fn) {
    std::lock_guard<std::mutex> lock(gate_mu_);
    if (!gate_open_) return false;
    asio::post(strand, std::forward<Fn>(fn));
    return true;
  }
  // Posts `fn` to the io_context, the same way.
  bool Post(absl::AnyInvocable<void()> fn) {
    std::lock_guard<std::mutex> lock(gate_mu_);
    if (!gate_open_) return false;
    asio::post(ioc, std::move(fn));
    return true;
  }
  // True on one of this server's I/O threads.
  bool OnIoThread() const;
  // "Date" header value for now (cached per second per thread).
  std::string_view HttpDate() const;
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  void Unregister(uint64_t id);

  const ServerOptions options;
  const Router router;
  asio::io_context ioc;
  // The TLS context of every connection (ServerOptions::tls); null: plain
  // TCP. Set by Server::Start before Run, read-only after.
  std::unique_ptr<asio::ssl::context> tls;

  std::atomic<int64_t> accepted{0}, open{0}, requests{0}, in_flight{0}, rejected{0}, streams_open{0};

 private:
  void Accept();
  void OnAccept(Strand strand, const boost::system::error_code& ec, tcp::socket socket);
  // Posts OnShutdown(force) to every live session.
  void TellSessions(bool force);
  // Waits until no session is open or `timeout` passed; true if none is.
  bool WaitClosed(absl::Duration timeout);

  Strand accept_strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};

  std::mutex gate_mu_;
  bool gate_open_ = true;

  mutable std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Session>> sessions_;
  uint64_t next_id_ = 1;
};

}  // namespace runnel::http::internal

#endif  // RUNNEL_HTTP_INTERNAL_CORE_H_
