// Early ("optimistic") data, client side: the app's first bytes follow the CONNECT
// at once instead of after the answer (H2Options::earlyData), against a raw-frame
// server that withholds its answer until it has them; off, nothing is sent before
// the answer. And against the real server: the bytes it holds before it answers
// reach the app once it is connected, and nowhere when it refuses.
//
//   app end ──▶ Pool / H2Connection ══TLS══▶ raw server thread (the test's script)
//                                     or ══▶ Proxy::handleHbone ──▶ echo app

#include <string>

#include "tests/support/raw_h2_server.h"

namespace warren::hbone {
namespace {

using rawh2::frame;

class EarlyDataTest : public RawServerFixture {
 protected:
  void useEarlyData(bool on) {
    H2Options client = h2_;
    client.earlyData = on;
    replacePool(client);
  }
};

constexpr char kStatus200[] = "\x88";  // HPACK: :status 200 (static table index 8)

// Reads until the client ends its side of the stream (END_STREAM), or 5 s.
void awaitClientEnd(rawh2::RawTls& c) {
  while (auto f = c.readFrame(5s))
    if (f->flags & NGHTTP2_FLAG_END_STREAM) return;
}

// Twice on one connection: the first stream is opened while the connection
// handshakes, the second on the pooled connection (where no SETTINGS follows to
// wake it).
TEST_F(EarlyDataTest, TheAppsFirstBytesFollowTheConnectBeforeTheAnswer) {
  std::promise<std::string> early[2];
  RawServer server(serverContext(), [&](rawh2::RawTls& c) {
    serverHandshake(c);
    for (auto& seen : early) {
      auto req = c.readUntil(NGHTTP2_HEADERS);
      // No answer yet: a client that waited for one would send nothing here.
      auto data = c.readUntil(NGHTTP2_DATA, 5s);
      seen.set_value(data ? data->payload : "<none>");
      if (!req || !data) return;
      c.write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, req->stream, kStatus200) +
              frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, req->stream, "pong"));
      awaitClientEnd(c);
    }
  });
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i == 0 ? "first stream, during the handshake" : "second stream, pooled");
    auto s = open(9, rawDial(server.port()));
    ASSERT_TRUE(iotest::writeAll(s.app.get(), "ping"));
    EXPECT_EQ(early[i].get_future().get(), "ping");
    char buf[4] = {};
    ASSERT_EQ(::read(s.app.get(), buf, sizeof(buf)), 4);
    EXPECT_EQ(std::string(buf, 4), "pong");
    ::shutdown(s.app.get(), SHUT_WR);
    EXPECT_EQ(s.result.get().status, 200);
  }
  EXPECT_EQ(lt_.call([&] { return pool_->counters().connectionsOpened; }), 1u);
}

TEST_F(EarlyDataTest, OffNothingIsSentBeforeTheAnswer) {
  useEarlyData(false);
  std::promise<bool> silentBeforeAnswer;
  std::promise<std::string> afterAnswer;
  RawServer server(serverContext(), [&](rawh2::RawTls& c) {
    serverHandshake(c);
    auto req = c.readUntil(NGHTTP2_HEADERS);
    // Absence has no signal to wait for: 300 ms in which DATA would have come
    // (it comes within milliseconds with early data, test above).
    auto data = c.readUntil(NGHTTP2_DATA, 300ms);
    silentBeforeAnswer.set_value(!data && c.timedOut());
    if (!req) return;
    c.write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, req->stream, kStatus200));
    auto late = c.readUntil(NGHTTP2_DATA, 5s);
    afterAnswer.set_value(late ? late->payload : "<none>");
    if (late && !(late->flags & NGHTTP2_FLAG_END_STREAM)) awaitClientEnd(c);
  });
  auto s = open(9, rawDial(server.port()));
  ASSERT_TRUE(iotest::writeAll(s.app.get(), "ping"));
  EXPECT_TRUE(silentBeforeAnswer.get_future().get()) << "DATA went out before the answer with earlyData off";
  EXPECT_EQ(afterAnswer.get_future().get(), "ping");
  ::shutdown(s.app.get(), SHUT_WR);
}

TEST_F(EarlyDataTest, TheRealServerHoldsEarlyBytesUntilItReachesTheApp) {
  App app(App::Mode::Echo);
  std::string payload = iotest::randomBytes(200000, 7);  // more than one record, less than a window
  auto s = open(app.port(), dialFor(kServer));
  ASSERT_TRUE(iotest::writeAll(s.app.get(), payload));  // before any answer could be back
  ::shutdown(s.app.get(), SHUT_WR);
  EXPECT_EQ(iotest::readAll(s.app.get()), payload);
  auto stats = s.result.get();
  EXPECT_EQ(stats.status, 200);
  EXPECT_EQ(stats.bytesToPeer, payload.size());
}

// Writes early bytes to a stream that is about to be refused, and reads to the end:
// true when the app connection ended in a reset. The refusal may come back before
// the write, which then fails with it (the read sees EOF after a reported error).
bool endsInReset(int fd) {
  int writeErr = 0, readErr = 0;
  if (!iotest::writeAll(fd, "never delivered")) writeErr = errno;
  iotest::readAll(fd, &readErr);
  return writeErr == ECONNRESET || readErr == ECONNRESET;
}

TEST_F(EarlyDataTest, ARefusedStreamsEarlyBytesReachNoApp) {
  uint16_t closedPort;
  {
    App gone(App::Mode::Echo);
    closedPort = gone.port();
  }
  auto s = open(closedPort, dialFor(kServer));
  EXPECT_TRUE(endsInReset(s.app.get()));
  EXPECT_EQ(s.result.get().status, 503);
  // Refused before the app is dialed: the app is there, and must not see a byte.
  App app(App::Mode::Echo);
  auto denied = open(app.port(), dialFor(kServer), "127.0.0.2");  // another pod's address: 400
  EXPECT_TRUE(endsInReset(denied.app.get()));
  EXPECT_EQ(denied.result.get().status, 400);
  EXPECT_EQ(app.accepted(), 0u);
}

// Deterministic early bytes (a raw client sends HEADERS and DATA in one write) to
// streams the server refuses, with 400 before dialing and with 503 after: each
// stream still finishes (its access-log record is written), its bytes reach no
// app, and the connection serves the next stream.
TEST_F(EarlyDataTest, TheServerFinishesARefusedStreamThatHeldEarlyBytes) {
  App app(App::Mode::Echo);
  uint16_t closedPort;
  {
    App gone(App::Mode::Echo);
    closedPort = gone.port();
  }
  auto c = connectRaw();
  ASSERT_TRUE(c);
  struct Case {
    uint32_t stream;
    std::string authority;
    const char* status;  // HPACK: 400 is static index 12 (0x8c); 503 is a literal
  };
  for (const Case& k :
       {Case{1, "127.0.0.2:" + std::to_string(app.port()), "400"}, Case{3, authority(closedPort), "503"}}) {
    SCOPED_TRACE(k.status);
    ASSERT_TRUE(c->write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, k.stream, rawh2::connectBlock(k.authority)) +
                         frame(NGHTTP2_DATA, 0, k.stream, "early bytes")));
    auto answer = c->readUntil(NGHTTP2_HEADERS);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->stream, k.stream);
    EXPECT_NE(answer->payload.find(k.status == std::string("400") ? "\x8c" : k.status), std::string::npos);
    // The server ends the stream without waiting for the client (RST_STREAM NO_ERROR).
    auto rst = c->readUntil(NGHTTP2_RST_STREAM);
    ASSERT_TRUE(rst);
    EXPECT_EQ(rst->errorCode(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
    EXPECT_TRUE(waitUntil([&] { return proxy_->activeConnections() == 0; }, 5s))
        << "the refused stream waits for its held bytes to be delivered";
  }
  EXPECT_EQ(app.accepted(), 0u);
  // The connection is not wedged: a good stream on it still works.
  ASSERT_TRUE(c->write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 5, rawh2::connectBlock(authority(app.port()))) +
                       frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 5, "hello")));
  auto ok = c->readUntil(NGHTTP2_HEADERS);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->payload, "\x88");
  auto echoed = c->readUntil(NGHTTP2_DATA);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->payload, "hello");
}

}  // namespace
}  // namespace warren::hbone
