// Inbound HBONE admission: idle, unauthenticated TCP connections to a pod's 15008
// from one source are capped, so they cannot take the tunnel's descriptors from
// other peers; past a cap a connection is reset at once, before any TLS work.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/support/hbone_fixture.h"

namespace warren::hbone {
namespace {

class InboundLimitsTest : public HboneFixture {
 protected:
  InboundLimitsTest() { hboneInbound_ = {.total = 4096, .perSource = 3}; }

  // A bare TCP connection to the HBONE port from `sourceIp` (loopback): no TLS.
  UniqueFd idleFrom(const char* sourceIp) { return iotest::idleConnectFrom(sourceIp, hbonePort_); }
};

TEST_F(InboundLimitsTest, IdleConnectionsFromOneSourceAreCappedAndOtherPeersStillGetIn) {
  std::vector<UniqueFd> held;
  for (int i = 0; i < 3; ++i) held.push_back(idleFrom("127.0.0.2"));
  ASSERT_TRUE(waitUntil([&] { return accepted_.load() == 3; }, 5s));
  ASSERT_EQ(lt_.call([&] { return proxy_->inboundHboneConnections(); }), 3u);
  // The fourth from the same source is reset on arrival, not left in a handshake.
  UniqueFd over = idleFrom("127.0.0.2");
  EXPECT_TRUE(iotest::endedByPeer(over.get()));
  EXPECT_EQ(proxy_->counters().hboneInboundRefused.overSource.load(), 1u);
  // A real peer from another address is served, the three idle ones still open.
  App echo(App::Mode::Echo);
  auto s = open(echo.port(), dialFor(kServer));
  EXPECT_EQ(roundTrip(s.app.get(), "through"), "through");
  EXPECT_EQ(lt_.call([&] { return proxy_->inboundHboneConnections(); }), 4u);
  // Closing one of the idle ones gives its source a slot back.
  held.pop_back();
  ASSERT_TRUE(waitUntil([&] { return lt_.call([&] { return proxy_->inboundHboneConnections(); }) == 3u; }, 5s));
  UniqueFd again = idleFrom("127.0.0.2");
  ASSERT_TRUE(waitUntil([&] { return lt_.call([&] { return proxy_->inboundHboneConnections(); }) == 4u; }, 5s));
  EXPECT_EQ(proxy_->counters().hboneInboundRefused.overSource.load(), 1u);
}

// Inbound plaintext (non-mesh clients of a pod): capped per pod on arrival, as the
// HBONE port is per source. No sk_lookup here, so the tunnel's connection to the
// "app" (the address the client dialed) lands in the same listener: the test
// accepts it and plays the app.
//
//   client ──▶ podPort ──accept──▶ handleInbound ──▶ podPort ──accept──▶ test's app end
class PlaintextLimitsTest : public HboneFixture {
 protected:
  PlaintextLimitsTest() { plaintextInbound_ = {.total = 4096, .perSource = 2}; }
  void SetUp() override {
    HboneFixture::SetUp();
    podPort_ = iotest::blockingListener(16);
  }

  // A client connection handed to the tunnel as sk_lookup would.
  UniqueFd captured() {
    UniqueFd client = iotest::blockingConnect(iotest::localAddress(podPort_.get()));
    timeval tv{3, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    UniqueFd accepted(::accept4(podPort_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(io::setNonBlocking(accepted.get()));
    lt_.call([&] { proxy_->handleInbound(serverPod_, std::move(accepted)); });
    return client;
  }
  // The tunnel's connection to the app for an admitted client.
  UniqueFd appEnd() { return UniqueFd(::accept4(podPort_.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
  size_t open() {
    return lt_.call([&] { return proxy_->plaintextInboundConnections(); });
  }

  UniqueFd podPort_;
};

TEST_F(PlaintextLimitsTest, APodsPlaintextClientsAreCappedAndAClosedOneGivesItsSlotBack) {
  UniqueFd a = captured(), appA = appEnd();
  UniqueFd b = captured(), appB = appEnd();
  ASSERT_TRUE(iotest::writeAll(a.get(), "x"));
  char c = 0;
  ASSERT_EQ(::read(appA.get(), &c, 1), 1);  // relayed
  EXPECT_EQ(open(), 2u);
  // The third to the same pod is reset on arrival; the tunnel never dials the app.
  UniqueFd over = captured();
  EXPECT_TRUE(iotest::endedByPeer(over.get()));
  EXPECT_EQ(proxy_->counters().plaintextInboundOverPod.load(), 1u);
  EXPECT_EQ(open(), 2u);
  // One ends (both sides): its slot comes back and the next client is relayed.
  a.reset();
  appA.reset();
  ASSERT_TRUE(waitUntil([&] { return open() == 1u; }, 5s));
  UniqueFd d = captured(), appD = appEnd();
  ASSERT_TRUE(iotest::writeAll(d.get(), "y"));
  ASSERT_EQ(::read(appD.get(), &c, 1), 1);
  EXPECT_EQ(c, 'y');
  EXPECT_EQ(open(), 2u);
  EXPECT_EQ(proxy_->counters().plaintextInboundOverPod.load(), 1u);
}

}  // namespace
}  // namespace warren::hbone
