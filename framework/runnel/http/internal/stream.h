#ifndef RUNNEL_HTTP_INTERNAL_STREAM_H_
#define RUNNEL_HTTP_INTERNAL_STREAM_H_

// A connection's byte stream: plain TCP, or TLS over TCP when the server
// has a TLS context (ServerOptions::tls). It is an Asio AsyncReadStream and
// AsyncWriteStream, so Beast's HTTP reads and writes and Asio's async_write
// use it unchanged; timeouts stay on the TCP layer (tcp()), under TLS too.
//
// Thread: used only on its session's strand (one read and one write may be
// outstanding at once, as with the TCP stream; TLS allows that too).
// Ownership: owned by its Session; the TLS context (owned by the server's
// Core, shared by the sessions) outlives it.

#include <optional>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace runnel::http::internal {

class Stream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  // `tls` null: plain TCP.
  Stream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(std::move(socket), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  executor_type get_executor() noexcept { return tls_ ? tls_->get_executor() : plain_->get_executor(); }
  bool is_tls() const { return tls_.has_value(); }
  // The TCP layer: timeouts, socket options, close.
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }

  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }
  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }
  // TLS only: the server side of the handshake; close_notify.
  template <typename Handler>
  void async_handshake(Handler&& handler) {
    tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
  }
  template <typename Handler>
  void async_shutdown(Handler&& handler) {
    tls_->async_shutdown(std::forward<Handler>(handler));
  }

 private:
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

}  // namespace runnel::http::internal

#endif  // RUNNEL_HTTP_INTERNAL_STREAM_H_
