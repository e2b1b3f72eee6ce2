// Capture, end to end, on one node made of network namespaces (the layout is in
// tests/support/capture_fixture.h).

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/capture_fixture.h"
#include "warren_abi.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

const auto& kEnabled = kCaptureEnabled;

// The peer was seen by the server (order-free: a captured attempt's upstream
// connection may land after a later direct one).
bool sawPeer(PodServer& server, const std::string& peer) {
  auto peers = server.peers();
  return std::find(peers.begin(), peers.end(), peer) != peers.end();
}

std::optional<nlohmann::json> accessRecord(const TestNode& node, const std::string& direction, const std::string& src) {
  for (const auto& r : accessLog(node))
    if (r["direction"] == direction && r["src"] == src) return r;
  return std::nullopt;
}

class CaptureTest : public CaptureNodeTest {
 protected:
  NodeOptions nodeOptions() const override {
    NodeOptions options;
    // Pooled HBONE connections (mesh to mesh) close soon after their last stream,
    // so the leak check below can expect the tunnel back at its idle fd count.
    options.tunnelArgs = {"--hbone-idle-timeout", "300"};
    return options;
  }

  // The tunnel logs a connection when it ends; wait for that record.
  std::optional<nlohmann::json> waitAccess(const std::string& direction, const std::string& src) {
    std::optional<nlohmann::json> rec;
    eventually([&] { return (rec = accessRecord(*node_, direction, src)).has_value(); }, 5s);
    return rec;
  }
};

TEST_F(CaptureTest, OutboundIsCapturedWithTheExactOriginalDestination) {
  ASSERT_TRUE(isEnrolled(node_->pinRoot(), a1_.netnsPath()));
  ConnectResult r = connectFrom(a1_.netnsPath(), d1_.ip, 8080, "hello-outbound");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "hello-outbound");
  // The app's view stays honest: it is talking to what it dialed, from its pod IP.
  EXPECT_EQ(r.peer, d1_.ip + ":8080");
  EXPECT_EQ(hostOf(r.local), a1_.ip);

  // d1 was reached by the tunnel's own connection from a1's netns, not by the app's.
  auto peers = serverD_->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(hostOf(peers[0]), a1_.ip);
  EXPECT_NE(portOf(peers[0]), portOf(r.local));

  auto rec = waitAccess("outbound", r.local);
  ASSERT_TRUE(rec) << "no access-log record for " << r.local;
  EXPECT_EQ((*rec)["dst"], d1_.ip + ":8080");
  EXPECT_EQ((*rec)["pod"], "mesh/a1");
  EXPECT_EQ((*rec)["bytes_sent"], 14);
  EXPECT_EQ((*rec)["bytes_received"], 14);
  // Exactly one capture, counted once and in the right place.
  auto c = podCounters(node_->pinRoot(), a1_.netnsPath());
  EXPECT_EQ(c.capturedOut, 1u);
  EXPECT_EQ(c.capturedIn, 0u);
  EXPECT_EQ(c.failedClosed, 0u);
  EXPECT_EQ(c.passed, 0u);
}

TEST_F(CaptureTest, InboundPlaintextToAnEnrolledPodReachesTheTunnelFirst) {
  ConnectResult r = connectFrom(c1_.netnsPath(), b1_.ip, 8080, "hello-inbound");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "hello-inbound");
  // The app in b1 was handed the connection by the tunnel inside b1 (the record
  // and the counter below), and still sees the client's own address.
  auto peers = serverB_->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(hostOf(peers[0]), c1_.ip) << "the app must see the client's address, not its own pod's";

  auto rec = waitAccess("inbound", r.local);
  ASSERT_TRUE(rec) << "no inbound access-log record for " << r.local;
  EXPECT_EQ((*rec)["dst"], b1_.ip + ":8080");
  EXPECT_EQ((*rec)["pod"], "mesh/b1");
  EXPECT_EQ(podCounters(node_->pinRoot(), b1_.netnsPath()).capturedIn, 1u);
}

// Mesh to mesh: captured outbound at a1, carried over HBONE to b1's port 15008,
// which sk_lookup lets through to the tunnel's HBONE listener (not the plaintext
// inbound capture); both ends log the connection with both SPIFFE identities.
TEST_F(CaptureTest, MeshToMeshGoesOverHboneNotThroughInboundCapture) {
  ConnectResult r = connectFrom(a1_.netnsPath(), b1_.ip, 8080, "mesh-to-mesh");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "mesh-to-mesh");
  EXPECT_EQ(r.peer, b1_.ip + ":8080");
  EXPECT_EQ(podCounters(node_->pinRoot(), a1_.netnsPath()).capturedOut, 1u);
  EXPECT_EQ(podCounters(node_->pinRoot(), b1_.netnsPath()).capturedIn, 0u);

  auto out = waitAccess("outbound", r.local);
  ASSERT_TRUE(out) << "no outbound access-log record for " << r.local;
  EXPECT_EQ((*out)["protocol"], "hbone");
  EXPECT_EQ((*out)["security"], "mutual_tls");
  EXPECT_EQ((*out)["dst"], b1_.ip + ":8080");
  EXPECT_EQ((*out)["dst_identity"], "spiffe://cluster.local/ns/mesh/sa/sa-b1");
  // The inbound side names the client by its pod address (forwarded header).
  std::optional<nlohmann::json> in;
  eventually(
      [&] {
        for (const auto& rec : accessLog(*node_))
          if (rec["direction"] == "inbound" && rec.value("protocol", "") == "hbone") in = rec;
        return in.has_value();
      },
      5s);
  ASSERT_TRUE(in) << "no inbound HBONE access-log record";
  EXPECT_EQ((*in)["src_identity"], "spiffe://cluster.local/ns/mesh/sa/sa-a1");
  EXPECT_EQ((*in)["pod"], "mesh/b1");
  EXPECT_EQ((*in)["hbone_status"], 200);
  // The app in b1 sees a1's address, as it would without the mesh.
  auto peers = serverB_->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(hostOf(peers[0]), a1_.ip);
}

TEST_F(CaptureTest, NonEnrolledPodIsUntouched) {
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), c1_.netnsPath()));
  ConnectResult r = connectFrom(c1_.netnsPath(), d1_.ip, 8080, "plain");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "plain");
  // The server saw the app's own socket: nothing stood in between.
  auto peers = serverD_->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0], r.local);
  EXPECT_FALSE(accessRecord(*node_, "outbound", r.local));
}

TEST_F(CaptureTest, PodDialingItselfPasses) {
  auto own = PodServer::start(a1_.netnsPath(), 9090);
  ASSERT_TRUE(own);
  ConnectResult r = connectFrom(a1_.netnsPath(), a1_.ip, 9090, "self");
  ASSERT_EQ(r.error, 0);
  EXPECT_EQ(r.reply, "self");
  EXPECT_EQ(own->peers().at(0), r.local);
  auto c = podCounters(node_->pinRoot(), a1_.netnsPath());
  EXPECT_EQ(c.capturedOut, 0u);
  EXPECT_GE(c.passed, 1u);
}

TEST_F(CaptureTest, RelabelEnrollsAndReleasesRunningPodsWithinOneSecond) {
  auto start = std::chrono::steady_clock::now();
  node_->writeNamespace("plain", kEnabled);
  ASSERT_TRUE(eventually([&] { return isEnrolled(node_->pinRoot(), c1_.netnsPath()); }, 1s)) << node_->logTail("agent");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ measure ] relabel -> enrolled in " << took.count() << " ms\n";

  // Enrollment also reached the tunnel: c1's connections now go through it.
  ConnectResult r;
  ASSERT_TRUE(eventually(
      [&] {
        r = connectFrom(c1_.netnsPath(), d1_.ip, 8080, "now-captured");
        return r.error == 0;
      },
      5s));
  EXPECT_EQ(r.reply, "now-captured");
  EXPECT_TRUE(waitAccess("outbound", r.local));

  start = std::chrono::steady_clock::now();
  node_->writeNamespace("plain", {});
  // Both ends: while d1 is still enrolled, its sk_lookup hands c1's plaintext to
  // the tunnel, and d1's app sees the tunnel's connection, not c1's own socket.
  ASSERT_TRUE(eventually(
      [&] { return !isEnrolled(node_->pinRoot(), c1_.netnsPath()) && !isEnrolled(node_->pinRoot(), d1_.netnsPath()); },
      1s));
  took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ measure ] relabel -> released in " << took.count() << " ms\n";
  r = connectFrom(c1_.netnsPath(), d1_.ip, 8080, "direct-again");
  ASSERT_EQ(r.error, 0);
  EXPECT_TRUE(sawPeer(*serverD_, r.local));
}

TEST_F(CaptureTest, PodOptOutLabelKeepsItOut) {
  Pod e1 = node_->addPod("mesh", "e1", "10.244.1.15", {{"warren.io/mode", "disabled"}});
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), e1.netnsPath()));
  ConnectResult r = connectFrom(e1.netnsPath(), d1_.ip, 8080, "opted-out");
  ASSERT_EQ(r.error, 0);
  EXPECT_TRUE(sawPeer(*serverD_, r.local));
}

TEST_F(CaptureTest, AgentRestartKeepsCapture) {
  ASSERT_EQ(node_->stopAgent(SIGTERM), 0);
  // Agent gone: the pinned programs and the tunnel carry on.
  ConnectResult r = connectFrom(a1_.netnsPath(), d1_.ip, 8080, "agent-down");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_TRUE(waitAccess("outbound", r.local));
  EXPECT_FALSE(sawPeer(*serverD_, r.local));

  ASSERT_TRUE(node_->startAgent().ok()) << node_->logTail("agent");
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), a1_.netnsPath()));
  EXPECT_TRUE(isEnrolled(node_->pinRoot(), b1_.netnsPath()));
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), c1_.netnsPath()));
  EXPECT_EQ(mapEntryCount(node_->pinRoot(), WARREN_MAP_ENROLLED), 2u);
  r = connectFrom(a1_.netnsPath(), d1_.ip, 8080, "agent-back");
  ASSERT_EQ(r.error, 0);
  EXPECT_TRUE(waitAccess("outbound", r.local));
  // Counters survived the restart: both connections counted.
  EXPECT_EQ(podCounters(node_->pinRoot(), a1_.netnsPath()).capturedOut, 2u);
}

TEST_F(CaptureTest, AgentAwayRefusesOnlyThePodsOfCapturedNamespaces) {
  ASSERT_EQ(node_->stopAgent(SIGTERM), 0);
  // A pod of a mesh namespace cannot start uncaptured: "try again later".
  int status = 0;
  std::string out;
  node_->addPod("mesh", "a2", "10.244.1.21", {}, &status, &out);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("\"code\":11"), std::string::npos) << out;
  EXPECT_NE(out.find("namespace mesh is captured"), std::string::npos) << out;
  // Any other namespace's pod starts: the node is not held hostage by the agent.
  Pod c2 = node_->addPod("plain", "c2", "10.244.1.22", {}, &status, &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_FALSE(isEnrolled(node_->pinRoot(), c2.netnsPath()));
  ConnectResult r = connectFrom(c2.netnsPath(), d1_.ip, 8080, "plain-while-agent-away");
  EXPECT_EQ(r.error, 0);
  EXPECT_TRUE(sawPeer(*serverD_, r.local));
}

TEST_F(CaptureTest, TunnelDownFailsClosed) {
  size_t dBefore = serverD_->accepted();
  size_t bBefore = serverB_->accepted();
  node_->stopTunnel(SIGKILL);

  ConnectResult out = connectFrom(a1_.netnsPath(), d1_.ip, 8080, "must-not-leave", 2s);
  EXPECT_NE(out.error, 0) << "an enrolled pod reached the network without the tunnel";
  ConnectResult in = connectFrom(c1_.netnsPath(), b1_.ip, 8080, "must-not-arrive", 2s);
  EXPECT_NE(in.error, 0) << "plaintext reached an enrolled pod without the tunnel";
  EXPECT_EQ(serverD_->accepted(), dBefore);
  EXPECT_EQ(serverB_->accepted(), bBefore);
  // One refused connect each, counted once, at the pod it protected.
  EXPECT_EQ(podCounters(node_->pinRoot(), a1_.netnsPath()).failedClosed, 1u);
  EXPECT_GE(podCounters(node_->pinRoot(), b1_.netnsPath()).failedClosed, 1u);  // SYN retransmits count too
  EXPECT_EQ(podCounters(node_->pinRoot(), c1_.netnsPath()).failedClosed, 0u);

  // A new tunnel gets the pods replayed by the agent and capture resumes.
  ASSERT_TRUE(node_->startTunnel().ok());
  ConnectResult again;
  ASSERT_TRUE(connectsWithin(a1_, d1_.ip, 8080, "back", 10s, &again)) << node_->logTail("tunnel");
  EXPECT_EQ(again.reply, "back");
}

TEST_F(CaptureTest, ThousandSequentialAndTwoHundredConcurrentLeakNothing) {
  ASSERT_TRUE(node_->tunnel());
  pid_t tunnelPid = node_->tunnel()->pid();
  size_t fdsBefore = openFdCount(tunnelPid);

  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    ConnectResult r = connectFrom(a1_.netnsPath(), d1_.ip, 8080, "seq-" + std::to_string(i));
    ASSERT_EQ(r.error, 0) << "connection " << i << ": " << std::strerror(r.error);
    ASSERT_EQ(r.reply, "seq-" + std::to_string(i));
  }
  auto seqMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ measure ] 1000 sequential captured connections in " << seqMs.count() << " ms\n";

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i)
    threads.emplace_back([&, i] {
      ConnectResult r = connectFrom(a1_.netnsPath(), b1_.ip, 8080, "par-" + std::to_string(i), 10s);
      if (r.error == 0 && r.reply == "par-" + std::to_string(i)) ok++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);

  auto c = podCounters(node_->pinRoot(), a1_.netnsPath());
  EXPECT_EQ(c.capturedOut, 1200u);
  // Every connection ended: no original-destination entry and no fd stays behind.
  EXPECT_TRUE(eventually([&] { return mapEntryCount(node_->pinRoot(), WARREN_MAP_ORIG_DST) == 0; }, 5s))
      << mapEntryCount(node_->pinRoot(), WARREN_MAP_ORIG_DST) << " entries left";
  EXPECT_TRUE(eventually([&] { return openFdCount(tunnelPid) <= fdsBefore; }, 5s))
      << "tunnel fds: " << fdsBefore << " before, " << openFdCount(tunnelPid) << " after";
}

}  // namespace
}  // namespace warren::e2e
