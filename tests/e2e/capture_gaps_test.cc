// Capture's edges, end to end on one node (tests/support/capture_fixture.h):
//  - an app in b1 that joins the tunnel's SO_REUSEPORT group on 15006/15008 gets
//    none of the connections sk_lookup steers there;
//  - with the tunnel gone, b1's port 15008 reaches no other listener;
//  - a1 over its quota of original-destination entries is refused, b1 is not;
//  - UDP from an enrolled pod leaves uncaptured and is counted.

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/netns.h"
#include "tests/support/capture_fixture.h"
#include "warren_abi.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

constexpr int kQuota = 4;

sockaddr_in ipv4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

UniqueFd socketIn(const std::string& netnsPath, int type) {
  auto ns = openNetns(netnsPath);
  if (!ns) return UniqueFd();
  auto fd = socketInNetns(ns->get(), AF_INET, type);
  return fd ? std::move(*fd) : UniqueFd();
}

// An app's listener on 0.0.0.0:port in a pod; with reuseport it joins the group
// of the tunnel's own listener there (same uid, same address).
UniqueFd appListener(const std::string& netnsPath, uint16_t port, bool reuseport) {
  UniqueFd fd = socketIn(netnsPath, SOCK_STREAM);
  if (!fd) return fd;
  int one = 1;
  if (reuseport) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in any = ipv4("0.0.0.0", port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0 || ::listen(fd.get(), 64) != 0)
    return UniqueFd();
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  return fd;
}

// Connections waiting in a listener's accept queue, taken out.
size_t drainAccepts(int listener) {
  size_t n = 0;
  while (UniqueFd(::accept(listener, nullptr, nullptr))) ++n;
  return n;
}

// A captured connection from a pod kept open; errno in *err when connect fails.
UniqueFd holdConnection(const std::string& netnsPath, const std::string& ip, uint16_t port, int* err) {
  UniqueFd fd = socketIn(netnsPath, SOCK_STREAM);
  sockaddr_in dst = ipv4(ip, port);
  *err = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0 ? 0 : errno;
  return *err == 0 ? std::move(fd) : UniqueFd();
}

class CaptureGapsTest : public CaptureNodeTest {
 protected:
  NodeOptions nodeOptions() const override {
    NodeOptions options;
    options.agentArgs = {"--conns-per-pod", std::to_string(kQuota)};
    return options;
  }
};

TEST_F(CaptureGapsTest, AppInTheTunnelsReuseportGroupGetsNoCapturedConnection) {
  UniqueFd app15006 = appListener(b1_.netnsPath(), WARREN_INBOUND_PORT, true);
  UniqueFd app15008 = appListener(b1_.netnsPath(), WARREN_HBONE_PORT, true);
  ASSERT_TRUE(app15006 && app15008) << "the app could not join the tunnel's SO_REUSEPORT groups";

  // The kernel's reuseport pick hashes the 4-tuple: without NO_REUSEPORT each of
  // these would land on the app with probability 1/2.
  constexpr int kConnections = 16;
  for (int i = 0; i < kConnections; ++i) {
    std::string payload = "steered-" + std::to_string(i);
    ConnectResult r = connectFrom(c1_.netnsPath(), b1_.ip, 8080, payload, 2s);
    EXPECT_EQ(r.error, 0) << i << ": " << std::strerror(r.error);
    EXPECT_EQ(r.reply, payload) << "connection " << i << " did not reach b1's app through the tunnel";
  }
  EXPECT_EQ(podCounters(node_->pinRoot(), b1_.netnsPath()).capturedIn, static_cast<uint64_t>(kConnections));

  // Port 15008 too: plaintext there reaches the tunnel's HBONE listener (which
  // wants TLS and gives up), never the app.
  for (int i = 0; i < kConnections; ++i) connectFrom(c1_.netnsPath(), b1_.ip, WARREN_HBONE_PORT, "x", 200ms);
  EXPECT_EQ(drainAccepts(app15006.get()), 0u) << "the app took captured connections meant for the tunnel";
  EXPECT_EQ(drainAccepts(app15008.get()), 0u) << "the app took connections to the pod's HBONE port";
}

TEST_F(CaptureGapsTest, TunnelDownHbonePortReachesNoOtherListener) {
  node_->stopTunnel(SIGKILL);
  // The tunnel's 15008 is gone with it: an app can now listen there.
  UniqueFd app15008 = appListener(b1_.netnsPath(), WARREN_HBONE_PORT, false);
  ASSERT_TRUE(app15008);
  uint64_t before = podCounters(node_->pinRoot(), b1_.netnsPath()).failedClosed;

  ConnectResult r = connectFrom(c1_.netnsPath(), b1_.ip, WARREN_HBONE_PORT, "plaintext", 2s);
  EXPECT_NE(r.error, 0) << "port 15008 of an enrolled pod answered without the tunnel";
  EXPECT_EQ(drainAccepts(app15008.get()), 0u);
  EXPECT_GT(podCounters(node_->pinRoot(), b1_.netnsPath()).failedClosed, before);
}

TEST_F(CaptureGapsTest, PodOverItsQuotaIsRefusedAndOtherPodsAreNot) {
  // a1 holds its whole quota of captured connections open.
  std::vector<UniqueFd> held;
  for (int i = 0; i < kQuota; ++i) {
    int err = 0;
    held.push_back(holdConnection(a1_.netnsPath(), d1_.ip, 8080, &err));
    ASSERT_EQ(err, 0) << "connection " << i << " within the quota: " << std::strerror(err);
  }
  ASSERT_TRUE(eventually([&] { return serverD_->accepted() == static_cast<size_t>(kQuota); }, 5s));

  int err = 0;
  UniqueFd over = holdConnection(a1_.netnsPath(), d1_.ip, 8080, &err);
  EXPECT_EQ(err, EPERM) << "a pod past its quota must be refused";
  EXPECT_EQ(podCounters(node_->pinRoot(), a1_.netnsPath()).quotaRefused, 1u);

  // Another pod is not affected by a1's use.
  ConnectResult other = connectFrom(b1_.netnsPath(), d1_.ip, 8080, "other-pod");
  EXPECT_EQ(other.error, 0) << std::strerror(other.error);
  EXPECT_EQ(other.reply, "other-pod");
  EXPECT_EQ(podCounters(node_->pinRoot(), b1_.netnsPath()).capturedOut, 1u);
  EXPECT_EQ(podCounters(node_->pinRoot(), b1_.netnsPath()).quotaRefused, 0u);
  EXPECT_EQ(tunnelMetric(*node_, "warren_capture_quota_refused_total"), 1.0);

  // A closed connection gives its slot back.
  held.pop_back();
  ConnectResult again;
  EXPECT_TRUE(connectsWithin(a1_, d1_.ip, 8080, "slot-back", 5s, &again)) << std::strerror(again.error);
  EXPECT_EQ(again.reply, "slot-back");
}

TEST_F(CaptureGapsTest, UdpFromAnEnrolledPodLeavesUncapturedAndIsCounted) {
  UniqueFd receiver = socketIn(d1_.netnsPath(), SOCK_DGRAM);
  sockaddr_in any = ipv4("0.0.0.0", 5353);
  ASSERT_EQ(::bind(receiver.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
  auto receive = [&](std::string* from) {
    pollfd p{receiver.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return std::string();
    char buf[64];
    sockaddr_storage src{};
    socklen_t len = sizeof(src);
    ssize_t n = ::recvfrom(receiver.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&src), &len);
    *from = sockaddrString(src);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  sockaddr_in dst = ipv4(d1_.ip, 5353);

  // Unconnected: counted per send (sendmsg4).
  UniqueFd a1 = socketIn(a1_.netnsPath(), SOCK_DGRAM);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(::sendto(a1.get(), "dgram", 5, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 5);
  for (int i = 0; i < 2; ++i) {
    std::string from;
    EXPECT_EQ(receive(&from), "dgram");
    EXPECT_EQ(hostOf(from), a1_.ip) << "the datagram must arrive as sent: UDP is not captured";
  }
  // Connected: counted once, at connect (connect4), whatever it sends after.
  UniqueFd connected = socketIn(a1_.netnsPath(), SOCK_DGRAM);
  ASSERT_EQ(::connect(connected.get(), reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  ASSERT_EQ(::send(connected.get(), "conn", 4, 0), 4);
  std::string from;
  EXPECT_EQ(receive(&from), "conn");

  // A pod that is not enrolled is not counted anywhere.
  UniqueFd c1 = socketIn(c1_.netnsPath(), SOCK_DGRAM);
  ASSERT_EQ(::sendto(c1.get(), "plain", 5, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 5);
  EXPECT_EQ(receive(&from), "plain");

  auto c = podCounters(node_->pinRoot(), a1_.netnsPath());
  EXPECT_EQ(c.udpSends, 3u);
  EXPECT_EQ(c.capturedOut, 0u);
  EXPECT_EQ(c.failedClosed, 0u);
  EXPECT_EQ(tunnelMetric(*node_, "warren_capture_udp_sends_total"), 3.0);
}

}  // namespace
}  // namespace warren::e2e
