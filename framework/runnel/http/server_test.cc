// The server against real sockets on loopback: Client (client.h) for
// well-formed traffic, a raw socket for what Client would never send.

#include "runnel/http/server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "runnel/common/strings.h"
#include "runnel/http/client.h"
#include "runnel/http/json.h"

namespace runnel::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A blocking raw connection with a receive timeout.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port, absl::Duration timeout = absl::Seconds(10)) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{};
    tv.tv_sec = absl::ToInt64Seconds(timeout);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  void Write(std::string_view data) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(data.data(), data.size()), ec);
  }
  // Reads until `needle` shows up in everything read so far, EOF or timeout.
  std::string ReadUntil(std::string_view needle) {
    char buf[4096];
    while (received_.find(needle) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) break;
      received_.append(buf, n);
    }
    return received_;
  }
  // Reads until the server closes (or the timeout); true on EOF.
  bool ReadToEof() {
    char buf[4096];
    while (true) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
      received_.append(buf, n);
    }
  }
  const std::string& received() const { return received_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  std::string received_;
};

std::unique_ptr<Server> StartServer(Router router, ServerOptions options = {}) {
  auto server = Server::Start(std::move(options), std::move(router));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<Client> Connect(const Server& server) {
  auto client = Client::Connect("127.0.0.1", server.port(), absl::Seconds(10));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

Router EchoRouter() {
  Router router;
  router.Get("/hello", Sync([](const Request&) { return Response::Text(200, "hello"); }));
  router.Get("/api/sensors/{id}", Sync([](const Request& r) {
               return Response::Text(200, absl::StrCat("sensor=", ToAbsl(r.PathParam("id")),
                                                       " from=", ToAbsl(r.Query("from").value_or("-"))));
             }));
  router.Get("/api/sensors/{id}/windows", Sync([](const Request& r) {
               return Response::Text(200, absl::StrCat("windows of ", ToAbsl(r.PathParam("id"))));
             }));
  router.Post("/echo", Sync([](const Request& r) {
                Response out = Response::Text(201, r.body());
                out.content_type = r.ContentType();
                return out;
              }));
  return router;
}

TEST(ServerTest, BindsPortZeroAndReportsTheBoundPort) {
  auto server = StartServer(EchoRouter());
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->port(), 0);
  auto client = Connect(*server);
  auto r = client->Get("/hello");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("Server"), "runnel");
}

TEST(ServerTest, RoutesWithPathAndQueryParameters) {
  auto server = StartServer(EchoRouter());
  auto client = Connect(*server);
  auto r = client->Get("/api/sensors/s%2017?from=10&to=20");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "sensor=s 17 from=10");
  r = client->Get("/api/sensors/x/windows");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "windows of x");
  r = client->PostJson("/echo", R"({"a":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"a":1})");
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
}

TEST(ServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto server = StartServer(EchoRouter());
  auto client = Connect(*server);
  auto r = client->Get("/nope");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  r = client->Send(Method::kDelete, "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("Allow"), "GET");
  // Both leave the connection usable.
  EXPECT_EQ(client->Get("/hello")->status, 200);
  EXPECT_EQ(client->connects(), 1);
}

TEST(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = StartServer(EchoRouter());
  auto client = Connect(*server);
  for (int i = 0; i < 50; ++i) {
    auto r = client->PostJson("/echo", absl::StrCat("[", i, "]"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, absl::StrCat("[", i, "]"));
  }
  EXPECT_EQ(client->connects(), 1);
  EXPECT_EQ(server->stats().connections_accepted, 1);
  EXPECT_EQ(server->stats().requests, 50);
}

TEST(ServerTest, OversizedBodyIs413) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(EchoRouter(), options);
  {
    auto client = Connect(*server);
    auto r = client->PostJson("/echo", std::string(1000, 'x'));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 201);
    r = client->PostJson("/echo", std::string(1001, 'x'));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find("over 1000 bytes"), std::string::npos) << r->body;
    EXPECT_EQ(r->Header("Connection"), "close");
  }
  // A chunked body is cut off where it passes the limit.
  RawConnection raw(server->port());
  raw.Write("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) raw.Write(absl::StrCat("1F4\r\n", std::string(500, 'y'), "\r\n"));
  EXPECT_NE(raw.ReadUntil("\r\n\r\n").find("HTTP/1.1 413"), std::string::npos) << raw.received();
  EXPECT_TRUE(raw.ReadToEof());
  EXPECT_EQ(server->stats().requests_rejected, 2);
}

TEST(ServerTest, OversizedHeaderIs431) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  auto server = StartServer(EchoRouter(), options);
  auto client = Connect(*server);
  auto r = client->Send(Method::kGet, "/hello", "", {{"X-Big", std::string(2000, 'h')}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 431);
}

TEST(ServerTest, MalformedRequestIs400AndCloses) {
  auto server = StartServer(EchoRouter());
  for (std::string_view garbage : {std::string_view("NOT HTTP AT ALL\r\n\r\n"),
                                   std::string_view("GET /hello HTTP/9.x\r\n\r\n"),
                                   std::string_view("POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
                                   std::string_view("GET /he llo HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    RawConnection raw(server->port());
    raw.Write(garbage);
    EXPECT_TRUE(raw.ReadToEof()) << garbage;
    EXPECT_EQ(raw.received().rfind("HTTP/1.1 400", 0), 0u) << garbage << " -> " << raw.received();
  }
  // A well-formed message with a target that is not a path: 400, and the
  // connection stays open.
  RawConnection raw(server->port());
  raw.Write("GET * HTTP/1.1\r\nHost: x\r\n\r\nGET http://x/hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = raw.ReadUntil("hello");
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
}

TEST(ServerTest, ExpectContinueGetsAnInterimResponse) {
  auto server = StartServer(EchoRouter());
  RawConnection raw(server->port());
  raw.Write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(raw.ReadUntil("\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
  raw.Write("12345");
  EXPECT_NE(raw.ReadUntil("12345").find("HTTP/1.1 201"), std::string::npos) << raw.received();
}

TEST(ServerTest, HandlerAnswersLaterFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::atomic<int> seen_on_io_thread{0};
  Router router;
  router.Get("/later", [&](Request request, Responder responder) {
    std::lock_guard<std::mutex> lock(mu);
    ++seen_on_io_thread;
    workers.emplace_back([request = std::move(request), responder = std::move(responder)]() mutable {
      absl::SleepFor(absl::Milliseconds(20));
      std::move(responder).Respond(Response::Text(200, absl::StrCat("later ", ToAbsl(request.path()))));
    });
  });
  auto server = StartServer(std::move(router));
  auto client = Connect(*server);
  for (int i = 0; i < 5; ++i) {
    auto r = client->Get("/later");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, "later /later");
  }
  EXPECT_EQ(client->connects(), 1);
  std::lock_guard<std::mutex> lock(mu);
  for (auto& t : workers) t.join();
}

TEST(ServerTest, DroppedResponderAnswers500) {
  Router router;
  router.Get("/forget", [](Request, Responder) {});
  router.Get("/throw", [](Request, Responder) { throw std::runtime_error("boom"); });
  auto server = StartServer(std::move(router));
  auto client = Connect(*server);
  EXPECT_EQ(client->Get("/forget")->status, 500);
  EXPECT_EQ(client->Get("/throw")->status, 500);
}

TEST(ServerTest, DateHeaderComesFromTheInjectedClock) {
  ManualClock clock(absl::FromUnixSeconds(1'763'389'200));  // 2025-11-17 14:20:00 UTC
  ServerOptions options;
  options.clock = &clock;
  auto server = StartServer(EchoRouter(), options);
  auto client = Connect(*server);
  EXPECT_EQ(client->Get("/hello")->Header("Date"), "Mon, 17 Nov 2025 14:20:00 GMT");
}

TEST(ServerTest, EventStreamReceivesEventsPushedFromOtherThreads) {
  EventBroadcaster broadcaster;
  Router router;
  router.Get("/events", [&](Request, Responder responder) {
    broadcaster.Add(std::move(responder).StartEventStream());
  });
  auto server = StartServer(std::move(router));
  RawConnection raw(server->port());
  raw.Write("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  std::string head = raw.ReadUntil("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos);
  while (broadcaster.size() == 0) absl::SleepFor(absl::Milliseconds(1));
  std::thread publisher([&] {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(broadcaster.Publish({.event = "stats", .data = absl::StrCat("{\"n\":", i, "}\nline2"), .id = absl::StrCat(i)}),
                1u);
    }
  });
  publisher.join();
  std::string got = raw.ReadUntil("id: 2\nevent: stats\ndata: {\"n\":2}\ndata: line2\n\n");
  EXPECT_NE(got.find("id: 0\nevent: stats\ndata: {\"n\":0}\ndata: line2\n\n"), std::string::npos) << got;
  EXPECT_NE(got.find("id: 2\nevent: stats\ndata: {\"n\":2}\ndata: line2\n\n"), std::string::npos) << got;
  EXPECT_EQ(server->stats().event_streams_open, 1);
}

TEST(ServerTest, EventStreamClosesWhenTheClientLeaves) {
  EventBroadcaster broadcaster;
  Router router;
  router.Get("/events", [&](Request, Responder responder) {
    broadcaster.Add(std::move(responder).StartEventStream());
  });
  auto server = StartServer(std::move(router));
  {
    RawConnection raw(server->port());
    raw.Write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    raw.ReadUntil("\r\n\r\n");
  }
  for (int i = 0; i < 500 && server->stats().event_streams_open > 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(server->stats().event_streams_open, 0);
  EXPECT_EQ(broadcaster.Publish({.data = "x"}), 0u);
}

TEST(ServerTest, HeartbeatsKeepAnIdleStreamAlive) {
  EventBroadcaster broadcaster;
  Router router;
  router.Get("/events", [&](Request, Responder responder) {
    broadcaster.Add(std::move(responder).StartEventStream());
  });
  ServerOptions options;
  options.event_heartbeat = absl::Milliseconds(50);
  auto server = StartServer(std::move(router), options);
  RawConnection raw(server->port());
  raw.Write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = raw.ReadUntil("3\r\n:\n\n\r\n");
  EXPECT_NE(got.find("3\r\n:\n\n\r\n"), std::string::npos) << got;
}

TEST(ServerTest, GracefulShutdownFinishesTheInFlightRequestAndClosesIdleOnes) {
  absl::Notification in_handler;
  std::thread worker;
  Router router;
  router.Get("/slow", [&](Request, Responder responder) {
    worker = std::thread([responder = std::move(responder)]() mutable {
      absl::SleepFor(absl::Milliseconds(500));
      std::move(responder).Respond(Response::Text(200, "slow done"));
    });
    in_handler.Notify();
  });
  router.Get("/hello", Sync([](const Request&) { return Response::Text(200, "hello"); }));
  EventBroadcaster broadcaster;
  router.Get("/events", [&](Request, Responder responder) {
    broadcaster.Add(std::move(responder).StartEventStream());
  });
  auto server = StartServer(std::move(router));
  const uint16_t port = server->port();
  auto idle = Connect(*server);
  ASSERT_EQ(idle->Get("/hello")->status, 200);
  RawConnection stream(port);
  stream.Write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  stream.ReadUntil("\r\n\r\n");

  absl::StatusOr<ClientResponse> slow;
  std::thread caller([&] {
    auto client = Client::Connect("127.0.0.1", port);
    ASSERT_TRUE(client.ok());
    slow = (*client)->Get("/slow");
  });
  in_handler.WaitForNotification();
  const absl::Time start = Clock::System().Now();
  absl::Status s = server->Shutdown(absl::Seconds(10));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_GE(Clock::System().Now() - start, absl::Milliseconds(300));  // it waited for /slow
  caller.join();
  worker.join();
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(slow->status, 200);
  EXPECT_EQ(slow->body, "slow done");
  EXPECT_EQ(slow->Header("Connection"), "close");
  // The event stream was ended properly (last chunk), then closed.
  EXPECT_TRUE(stream.ReadToEof());
  EXPECT_NE(stream.received().find("0\r\n\r\n"), std::string::npos);
  // The idle connection was closed, and nothing listens any more.
  EXPECT_FALSE(idle->Get("/hello").ok());
  EXPECT_FALSE(Client::Connect("127.0.0.1", port).ok());
}

TEST(ServerTest, ShutdownCutsOffRequestsThatOutlastTheGrace) {
  Responder kept;
  absl::Notification in_handler;
  Router router;
  router.Get("/never", [&](Request, Responder responder) {
    kept = std::move(responder);
    in_handler.Notify();
  });
  auto server = StartServer(std::move(router));
  std::thread caller([&] {
    auto client = Client::Connect("127.0.0.1", server->port());
    ASSERT_TRUE(client.ok());
    EXPECT_FALSE((*client)->Get("/never").ok());  // connection closed, no answer
  });
  in_handler.WaitForNotification();
  absl::Status s = server->Shutdown(absl::Milliseconds(200));
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  caller.join();
  server.reset();
  // Answering after the server is gone is a safe no-op.
  std::move(kept).Respond(Response::Text(200, "too late"));
}

TEST(ServerTest, ManyConcurrentKeepAliveConnectionsAreAllServed) {
  Router router;
  router.Get("/n/{i}", [&](Request request, Responder responder) {
    std::string body = absl::StrCat("n=", ToAbsl(request.PathParam("i")));
    std::move(responder).Respond(Response::Text(200, std::move(body)));
  });
  ServerOptions options;
  options.threads = 2;
  auto server = StartServer(std::move(router), options);
  constexpr int kConnections = 200, kRequests = 20;
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < kConnections; ++c) clients.push_back(Connect(*server));
  // Every connection is open at once before any request is sent.
  for (int i = 0; i < 200 && server->stats().connections_open < kConnections; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(server->stats().connections_open, kConnections);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 20;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread drives its 10 connections round-robin: all 200 stay
      // open and idle between requests, as keep-alive clients do.
      for (int i = 0; i < kRequests; ++i) {
        for (int c = t; c < kConnections; c += kThreads) {
          auto r = clients[c]->Get(absl::StrCat("/n/", c * 1000 + i));
          if (r.ok() && r->status == 200 && r->body == absl::StrCat("n=", c * 1000 + i)) ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kConnections * kRequests);
  EXPECT_EQ(server->stats().connections_accepted, kConnections);
  for (const auto& c : clients) EXPECT_EQ(c->connects(), 1);
}

TEST(ServerTest, BindingAPortInUseIsUnavailable) {
  auto first = StartServer(EchoRouter());
  ServerOptions options;
  options.port = first->port();
  auto second = Server::Start(options, EchoRouter());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  options.address = "not-an-address";
  options.port = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(Server::Start(options, EchoRouter()).status()));
}

}  // namespace
}  // namespace runnel::http
