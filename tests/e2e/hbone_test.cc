// HBONE between two nodes, end to end: real agents and tunnels, real BPF capture,
// real CNI, and tcpdump on the underlay as the witness of what crosses the wire.
//
//   node1 netns                                               node2 netns
//   client 10.244.1.21 (mesh) -+                            +- server 10.244.2.21:8080 (mesh)
//                              +- wbr0  u1 ==veth== u2  wbr0 -+- plainsrv 10.244.2.22:8080 (plain)
//
//   client --connect4--> tunnel@client:15001 ==TLS 1.3 + h2 CONNECT==> tunnel@server:15008 --> app:8080

#include <signal.h>

#include <chrono>
#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/pcap.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

const std::map<std::string, std::string> kEnabled = {{"warren.io/mode", "enabled"}};

class HboneClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>();
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("mesh", kEnabled);
    node(0).writeNamespace("plain", {});
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    client_ = node(0).addPod("mesh", "client", "10.244.1.21");
    server_ = node(1).addPod("mesh", "server", "10.244.2.21");
    plain_ = node(1).addPod("plain", "plainsrv", "10.244.2.22");
    ASSERT_FALSE(HasFailure());
    // The tunnels learn remote workloads from the YAML dir (debounced); wait until
    // both report all three before dialing.
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return node(i).tunnelStateIs({.workloads = 3, .captured = 2}); }, 5s))
          << node(i).logTail("tunnel");
    ASSERT_TRUE(isEnrolled(node(0).pinRoot(), client_.netnsPath()));
    ASSERT_TRUE(isEnrolled(node(1).pinRoot(), server_.netnsPath()));
  }

  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->logTails(60);
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }
  std::string underlayNetns() { return node(0).nodeNetns(); }

  std::unique_ptr<TestCluster> cluster_;
  Pod client_, server_, plain_;
};

TEST_F(HboneClusterTest, MeshTrafficCrossesTheUnderlayOnlyAsTls13) {
  auto app = PodServer::start(server_.netnsPath(), 8080);
  ASSERT_TRUE(app);
  auto cap = PacketCapture::start(underlayNetns(), cluster_->underlayInterface(0), "tcp");
  ASSERT_TRUE(cap) << cap.error().message;

  const std::string secret = "warren-secret-payload-7d1f";
  ConnectResult r = connectFrom(client_.netnsPath(), server_.ip, 8080, secret);
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, secret);
  EXPECT_EQ(r.peer, server_.ip + ":8080");  // the app's view is untouched

  std::string pcap = (*cap)->stop();
  auto flows = tcpPayloadsByDirection(pcap);
  ASSERT_TRUE(flows) << flows.error().message;
  // The payload never crosses in clear; the connection crosses as TLS 1.3 to
  // the server pod's port 15008 and nothing goes to its port 8080 directly.
  EXPECT_EQ(countOccurrences(pcap, secret), 0u);
  std::string toHbone = client_.ip, fromHbone = server_.ip + ":15008>";
  bool sawTls13 = false, sawHbone = false;
  for (const auto& [dir, bytes] : *flows) {
    EXPECT_EQ(dir.find(server_.ip + ":8080"), std::string::npos) << dir;
    if (dir.rfind(fromHbone, 0) == 0) sawTls13 |= hasTlsRecords(bytes);
    if (dir.find(">" + server_.ip + ":15008") != std::string::npos) {
      sawHbone = true;
      EXPECT_TRUE(startsWithTlsHandshake(bytes)) << dir;
    }
  }
  EXPECT_TRUE(sawHbone) << "no connection to " << server_.ip << ":15008 on the underlay";
  EXPECT_TRUE(sawTls13) << "no TLS 1.3 ServerHello from " << server_.ip << ":15008";

  // Both tunnels logged the connection with both identities.
  ASSERT_TRUE(eventually([&] { return !accessLog(node(1)).empty(); }, 5s));
  auto in = accessLog(node(1)).back();
  EXPECT_EQ(in["direction"], "inbound");
  EXPECT_EQ(in["protocol"], "hbone");
  EXPECT_EQ(in["security"], "mutual_tls");
  EXPECT_EQ(in["src_identity"], "spiffe://cluster.local/ns/mesh/sa/sa-client");
  EXPECT_EQ(in["dst_identity"], "spiffe://cluster.local/ns/mesh/sa/sa-server");
  EXPECT_EQ(in["bytes_sent"], secret.size());
  ASSERT_TRUE(eventually([&] { return !accessLog(node(0)).empty(); }, 5s));
  auto out = accessLog(node(0)).back();
  EXPECT_EQ(out["direction"], "outbound");
  EXPECT_EQ(out["protocol"], "hbone");
  EXPECT_EQ(out["dst"], server_.ip + ":8080");
  EXPECT_EQ(out["via"], server_.ip + ":15008");
  EXPECT_EQ(out["hbone_status"], 200);
}

TEST_F(HboneClusterTest, PooledConnectionCarriesManyAppConnectionsWithOneHandshake) {
  auto app = PodServer::start(server_.netnsPath(), 8080);
  ASSERT_TRUE(app);
  for (int i = 0; i < 50; ++i) {
    ConnectResult r = connectFrom(client_.netnsPath(), server_.ip, 8080, "n" + std::to_string(i));
    ASSERT_EQ(r.error, 0) << i << ": " << std::strerror(r.error);
    ASSERT_EQ(r.reply, "n" + std::to_string(i));
  }
  EXPECT_EQ(app->accepted(), 50u);
  // Across nodes too, the app sees the client pod's address on every connection.
  for (const auto& peer : app->peers()) EXPECT_EQ(hostOf(peer), client_.ip) << peer;
  // One TLS handshake on each side for the 50 app connections.
  auto count = [](const std::string& log, const std::string& what) {
    size_t n = 0;
    for (size_t pos = 0; (pos = log.find(what, pos)) != std::string::npos; ++pos) ++n;
    return n;
  };
  EXPECT_EQ(count(node(0).readLog("tunnel"), "TLSv1.3"), 1u);
  EXPECT_EQ(count(node(1).readLog("tunnel"), "TLSv1.3"), 1u);
}

// A one-way bulk stream across the underlay keeps moving (iperf3, as an operator
// would measure it). The underlay is slower than the tunnel, so its TLS socket fills
// and drains over and over: a tunnel that forgot to resume sending after such a
// drain stalled for seconds, until an unrelated event woke it. With traffic in one
// direction only, nothing else wakes it: every half-second interval must carry data.
TEST_F(HboneClusterTest, OneWayBulkStreamAcrossTheUnderlayNeverStalls) {
  auto server = Process::spawnWatched(
      {"nsenter", "--net=" + server_.netnsPath(), "iperf3", "-s", "-p", "5201", "--forceflush", "-1"},
      node(1).runDir() + "/iperf3.log", "Server listening", 10s);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::string out;
  int rc = runCommand({"nsenter", "--net=" + client_.netnsPath(), "iperf3", "-c", server_.ip, "-p", "5201", "-t", "4",
                       "-i", "0.5", "-J"},
                      &out);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  ASSERT_GE(j["intervals"].size(), 7u) << out;
  for (const auto& interval : j["intervals"])
    EXPECT_GT(interval["sum"]["bytes"].get<uint64_t>(), 0u)
        << "no byte moved between " << interval["sum"]["start"] << " and " << interval["sum"]["end"] << " s";
  EXPECT_GT(j["end"]["sum_received"]["bytes"].get<uint64_t>(), 0u);
  // Carried by the mesh, not around it.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& rec : accessLog(node(0)))
          if (rec["dst"] == server_.ip + ":5201" && rec["protocol"] == "hbone") return true;
        return false;
      },
      5s));
}

TEST_F(HboneClusterTest, NonMeshDestinationIsPassedThroughInPlaintext) {
  auto app = PodServer::start(plain_.netnsPath(), 8080);
  ASSERT_TRUE(app);
  ConnectResult r = connectFrom(client_.netnsPath(), plain_.ip, 8080, "to-plain");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "to-plain");
  ASSERT_TRUE(eventually([&] { return !accessLog(node(0)).empty(); }, 5s));
  auto out = accessLog(node(0)).back();
  EXPECT_EQ(out["protocol"], "tcp");
  EXPECT_EQ(out["security"], "none");
  EXPECT_EQ(out["dst_workload"], "plain/plainsrv");
}

TEST_F(HboneClusterTest, DestinationTunnelDownFailsClosedNeverInPlaintext) {
  auto app = PodServer::start(server_.netnsPath(), 8080);
  ASSERT_TRUE(app);
  node(1).stopTunnel(SIGTERM);
  ConnectResult r = connectFrom(client_.netnsPath(), server_.ip, 8080, "must-not-arrive", 3s);
  EXPECT_NE(r.error, 0);
  EXPECT_EQ(r.reply, "");
  EXPECT_EQ(app->accepted(), 0u);
}

}  // namespace
}  // namespace warren::e2e
