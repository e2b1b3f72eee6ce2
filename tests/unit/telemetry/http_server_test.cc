// HttpServer over real loopback sockets: routing answers, limits, query decoding, and
// the hostile-client cases (stalled clients, deadlines, connection floods).

#include "telemetry/http_server.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/telemetry/http_client.h"

namespace warren::telemetry {
namespace {

using namespace std::chrono_literals;
using namespace test;

std::unique_ptr<HttpServer> startServer(HttpServerOptions opts = {}) {
  opts.address = "127.0.0.1:0";
  auto server = HttpServer::create(opts);
  EXPECT_TRUE(server.ok()) << server.error().message;
  if (!server.ok()) return nullptr;
  (*server)->route("GET", "/hello", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "hi\n", {}}; });
  (*server)->route("GET", "/echo", [](const HttpRequest& req) {
    std::string body;
    for (const auto& [k, v] : req.query) body += "[" + k + "]=[" + v + "]\n";
    return HttpResponse{200, "text/plain", body, {}};
  });
  (*server)->route("POST", "/echo", [](const HttpRequest& req) {
    return HttpResponse{201, "application/octet-stream", req.body, {}};
  });
  (*server)->route("GET", "/throws", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  EXPECT_TRUE((*server)->start().ok());
  return std::move(*server);
}

TEST(HttpServer, AnswersARegisteredRoute) {
  auto server = startServer();
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
  const Reply r = httpGet(server->port(), "/hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi\n");
  EXPECT_EQ(headerValue(r, "Content-Type"), "text/plain");
  EXPECT_EQ(headerValue(r, "Content-Length"), "3");
  EXPECT_EQ(headerValue(r, "Connection"), "close");
}

TEST(HttpServer, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto server = startServer();
  ASSERT_TRUE(server);
  EXPECT_EQ(httpGet(server->port(), "/nope").status, 404);
  const Reply r = roundTrip(server->port(), "DELETE /echo HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(headerValue(r, "Allow"), "GET, POST");
  EXPECT_EQ(httpPost(server->port(), "/hello").status, 405);
}

TEST(HttpServer, MalformedRequestsAre400) {
  auto server = startServer();
  ASSERT_TRUE(server);
  EXPECT_EQ(roundTrip(server->port(), "GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(roundTrip(server->port(), "GET /hello\r\n\r\n").status, 400);
  EXPECT_EQ(roundTrip(server->port(), "GET /hello HTTP/1.1 x\r\n\r\n").status, 400);
  EXPECT_EQ(roundTrip(server->port(), "GET /echo?a=%zz HTTP/1.1\r\n\r\n").status, 400);
  // A bad request line is answered without waiting for the end of the head.
  EXPECT_EQ(roundTrip(server->port(), "NOT HTTP AT ALL\r\n").status, 400);
}

TEST(HttpServer, DecodesTheQueryString) {
  auto server = startServer();
  ASSERT_TRUE(server);
  const Reply r = httpGet(server->port(), "/echo?level=debug&msg=hello%20world&plus=a+b&slash=%2F&flag");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[flag]=[]\n[level]=[debug]\n[msg]=[hello world]\n[plus]=[a b]\n[slash]=[/]\n");
}

TEST(HttpServer, PassesTheBodyAndRefusesOversizedOnesWith413) {
  auto server = startServer();
  ASSERT_TRUE(server);
  const std::string body(60 * 1024, 'x');  // under the 64 KiB limit, over one read chunk
  const Reply ok = httpPost(server->port(), "/echo", body);
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(ok.body, body);
  // Refused on the header alone, before any of the body is sent.
  EXPECT_EQ(roundTrip(server->port(), "POST /echo HTTP/1.1\r\nContent-Length: 65537\r\n\r\n").status, 413);
}

TEST(HttpServer, OversizedHeadIs431) {
  auto server = startServer();
  ASSERT_TRUE(server);
  const std::string big = "GET /hello HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(roundTrip(server->port(), big).status, 431);
  // No end of head at all.
  EXPECT_EQ(roundTrip(server->port(), "GET /hello HTTP/1.1\r\nX-Big: " + std::string(9000, 'a')).status, 431);
  // Just under the limit is fine.
  const std::string fits = "GET /hello HTTP/1.1\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  EXPECT_EQ(roundTrip(server->port(), fits).status, 200);
}

TEST(HttpServer, AThrowingHandlerIs500AndTheServerLivesOn) {
  auto server = startServer();
  ASSERT_TRUE(server);
  EXPECT_EQ(httpGet(server->port(), "/throws").status, 500);
  EXPECT_EQ(httpGet(server->port(), "/hello").status, 200);
}

TEST(HttpServer, RoutesCanBeAddedWhileServing) {
  auto server = startServer();
  ASSERT_TRUE(server);
  EXPECT_EQ(httpGet(server->port(), "/later").status, 404);
  server->route("GET", "/later", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "late\n", {}}; });
  EXPECT_EQ(httpGet(server->port(), "/later").body, "late\n");
  const auto routes = server->routes();
  EXPECT_NE(std::find(routes.begin(), routes.end(), "GET /later"), routes.end());
}

TEST(HttpServer, AStalledClientDoesNotDelayAnother) {
  HttpServerOptions opts;
  opts.deadline = 30s;  // far beyond the test: the stalled client stays open throughout
  auto server = startServer(opts);
  ASSERT_TRUE(server);

  UniqueFd stalled = connectLoopback(server->port());
  ASSERT_TRUE(stalled);
  ASSERT_TRUE(sendAll(stalled.get(), "GET /hel"));  // half a request line, then nothing
  UniqueFd stalledBody = connectLoopback(server->port());
  ASSERT_TRUE(stalledBody);
  ASSERT_TRUE(sendAll(stalledBody.get(), "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"));

  const auto start = Clock::now();
  const Reply r = httpGet(server->port(), "/hello");
  EXPECT_EQ(r.status, 200);
  // Promptly: nowhere near the 30 s deadline that blocking on the stalled clients would cost.
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(stillOpenAndSilent(stalled.get()));
  EXPECT_TRUE(stillOpenAndSilent(stalledBody.get()));
}

TEST(HttpServer, AStalledClientIsClosedAtItsDeadline) {
  HttpServerOptions opts;
  opts.deadline = 300ms;
  auto server = startServer(opts);
  ASSERT_TRUE(server);

  const auto start = Clock::now();
  UniqueFd stalled = connectLoopback(server->port());
  ASSERT_TRUE(stalled);
  ASSERT_TRUE(sendAll(stalled.get(), "GET /hello HTTP/1.1\r\n"));
  const auto got = readUntilClose(stalled.get());
  ASSERT_TRUE(got.has_value()) << "not closed within " << kTimeout.count() << " ms";
  EXPECT_EQ(*got, "");  // closed without an answer
  // Not before the deadline (with slack for the server's accept coming after our connect).
  EXPECT_GE(Clock::now() - start, 250ms);
}

TEST(HttpServer, AConnectionFloodIsCappedAndTheServerStillAnswers) {
  HttpServerOptions opts;
  opts.deadline = 60s;  // so that only the cap, never the deadline, closes anything here
  auto server = startServer(opts);
  ASSERT_TRUE(server);

  constexpr size_t kFlood = 200;
  std::vector<UniqueFd> flood;
  for (size_t i = 0; i < kFlood; ++i) {
    flood.push_back(connectLoopback(server->port()));
    ASSERT_TRUE(flood.back()) << "connect " << i;
  }
  // The server keeps 128 and closes the other 72 at once: wait until 72 are closed.
  size_t closed = 0;
  const auto deadline = Clock::now() + kTimeout;
  std::vector<bool> isClosed(kFlood, false);
  while (closed < kFlood - opts.maxConnections && Clock::now() < deadline) {
    std::vector<pollfd> pfds;
    for (const auto& fd : flood) pfds.push_back({fd.get(), POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
    for (size_t i = 0; i < kFlood; ++i) {
      if (isClosed[i] || !(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char c;
      if (::recv(flood[i].get(), &c, 1, MSG_DONTWAIT) <= 0) {
        isClosed[i] = true;
        ++closed;
      }
    }
  }
  EXPECT_EQ(closed, kFlood - opts.maxConnections);

  // With every slot taken, a new client is turned away at once, not queued.
  const Reply refused = httpGet(server->port(), "/hello");
  EXPECT_EQ(refused.status, 0);

  // Once the flood goes away the slots free up; retry until the server has seen the
  // closes (it may take it a moment to process 128 EOFs).
  flood.clear();
  Reply r;
  for (const auto until = Clock::now() + kTimeout; Clock::now() < until;) {
    r = httpGet(server->port(), "/hello");
    if (r.status == 200) break;
    pollfd none{-1, 0, 0};
    ::poll(&none, 1, 10);  // a short pause between attempts, not synchronisation
  }
  EXPECT_EQ(r.status, 200);
}

TEST(HttpServer, ABadOrBusyAddressIsAClearError) {
  auto bad = HttpServer::create({.name = "metrics", .address = "localhost:15020"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("metrics server"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("localhost:15020"), std::string::npos) << bad.error().message;

  auto first = HttpServer::create({.name = "first", .address = "127.0.0.1:0"});
  ASSERT_TRUE(first.ok());
  const std::string taken = (*first)->address();
  auto second = HttpServer::create({.name = "second", .address = taken});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("second server"), std::string::npos) << second.error().message;
  EXPECT_NE(second.error().message.find(taken), std::string::npos) << second.error().message;
}

TEST(HttpServer, StopsCleanlyWithConnectionsOpen) {
  auto server = startServer();
  ASSERT_TRUE(server);
  UniqueFd open = connectLoopback(server->port());
  ASSERT_TRUE(open);
  ASSERT_TRUE(sendAll(open.get(), "GET /he"));
  ASSERT_EQ(httpGet(server->port(), "/hello").status, 200);  // the stalled one has been accepted by now
  server.reset();  // joins the thread, closes everything
  const auto got = readUntilClose(open.get());
  EXPECT_TRUE(got.has_value());
}

}  // namespace
}  // namespace warren::telemetry
