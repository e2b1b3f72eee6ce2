// Liveness of HBONE connections, client side: the real Pool and H2Connection against
// a raw-frame server (tests/support/raw_h2.h) that misbehaves on cue — never answers
// the CONNECT, or answers it and then goes silent (no PING acks) — and against the
// real server for the healthy case. Timeouts are shortened to a few hundred ms and
// waited on with deadlines.
//
//   app end ──▶ Pool / H2Connection ══TLS══▶ raw server thread (the test's script)
//                                     or ══▶ Proxy::handleHbone ──▶ echo app

#include <netinet/tcp.h>

#include <filesystem>

#include "tests/support/hbone_fixture.h"
#include "tests/support/raw_h2_server.h"

namespace warren::hbone {
namespace {

using rawh2::frame;

class H2LivenessTest : public RawServerFixture {
 protected:
  H2LivenessTest() {
    h2_.connectResponseTimeout = 200ms;
    h2_.pingInterval = 200ms;
    h2_.pingTimeout = 300ms;
  }
};

std::string readExactlyN(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

TEST_F(H2LivenessTest, ClientRefusesPushAndAdvertisesItsHeaderListLimit) {
  std::promise<rawh2::Frame> clientSettings;
  RawServer server(serverContext(), [&](rawh2::RawTls& c) {
    auto s = serverHandshake(c);
    clientSettings.set_value(s.value_or(rawh2::Frame{}));
    c.readUntil(NGHTTP2_HEADERS);
  });
  auto s = open(9, rawDial(server.port()));
  auto settings = clientSettings.get_future().get();
  EXPECT_EQ(settings.type, NGHTTP2_SETTINGS);
  EXPECT_EQ(settings.setting(NGHTTP2_SETTINGS_ENABLE_PUSH), 0u);
  EXPECT_EQ(settings.setting(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), h2_.maxHeaderListBytes);
}

// A server that takes the CONNECT and never answers it: the stream is reset after
// connectResponseTimeout and the app connection with it.
TEST_F(H2LivenessTest, ConnectWithoutAResponseIsResetAfterTheTimeout) {
  std::promise<std::optional<rawh2::Frame>> reset;
  RawServer server(serverContext(), [&](rawh2::RawTls& c) {
    serverHandshake(c);
    reset.set_value(c.readUntil(NGHTTP2_RST_STREAM, 5s));
  });
  auto s = open(9, rawDial(server.port()));
  ASSERT_EQ(s.result.wait_for(5s), std::future_status::ready) << "stream still waiting for its CONNECT response";
  auto stats = s.result.get();
  EXPECT_NE(stats.endReason.find("no CONNECT response"), std::string::npos) << stats.endReason;
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET) << "the app connection must end in a reset";
  auto rst = reset.get_future().get();
  ASSERT_TRUE(rst) << "the server never saw RST_STREAM";
  EXPECT_EQ(rst->stream, 1u);
  EXPECT_EQ(rst->errorCode(), static_cast<uint32_t>(NGHTTP2_CANCEL));
}

// A server that answers 200 and then neither reads nor writes (its node died, or
// it hangs): the client PINGs after pingInterval of silence and, with no answer
// within pingTimeout, closes the connection and resets its streams.
TEST_F(H2LivenessTest, SilentPeerIsDroppedAfterThePingTimeout) {
  std::promise<bool> pinged;
  std::promise<void> done;
  RawServer server(serverContext(), [&](rawh2::RawTls& c) {
    serverHandshake(c);
    auto req = c.readUntil(NGHTTP2_HEADERS);
    if (req) c.write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, req->stream, "\x88"));  // :status 200
    auto ping = c.readUntil(NGHTTP2_PING, 5s);
    pinged.set_value(ping && !(ping->flags & NGHTTP2_FLAG_ACK));
    // Silent from here; read on (without answering) until the client hangs up.
    while (c.readFrame(5s)) {
    }
    done.set_value();
  });
  auto s = open(9, rawDial(server.port()));
  ASSERT_TRUE(pinged.get_future().get()) << "no PING on a silent connection with a stream";
  ASSERT_EQ(s.result.wait_for(5s), std::future_status::ready) << "connection kept alive without PING answers";
  auto stats = s.result.get();
  EXPECT_EQ(stats.status, 200);
  EXPECT_NE(stats.endReason.find("PING"), std::string::npos) << stats.endReason;
  int err = 0;
  iotest::readAll(s.app.get(), &err);
  EXPECT_EQ(err, ECONNRESET);
  done.get_future().get();
  EXPECT_EQ(lt_.call([&] { return pool_->connectionCount(); }), 0u);
}

// The real server answers PINGs: an idle stream outlives many ping intervals. The
// client pings faster than the server here, so that it is the one pinging (a
// PING from the peer is a sign of life too, and would spare the client its own).
TEST_F(H2LivenessTest, IdleStreamToAHealthyPeerSurvivesThePings) {
  H2Options client = h2_;
  client.pingInterval = 100ms;
  replacePool(client);
  App app(App::Mode::Echo);
  auto s = open(app.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(s.app.get(), "before"));
  EXPECT_EQ(readExactlyN(s.app.get(), 6), "before");
  auto conn = lt_.call([&] { return pool_->connections().at(0); });
  const uint64_t target = 5;  // ~1 s of silence: more than pingInterval + pingTimeout
  ASSERT_TRUE(waitUntil([&] { return lt_.call([&] { return conn->pingsSent(); }) >= target; }, 5s));
  ASSERT_TRUE(iotest::writeAll(s.app.get(), "after"));
  EXPECT_EQ(readExactlyN(s.app.get(), 5), "after");
  EXPECT_EQ(s.result.wait_for(0s), std::future_status::timeout) << s.result.get().endReason;
  ::shutdown(s.app.get(), SHUT_WR);
  EXPECT_EQ(iotest::readAll(s.app.get()), "");
  EXPECT_EQ(s.result.get().endReason, "closed");
}

// A response that comes after its stream was given up (CONNECT response timeout)
// is a header block nghttp2 skips without a callback. It must not count as a block
// left open: the connection, and the other stream on it, live on past the
// header-block timeout.
TEST_F(H2LivenessTest, ALateResponseToAResetStreamDoesNotCloseTheConnection) {
  H2Options client = h2_;
  client.headerBlockTimeout = 200ms;
  client.pingInterval = 0ms;  // the raw server answers no PINGs
  replacePool(client);
  std::promise<void> finished;
  RawServer server(serverContext(), [&](rawh2::RawTls& c) {
    serverHandshake(c);
    auto first = c.readUntil(NGHTTP2_HEADERS);
    auto second = c.readUntil(NGHTTP2_HEADERS);
    if (!first || !second) return;
    c.write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, second->stream, "\x88"));  // 200 for the second only
    auto rst = c.readUntil(NGHTTP2_RST_STREAM);                                         // the first times out
    if (!rst) return;
    c.write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, first->stream, "\x88"));  // too late
    // The client's pacing is the test: quiet for three header-block timeouts.
    std::this_thread::sleep_for(600ms);
    c.write(frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, second->stream, "still here"));
    finished.get_future().wait();
  });
  auto gaveUp = open(9, rawDial(server.port()));
  auto kept = open(9, rawDial(server.port()));
  auto stats = gaveUp.result.get();
  EXPECT_NE(stats.endReason.find("no CONNECT response"), std::string::npos) << stats.endReason;
  EXPECT_EQ(readExactlyN(kept.app.get(), 10), "still here") << "the connection was closed under the stream";
  EXPECT_EQ(kept.result.wait_for(0s), std::future_status::timeout);
  finished.set_value();
}

// Both ends of an HBONE connection carry keepalive and TCP_USER_TIMEOUT.
TEST_F(H2LivenessTest, HboneSocketsHaveKeepaliveAndAUserTimeout) {
  App app(App::Mode::Echo);
  auto s = open(app.port(), dialFor(kServer));
  EXPECT_EQ(roundTrip(s.app.get(), "x"), "x");
  auto intOpt = [](int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof(v);
    EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
    return v;
  };
  int checked = 0;
  // This process's sockets connected to, or accepted on, the HBONE port.
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(e.path().filename());
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof(local), pl = sizeof(peer);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0 || local.ss_family != AF_INET) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;  // listeners
    if (iotest::portOf(local) != hbonePort_ && iotest::portOf(peer) != hbonePort_) continue;
    SCOPED_TRACE(iotest::portOf(local) == hbonePort_ ? "server end" : "client end");
    EXPECT_EQ(intOpt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 180);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 180);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
    EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), (180 + 9 * 180) * 1000);
    checked++;
  }
  EXPECT_EQ(checked, 2) << "expected the pool's socket and the server's accepted one";
}

}  // namespace
}  // namespace warren::hbone
