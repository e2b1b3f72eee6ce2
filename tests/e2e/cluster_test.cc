// Two nodes, end to end, made of network namespaces:
//
//   node1 netns                                              node2 netns
//   c1 10.244.1.13 -+                                     +- c2 10.244.2.13:8080
//   a1 10.244.1.11 -+- wbr0   u1 10.99.0.1 ==veth== 10.99.0.2 u2   wbr0 -+- a2 10.244.2.11
//
// One YAML dir is the cluster's source of truth; each node runs its own
// warren-agent and warren-tunnel on it. Namespace "mesh" is enrolled, "plain" not.
// tcpdump on the underlay shows what actually crosses between the nodes.

#include <signal.h>

#include <chrono>
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/support/cluster.h"
#include "tests/support/pcap.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

const std::map<std::string, std::string> kEnabled = {{"warren.io/mode", "enabled"}};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>();
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    // Written once, through either node: both agents watch the same dir.
    node(0).writeNamespace("mesh", kEnabled);
    node(0).writeNamespace("plain", {});
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    c1_ = node(0).addPod("plain", "c1", "10.244.1.13");
    c2_ = node(1).addPod("plain", "c2", "10.244.2.13");
    ASSERT_FALSE(HasFailure());
  }

  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->logTails(40);
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }

  std::unique_ptr<TestCluster> cluster_;
  Pod c1_, c2_;
};

TEST_F(ClusterTest, NonEnrolledPodReachesAPodOnTheOtherNode) {
  ASSERT_FALSE(isEnrolled(node(0).pinRoot(), c1_.netnsPath()));
  ASSERT_FALSE(isEnrolled(node(1).pinRoot(), c2_.netnsPath()));
  auto server = PodServer::start(c2_.netnsPath(), 8080);
  ASSERT_TRUE(server);

  ConnectResult r = connectFrom(c1_.netnsPath(), c2_.ip, 8080, "hello-across-nodes");
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, "hello-across-nodes");
  EXPECT_EQ(r.peer, c2_.ip + ":8080");
  EXPECT_EQ(hostOf(r.local), c1_.ip);
  // Routed, not masqueraded: the server sees the client pod's own address and port.
  auto peers = server->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0], r.local);
}

TEST_F(ClusterTest, UnderlayCaptureSeesPlaintextBetweenNonEnrolledPods) {
  auto server = PodServer::start(c2_.netnsPath(), 8080);
  ASSERT_TRUE(server);
  auto cap = PacketCapture::start(node(0).nodeNetns(), cluster_->underlayInterface(0), "tcp port 8080");
  ASSERT_TRUE(cap.ok()) << cap.error().message;

  const std::string payload = "warren-e2e-plaintext-7f3a9c-across-the-underlay";
  ConnectResult r = connectFrom(c1_.netnsPath(), c2_.ip, 8080, payload);
  ASSERT_EQ(r.error, 0) << std::strerror(r.error);
  ASSERT_EQ(r.reply, payload);

  std::string pcap = (*cap)->stop();
  // Once each way: the request and its echo.
  EXPECT_EQ(countOccurrences(pcap, payload), 2u) << (*cap)->log();

  // The parser reassembles the same bytes per direction, on the pods' real addresses.
  auto streams = tcpPayloadsByDirection(pcap);
  ASSERT_TRUE(streams.ok()) << streams.error().message;
  const std::string there = r.local + ">" + c2_.ip + ":8080", back = c2_.ip + ":8080>" + r.local;
  EXPECT_EQ((*streams)[there], payload);
  EXPECT_EQ((*streams)[back], payload);
  EXPECT_FALSE(hasTlsRecords((*streams)[back]));
}

TEST_F(ClusterTest, OpensslTls13AcrossTheUnderlayHidesThePayload) {
  // A throwaway certificate, in node2's run dir (removed with the node).
  const std::string dir = node(1).runDir() + "/tls";
  std::filesystem::create_directories(dir);
  std::string out;
  ASSERT_EQ(
      runCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-subj", "/CN=warren-e2e", "-days", "1"},
                 &out),
      0)
      << out;

  // -rev: a TLS echo server that answers each line reversed and ends the connection on "CLOSE".
  auto server =
      Process::spawnWatched({"nsenter", "--net=" + c2_.netnsPath(), "openssl", "s_server", "-tls1_3", "-accept", "4433",
                             "-cert", dir + "/cert.pem", "-key", dir + "/key.pem", "-naccept", "1", "-rev"},
                            dir + "/s_server.log", "ACCEPT", 10s);
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto cap = PacketCapture::start(node(0).nodeNetns(), cluster_->underlayInterface(0), "tcp port 4433");
  ASSERT_TRUE(cap.ok()) << cap.error().message;

  // -ign_eof: s_client keeps reading after its stdin ends, until the server closes.
  const std::string payload = "warren-e2e-secret-5d1e-should-never-cross-in-clear";
  const std::string reversed(payload.rbegin(), payload.rend());
  int rc = runCommand({"timeout", "20", "nsenter", "--net=" + c1_.netnsPath(), "openssl", "s_client", "-connect",
                       c2_.ip + ":4433", "-tls1_3", "-ign_eof"},
                      &out, payload + "\nCLOSE\n");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("TLSv1.3"), std::string::npos) << out;
  // The payload did cross, inside TLS: the server decrypted it and answered it reversed.
  EXPECT_NE(out.find(reversed), std::string::npos) << out;
  EXPECT_TRUE((*server)->waitForOutput("Protocol version: TLSv1.3", 10s)) << (*server)->output();

  std::string pcap = (*cap)->stop();
  EXPECT_EQ(countOccurrences(pcap, payload), 0u);
  EXPECT_EQ(countOccurrences(pcap, reversed), 0u);
  auto streams = tcpPayloadsByDirection(pcap);
  ASSERT_TRUE(streams.ok()) << streams.error().message;
  std::string toServer, toClient;
  for (const auto& [direction, bytes] : *streams) {
    if (direction.starts_with(c1_.ip + ":") && direction.ends_with(">" + c2_.ip + ":4433")) toServer = bytes;
    if (direction.starts_with(c2_.ip + ":4433>" + c1_.ip + ":")) toClient = bytes;
  }
  ASSERT_FALSE(toServer.empty()) << "no client-to-server bytes in the capture; " << (*cap)->log();
  ASSERT_FALSE(toClient.empty()) << "no server-to-client bytes in the capture; " << (*cap)->log();
  EXPECT_TRUE(startsWithTlsHandshake(toServer));  // the ClientHello
  EXPECT_TRUE(hasTlsRecords(toClient));           // the ServerHello picks TLS 1.3
  EXPECT_FALSE(serverHelloSelectsTls13(toServer));
  EXPECT_EQ(countOccurrences(toServer, payload), 0u);
  EXPECT_EQ(countOccurrences(toClient, reversed), 0u);
}

TEST_F(ClusterTest, EachAgentEnrollsOnlyItsOwnNodesPods) {
  Pod a1 = node(0).addPod("mesh", "a1", "10.244.1.11");
  Pod a2 = node(1).addPod("mesh", "a2", "10.244.2.11");
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(isEnrolled(node(0).pinRoot(), a1.netnsPath()));
  EXPECT_TRUE(isEnrolled(node(1).pinRoot(), a2.netnsPath()));
  EXPECT_FALSE(isEnrolled(node(1).pinRoot(), a1.netnsPath()));
  EXPECT_FALSE(isEnrolled(node(0).pinRoot(), a2.netnsPath()));
  // Both daemons of both nodes are still up on the shared dir.
  for (size_t i = 0; i < TestCluster::kNodes; ++i) {
    EXPECT_TRUE(node(i).agent() && node(i).agent()->running()) << node(i).name();
    EXPECT_TRUE(node(i).tunnel() && node(i).tunnel()->running()) << node(i).name();
  }
}

TEST(PcapTest, ParsesAHandMadeCaptureAndCountsOccurrences) {
  // Little-endian pcap, Ethernet, one IPv4/TCP segment carrying "abcab" (+1 byte of Ethernet padding).
  auto le32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  std::string pcap = le32(0xa1b2c3d4) + std::string("\x02\x00\x04\x00", 4) + le32(0) + le32(0) + le32(65535) + le32(1);
  std::string frame(12, '\x00');
  frame += std::string("\x08\x00", 2);
  const std::string ip = std::string("\x45\x00\x00\x2d\x00\x01\x00\x00\x40\x06\x00\x00", 12) +
                         std::string("\x0a\xf4\x01\x0d\x0a\xf4\x02\x0d", 8);
  const std::string tcp =
      std::string("\x9c\x40\x1f\x90\x00\x00\x00\x64\x00\x00\x00\x00\x50\x18\xff\xff", 16) + std::string(4, '\x00');
  frame += ip + tcp + "abcab" + std::string(1, '\x00');
  pcap += le32(0) + le32(0) + le32(static_cast<uint32_t>(frame.size())) + le32(static_cast<uint32_t>(frame.size()));
  pcap += frame;
  // The same segment again: a retransmission is counted once.
  pcap += le32(0) + le32(0) + le32(static_cast<uint32_t>(frame.size())) + le32(static_cast<uint32_t>(frame.size()));
  pcap += frame;

  auto streams = tcpPayloadsByDirection(pcap);
  ASSERT_TRUE(streams.ok()) << streams.error().message;
  ASSERT_EQ(streams->size(), 1u);
  EXPECT_EQ(streams->begin()->first, "10.244.1.13:40000>10.244.2.13:8080");
  EXPECT_EQ(streams->begin()->second, "abcab");
  EXPECT_EQ(countOccurrences("abcab", "ab"), 2u);
  EXPECT_EQ(countOccurrences("aaa", "aa"), 2u);
  EXPECT_EQ(countOccurrences("abc", ""), 0u);
  EXPECT_FALSE(tcpPayloadsByDirection("not a pcap").ok());
  EXPECT_FALSE(hasTlsRecords("abcab"));
}

}  // namespace
}  // namespace warren::e2e
