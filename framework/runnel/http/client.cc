#include "runnel/http/client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"
#include "runnel/http/internal/tls_context.h"

namespace runnel::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Client::Impl {
  std::string host;
  uint16_t port = 0;
  absl::Duration timeout;
  asio::io_context ioc;
  tcp::socket socket{ioc};
  // HTTPS: the context (from ClientOptions::tls) and, while connected, the
  // TLS stream over `socket`.
  std::unique_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  boost::beast::flat_buffer buffer;
  bool connected = false;
  int connects = 0;

  absl::Status Open() {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot resolve ", host, ": ", ec.message()));
    socket = tcp::socket(ioc);
    asio::connect(socket, endpoints, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot connect to ", host, ":", port, ": ", ec.message()));
    socket.set_option(tcp::no_delay(true), ec);
    // Blocking reads and writes, bounded by SO_RCVTIMEO / SO_SNDTIMEO.
    timeval tv{};
    const int64_t micros = absl::ToInt64Microseconds(timeout);
    tv.tv_sec = micros / 1'000'000;
    tv.tv_usec = micros % 1'000'000;
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (tls_context != nullptr) {
      tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, *tls_context);
      tls->set_verify_callback(asio::ssl::host_name_verification(host));
      // SNI, for names only (not for IP addresses).
      boost::system::error_code not_an_address;
      asio::ip::make_address(host, not_an_address);
      if (not_an_address && SSL_set_tlsext_host_name(tls->native_handle(), host.c_str()) != 1) {
        return absl::InternalError(absl::StrCat("TLS: cannot set the server name ", host));
      }
      tls->handshake(asio::ssl::stream_base::client, ec);
      if (ec) {
        Drop();
        return absl::UnavailableError(absl::StrCat("TLS handshake with ", host, ":", port, ": ", ec.message()));
      }
    }
    buffer.clear();
    connected = true;
    ++connects;
    return absl::OkStatus();
  }

  // Calls fn(stream) with the TLS stream or the plain socket.
  template <typename Fn>
  void WithStream(Fn fn) {
    if (tls != nullptr) {
      fn(*tls);
    } else {
      fn(socket);
    }
  }

  void Drop() {
    tls.reset();
    boost::system::error_code ignored;
    socket.close(ignored);
    connected = false;
  }
};

std::optional<std::string_view> ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(ToAbsl(k), ToAbsl(name))) return std::string_view(v);
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& host, uint16_t port,
                                                        absl::Duration timeout) {
  return Connect(host, port, ClientOptions{.timeout = timeout});
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& host, uint16_t port,
                                                        ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->host = host;
  impl->port = port;
  impl->timeout = options.timeout;
  if (options.tls.has_value()) {
    auto context = internal::MakeClientTlsContext(*options.tls);
    if (!context.ok()) return context.status();
    impl->tls_context = *std::move(context);
  }
  if (absl::Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

int Client::connects() const { return impl_->connects; }

absl::StatusOr<ClientResponse> Client::Send(Method method, std::string_view target, std::string_view body,
                                            const Fields& headers) {
  if (!impl_->connected) {
    if (absl::Status s = impl_->Open(); !s.ok()) return s;
  }
  bhttp::request<bhttp::string_body> request;
  request.version(11);
  request.method_string(boost::beast::string_view(MethodName(method).data(), MethodName(method).size()));
  request.target(boost::beast::string_view(target.data(), target.size()));
  request.set(bhttp::field::host, absl::StrCat(impl_->host, ":", impl_->port));
  for (const auto& [k, v] : headers) request.set(k, v);
  request.body() = std::string(body);
  request.prepare_payload();
  boost::system::error_code ec;
  impl_->WithStream([&](auto& stream) { bhttp::write(stream, request, ec); });
  if (ec) {
    impl_->Drop();
    return absl::UnavailableError(absl::StrCat("writing the request: ", ec.message()));
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(boost::none);
  parser.skip(method == Method::kHead);
  impl_->WithStream([&](auto& stream) { bhttp::read(stream, impl_->buffer, parser, ec); });
  if (ec) {
    impl_->Drop();
    if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::timed_out) {
      return absl::DeadlineExceededError(absl::StrCat("no response within ", absl::FormatDuration(impl_->timeout)));
    }
    return absl::UnavailableError(absl::StrCat("reading the response: ", ec.message()));
  }
  auto message = parser.release();
  ClientResponse out;
  out.status = static_cast<int>(message.result_int());
  for (const auto& field : message) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(message.body());
  if (!message.keep_alive()) impl_->Drop();
  return out;
}

}  // namespace runnel::http
