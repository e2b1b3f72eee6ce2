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
  EXPECT_EQ(proxy_->counters().hboneInboundOverSource.load(), 1u);
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
  EXPECT_EQ(proxy_->counters().hboneInboundOverSource.load(), 1u);
}

}  // namespace
}  // namespace warren::hbone
