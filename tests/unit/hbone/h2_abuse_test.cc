// HTTP/2 abuse against the tunnel's HBONE server: a raw-frame client (real mutual
// TLS, frames written by hand, tests/support/raw_h2.h) against the real
// Proxy::handleHbone of tests/support/hbone_fixture.h.
//
//   raw client ══TLS: HEADERS+RST_STREAM x100 / half a header block══▶ handleHbone ──▶ app
//   (the test)                                                          (H2Connection)

#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/raw_h2_server.h"

namespace warren::hbone {
namespace {

using rawh2::frame;

// Sockets of this process's netns in SYN_SENT towards 127.0.0.1:port (/proc/net/tcp).
size_t synSentTo(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  size_t n = 0;
  char want[16];
  std::snprintf(want, sizeof(want), "0100007F:%04X", port);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    if (remote == want && state == "02") n++;
  }
  return n;
}

class H2AbuseTest : public RawServerFixture {
 protected:
  H2AbuseTest() {
    h2_.resetBurst = 20;  // RST_STREAMs before GOAWAY (refilled at 1/s: none during the test)
    h2_.resetRatePerSecond = 1;
    h2_.headerBlockTimeout = 200ms;
  }
};

TEST_F(H2AbuseTest, ServerAdvertisesItsHeaderListLimit) {
  auto c = connectRaw();
  ASSERT_TRUE(c);
  auto s = c->readUntil(NGHTTP2_SETTINGS);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->setting(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), h2_.maxHeaderListBytes);
  EXPECT_EQ(s->setting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), h2_.maxConcurrentStreams);
}

// CVE-2023-44487: each HEADERS is answered by dialing the app; the RST right
// behind it used to leave that dial (and the app's connection) behind.
TEST_F(H2AbuseTest, RapidResetCostsNoAppConnectionAndEndsInGoaway) {
  App app(App::Mode::Echo);
  auto c = connectRaw();
  ASSERT_TRUE(c);
  std::string burst;
  constexpr uint32_t kPairs = 100;
  for (uint32_t i = 0; i < kPairs; ++i) {
    const uint32_t id = 2 * i + 1;
    burst += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, id, rawh2::connectBlock(authority(app.port())));
    burst += rawh2::rstStream(id, NGHTTP2_CANCEL);
  }
  ASSERT_TRUE(c->write(burst));
  auto goaway = c->readUntil(NGHTTP2_GOAWAY, 5s);
  ASSERT_TRUE(goaway) << (c->timedOut() ? "no GOAWAY after " : "closed without GOAWAY after ") << kPairs
                      << " resets (burst " << h2_.resetBurst << ")";
  // One honest stream through the pool afterwards: the app accepts in arrival
  // order, so any dial the resets had caused would be accepted before it.
  auto s = open(app.port(), dialFor(kServer));
  EXPECT_EQ(roundTrip(s.app.get(), "after"), "after");
  EXPECT_EQ(s.result.get().status, 200);
  EXPECT_EQ(app.accepted(), 1u) << "the reset streams reached the app";
  EXPECT_EQ(proxy_->counters().hboneInbound.load(), 1u) << "reset streams were judged (and dialed)";
}

// A reset that arrives after the dial began (a later read) cancels it: the app
// here never completes the handshake (its accept queue is full), so without the
// cancel the tunnel's socket would sit in SYN_SENT until the connect timeout.
TEST_F(H2AbuseTest, ResetWhileTheAppDialIsPendingCancelsTheDial) {
  UniqueFd full(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage any = iotest::loopback4();
  ASSERT_EQ(::bind(full.get(), reinterpret_cast<sockaddr*>(&any), sizeof(sockaddr_in)), 0);
  ASSERT_EQ(::listen(full.get(), 0), 0);  // queue of one...
  const uint16_t port = iotest::portOf(iotest::localAddress(full.get()));
  UniqueFd filler = iotest::blockingConnect(iotest::loopback4(port));  // ...taken: SYNs are dropped

  auto c = connectRaw();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, rawh2::connectBlock(authority(port)))));
  ASSERT_TRUE(waitUntil([&] { return synSentTo(port) == 1; }, 5s)) << "the tunnel never dialed the app";
  ASSERT_TRUE(c->write(rawh2::rstStream(1, NGHTTP2_CANCEL)));
  EXPECT_TRUE(waitUntil([&] { return proxy_->counters().appDialsCancelled.load() == 1; }, 2s));
  EXPECT_TRUE(waitUntil([&] { return synSentTo(port) == 0; }, 2s)) << "the dial outlived the stream";
  EXPECT_EQ(proxy_->counters().upstreamFailed.load(), 0u);
}

// Slowloris: HEADERS without END_HEADERS, and no CONTINUATION ever. The stream it
// opened kept the idle timeout away, so the connection lived forever.
TEST_F(H2AbuseTest, HeaderBlockLeftOpenClosesTheConnection) {
  App app(App::Mode::Echo);
  auto c = connectRaw();
  ASSERT_TRUE(c);
  const std::string block = rawh2::connectBlock(authority(app.port()));
  ASSERT_TRUE(c->write(frame(NGHTTP2_HEADERS, 0, 1, block.substr(0, block.size() / 2))));
  const auto start = std::chrono::steady_clock::now();
  auto end = c->readUntil(NGHTTP2_GOAWAY, 3s);  // GOAWAY, or the connection closed
  EXPECT_FALSE(c->timedOut()) << "connection still open 3 s after half a header block";
  if (end) {
    EXPECT_EQ(end->errorCode(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms) << "closed before the header-block timeout";
  EXPECT_EQ(app.accepted(), 0u);
}

TEST_F(H2AbuseTest, HeaderBlockCompletedByContinuationIsServed) {
  App app(App::Mode::Echo);
  auto c = connectRaw();
  ASSERT_TRUE(c);
  const std::string block = rawh2::connectBlock(authority(app.port()));
  const size_t half = block.size() / 2;
  ASSERT_TRUE(c->write(frame(NGHTTP2_HEADERS, 0, 1, block.substr(0, half)) +
                       frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block.substr(half))));
  auto answer = c->readUntil(NGHTTP2_HEADERS);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->stream, 1u);
  EXPECT_EQ(answer->payload, "\x88") << ":status 200 (HPACK static index 8)";
}

// A header list over SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB: five 15 KiB fields,
// each under nghttp2's own per-field cap) resets its stream; nothing is dialed.
TEST_F(H2AbuseTest, HeaderListOverTheLimitResetsTheStream) {
  App app(App::Mode::Echo);
  auto c = connectRaw();
  ASSERT_TRUE(c);
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 5; ++i) big.emplace_back("x-filler-" + std::to_string(i), std::string(15 << 10, 'a'));
  const std::string block = rawh2::connectBlock(authority(app.port()), big);
  std::string frames;
  constexpr size_t kMaxFrame = 16384;  // SETTINGS_MAX_FRAME_SIZE's default
  for (size_t at = 0; at < block.size(); at += kMaxFrame) {
    const bool first = at == 0, last = at + kMaxFrame >= block.size();
    frames += frame(first ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION, last ? NGHTTP2_FLAG_END_HEADERS : 0, 1,
                    block.substr(at, kMaxFrame));
  }
  ASSERT_TRUE(c->write(frames));
  auto rst = c->readUntil(NGHTTP2_RST_STREAM);
  ASSERT_TRUE(rst) << "no RST_STREAM for a " << block.size() << "-byte header block";
  EXPECT_EQ(rst->stream, 1u);
  EXPECT_EQ(proxy_->counters().hboneInbound.load(), 0u);
  EXPECT_EQ(app.accepted(), 0u);
}

// Not abuse, but the same raw peer: how the server packs its output. Under load
// many streams become ready in one loop round; their frames must leave together
// (one send, one TLS record) rather than a record and a send(2) each, which
// cost the waypoint more than its HTTP work.
class H2OutputTest : public H2AbuseTest {};

TEST_F(H2OutputTest, FramesOfStreamsReadyInOneLoopRoundShareOneTlsRecord) {
  UniqueFd listener = iotest::blockingListener(16);
  const uint16_t port = iotest::portOf(iotest::localAddress(listener.get()));
  auto c = connectRaw();
  ASSERT_TRUE(c);
  constexpr uint32_t kStreams = 10;
  std::string opens;
  for (uint32_t i = 0; i < kStreams; ++i)
    opens += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 2 * i + 1, rawh2::connectBlock(authority(port)));
  ASSERT_TRUE(c->write(opens));
  std::vector<UniqueFd> apps;  // the app's ends of the ten connections
  for (uint32_t i = 0; i < kStreams; ++i) {
    apps.emplace_back(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(apps.back()) << "the tunnel dialed only " << i << " of the streams";
  }
  for (uint32_t i = 0; i < kStreams; ++i) ASSERT_TRUE(c->readUntil(NGHTTP2_HEADERS)) << "200 #" << i;

  // The ten apps answer while the tunnel's loop is busy with this very call, so
  // the loop finds all ten sockets readable in its next round.
  const size_t before = c->recordsReceived();
  lt_.call([&] {
    for (uint32_t i = 0; i < kStreams; ++i) ASSERT_TRUE(iotest::writeAll(apps[i].get(), "answer " + std::to_string(i)));
  });
  std::set<uint32_t> answered;
  for (uint32_t i = 0; i < kStreams; ++i) {
    auto f = c->readUntil(NGHTTP2_DATA);
    ASSERT_TRUE(f) << "DATA #" << i;
    EXPECT_EQ(f->payload, "answer " + std::to_string((f->stream - 1) / 2));
    answered.insert(f->stream);
  }
  EXPECT_EQ(answered.size(), kStreams);
  EXPECT_EQ(c->recordsReceived() - before, 1u) << "the ten streams' DATA frames came in separate TLS records";
}

}  // namespace
}  // namespace warren::hbone
