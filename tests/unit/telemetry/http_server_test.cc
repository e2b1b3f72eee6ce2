// HttpServer over real loopback sockets: routing answers, limits, query decoding, and
// the hostile-client cases (stalled and trickling clients, deadlines, connection
// floods, slow clients from one source against a scraper from another).

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
  opts.deadline = 60s;               // so that only the cap, never the deadline, closes anything here
  opts.maxConnectionsPerSource = 0;  // the total cap alone (the per-source one has its own tests)
  auto server = startServer(opts);
  ASSERT_TRUE(server);

  constexpr size_t kFlood = 200;
  std::vector<UniqueFd> flood;
  for (size_t i = 0; i < kFlood; ++i) {
    flood.push_back(connectLoopback(server->port()));
    ASSERT_TRUE(flood.back()) << "connect " << i;
  }
  // The server keeps 128 and closes the other 72 at once: wait until 72 are closed.
  std::vector<bool> closed;
  EXPECT_EQ(waitForCloses(flood, kFlood - opts.maxConnections, closed), kFlood - opts.maxConnections);

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

// Slow clients (half a request line, then nothing: a slowloris) from one source
// hold their own slots only; a scraper at another address is answered at once.
//
//   127.0.0.1  x20 "GET /hel" ... ---> 8 held, 12 closed at accept (source full)
//   127.0.0.2  GET /hello         ---> 200
//
// The total cap is 16 here, below the flood: with a total cap alone the flood would
// take all 16 slots and the scraper would be turned away.
TEST(HttpServer, SlowClientsFromOneSourceDoNotLockOutAnother) {
  HttpServerOptions opts;
  opts.deadline = 30s;  // beyond the test: only the caps close anything
  opts.maxConnections = 16;
  opts.maxConnectionsPerSource = 8;
  auto server = startServer(opts);
  ASSERT_TRUE(server);
  const uint64_t refusedBefore = refusedConnections().sourceFull.load();

  constexpr size_t kSlow = 20;
  std::vector<UniqueFd> slow;
  for (size_t i = 0; i < kSlow; ++i) {
    slow.push_back(connectLoopback(server->port(), "127.0.0.1"));
    ASSERT_TRUE(slow.back()) << "connect " << i;
    ASSERT_TRUE(sendAll(slow.back().get(), "GET /hel"));
  }
  std::vector<bool> closed;
  ASSERT_EQ(waitForCloses(slow, kSlow - 8, closed), kSlow - 8);
  EXPECT_EQ(refusedConnections().sourceFull.load() - refusedBefore, kSlow - 8);

  const auto start = Clock::now();
  const Reply scrape = httpGet(server->port(), "/hello", "127.0.0.2");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_LT(Clock::now() - start, 5s);
  // The flooding source itself is at its cap, while its 8 stay open, unanswered.
  EXPECT_EQ(httpGet(server->port(), "/hello", "127.0.0.1").status, 0);
  for (size_t i = 0; i < kSlow; ++i)
    if (!closed[i]) {
      EXPECT_TRUE(stillOpenAndSilent(slow[i].get())) << i;
    }
}

// The case with the default caps: more slow connections from one source than
// the whole server has slots (128) leave Prometheus its slot.
TEST(HttpServer, DefaultCapsKeepAFloodFromOneSourceFromTakingEverySlot) {
  HttpServerOptions opts;
  opts.deadline = 30s;
  auto server = startServer(opts);
  ASSERT_TRUE(server);
  const size_t flood = opts.maxConnections + 2;
  std::vector<UniqueFd> slow;
  for (size_t i = 0; i < flood; ++i) {
    slow.push_back(connectLoopback(server->port()));
    ASSERT_TRUE(slow.back()) << "connect " << i;
  }
  std::vector<bool> closed;
  ASSERT_EQ(waitForCloses(slow, flood - opts.maxConnectionsPerSource, closed), flood - opts.maxConnectionsPerSource);
  EXPECT_EQ(httpGet(server->port(), "/hello", "127.0.0.2").status, 200);
}

// A slowloris that keeps sending (one byte at a time, never a whole head) is closed at
// the deadline too: the deadline runs from accept, and bytes do not extend it.
TEST(HttpServer, ATricklingClientIsClosedAtItsDeadlineAndDelaysNoOne) {
  HttpServerOptions opts;
  opts.deadline = 600ms;
  auto server = startServer(opts);
  ASSERT_TRUE(server);

  const auto start = Clock::now();
  UniqueFd trickle = connectLoopback(server->port());
  ASSERT_TRUE(trickle);
  const std::string head = "GET /hello HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  bool closedByServer = false;
  size_t sent = 0;
  while (!closedByServer && Clock::now() - start < kTimeout) {
    if (sent < head.size() && ::send(trickle.get(), &head[sent], 1, MSG_NOSIGNAL) == 1) ++sent;
    // One byte per 50 ms: the wait doubles as the check that the server has closed.
    pollfd p{trickle.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      char c;
      closedByServer = ::recv(trickle.get(), &c, 1, 0) <= 0;
    }
    if (sent == 4) {
      EXPECT_EQ(httpGet(server->port(), "/hello").status, 200);  // others are served meanwhile
    }
  }
  EXPECT_TRUE(closedByServer);
  EXPECT_GE(Clock::now() - start, 550ms);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_LT(sent, head.size());  // it never completed a head: the deadline, not an answer, closed it
}

// The gate runs before routing, for every route including ones it has never heard of.
TEST(HttpServer, AGateRefusesBeforeRouting) {
  HttpServerOptions opts;
  opts.gate = [](const HttpRequest& req) -> std::optional<HttpResponse> {
    if (req.method == "GET") return std::nullopt;
    return HttpResponse::text(401, "no");
  };
  auto server = startServer(opts);
  ASSERT_TRUE(server);
  EXPECT_EQ(httpGet(server->port(), "/hello").status, 200);
  EXPECT_EQ(httpPost(server->port(), "/echo", "x").status, 401);
  EXPECT_EQ(httpPost(server->port(), "/nosuch").status, 401);
  EXPECT_EQ(httpReason(401), std::string("Unauthorized"));
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
  server.reset();                                            // joins the thread, closes everything
  const auto got = readUntilClose(open.get());
  EXPECT_TRUE(got.has_value());
}

}  // namespace
}  // namespace warren::telemetry
