// Hitless upgrade (README "Hitless upgrade"), end to end under a steady load:
//
//   node1 netns                                              node2 netns
//   client 10.244.1.31 (mesh) ==HBONE over the underlay==> server 10.244.2.31:8080 (mesh, echo)
//
//   load: 2 loops of short connections (connect, echo, close) and 4 long-lived echo
//   streams (a message every 5 ms), client -> server, throughout.
//
// TunnelTakeover: on one node a second warren-tunnel starts beside the first
// (SO_REUSEPORT on every port), says ready once it holds every pod, and the first
// gets SIGTERM: it drains (GOAWAY, its open streams relayed to their end) and
// exits. No connection fails, the long-lived ones finish intact at the old tunnel,
// new ones are counted by the new one.
// AgentRestart: warren-agent stops and starts again under the same load: no
// connection fails and tcpdump on the underlay sees nothing but TLS to 15008.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/netns.h"
#include "tests/support/cluster.h"
#include "tests/support/pcap.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::map<std::string, std::string> kEnabled = {{"warren.io/mode", "enabled"}};
// Every payload carries it: found on the underlay, it would be plaintext.
const std::string kMarker = "wrn-upg-plain-";
constexpr auto kDrainDeadline = 10s;

// The steady load: short connections in loops and long-lived echo streams, from a
// pod to a destination, each failure counted with its first reason kept.
class MeshLoad {
 public:
  MeshLoad(std::string netnsPath, std::string ip, uint16_t port)
      : netns_(std::move(netnsPath)), ip_(std::move(ip)), port_(port) {}
  ~MeshLoad() {
    stopShort();
    stopLong();
  }

  void start(int shortLoops, int longStreams) {
    for (int i = 0; i < longStreams; ++i) {
      auto fd = openStream();
      if (!fd) {
        fail("long " + std::to_string(i) + " connect: " + fd.error().message, longFailed);
        continue;
      }
      streams_.emplace_back([this, i, fd = std::make_shared<UniqueFd>(std::move(*fd))] { runStream(i, fd->get()); });
    }
    for (int i = 0; i < shortLoops; ++i) loops_.emplace_back([this, i] { runShort(i); });
  }
  void stopShort() {
    stopShort_ = true;
    for (auto& t : loops_) t.join();
    loops_.clear();
  }
  void stopLong() {
    stopLong_ = true;
    for (auto& t : streams_) t.join();
    streams_.clear();
  }
  std::string firstFailure() {
    std::lock_guard lock(mu_);
    return firstFailure_;
  }

  std::atomic<uint64_t> shortAttempted{0}, shortFailed{0}, longExchanged{0}, longFailed{0};

 private:
  Result<UniqueFd> openStream() {
    auto ns = openNetns(netns_);
    if (!ns) return ns.error();
    auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
    if (!fd) return fd.error();
    timeval tv{5, 0};
    ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    inet_pton(AF_INET, ip_.c_str(), &addr.sin_addr);
    if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return errnoError("connect");
    return std::move(*fd);
  }
  void fail(const std::string& why, std::atomic<uint64_t>& counter) {
    counter++;
    std::lock_guard lock(mu_);
    if (firstFailure_.empty()) firstFailure_ = why;
  }
  void runShort(int loop) {
    for (uint64_t n = 0; !stopShort_; ++n) {
      const std::string payload = kMarker + "s" + std::to_string(loop) + "-" + std::to_string(n);
      shortAttempted++;
      ConnectResult r = connectFrom(netns_, ip_, port_, payload, 5s);
      if (r.error != 0 || r.reply != payload)
        fail("short " + payload + ": " + (r.error ? std::strerror(r.error) : "reply '" + r.reply + "'"), shortFailed);
    }
  }
  void runStream(int stream, int fd) {
    for (uint64_t n = 0; !stopLong_; ++n) {
      char msg[32];
      std::snprintf(msg, sizeof(msg), "%sL%d-%08llu", kMarker.c_str(), stream, static_cast<unsigned long long>(n));
      const std::string payload(msg);
      std::string echo;
      if (::write(fd, payload.data(), payload.size()) != static_cast<ssize_t>(payload.size()))
        return fail("long " + payload + " write: " + std::strerror(errno), longFailed);
      while (echo.size() < payload.size()) {
        char buf[64];
        ssize_t got = ::read(fd, buf, std::min(sizeof(buf), payload.size() - echo.size()));
        if (got <= 0) return fail("long " + payload + " read: " + (got ? std::strerror(errno) : "closed"), longFailed);
        echo.append(buf, static_cast<size_t>(got));
      }
      if (echo != payload) return fail("long " + payload + " echoed '" + echo + "'", longFailed);
      longExchanged++;
      std::this_thread::sleep_for(5ms);  // the stream's own pace, not a wait for an event
    }
  }  // fd is closed by its owner, the thread's UniqueFd

  std::string netns_, ip_;
  uint16_t port_;
  std::atomic<bool> stopShort_{false}, stopLong_{false};
  std::vector<std::thread> loops_, streams_;
  std::mutex mu_;
  std::string firstFailure_;
};

// Sum of istio_tcp_connections_opened_total samples with this reporter, from the
// node's 15020 (whichever tunnel holds it).
uint64_t connectionsOpened(const TestNode& node, const std::string& reporter) {
  std::istringstream in(httpRequest("/var/run/netns/" + node.nodeNetns(), "GET", "/metrics", 15020).body);
  uint64_t sum = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("istio_tcp_connections_opened_total{", 0) == 0 &&
        line.find("reporter=\"" + reporter + "\"") != std::string::npos)
      sum += std::stoull(line.substr(line.rfind(' ') + 1));
  return sum;
}

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>(
        std::vector<std::string>{"--drain-seconds", std::to_string(kDrainDeadline.count())});
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("mesh", kEnabled);
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    client_ = node(0).addPod("mesh", "client", "10.244.1.31");
    server_ = node(1).addPod("mesh", "server", "10.244.2.31");
    ASSERT_FALSE(HasFailure());
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return node(i).tunnelStateIs({.workloads = 2, .captured = 2}); }, 5s))
          << node(i).logTail("tunnel");
    app_ = PodServer::start(server_.netnsPath(), 8080);
    ASSERT_TRUE(app_);
    load_ = std::make_unique<MeshLoad>(client_.netnsPath(), server_.ip, 8080);
  }

  void TearDown() override {
    load_.reset();
    if (HasFailure() && cluster_) std::cerr << cluster_->logTails(60);
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }
  // Lets the load run until `more` further exchanges happened on every kind.
  void runFor(uint64_t shortMore, uint64_t longMore) {
    const uint64_t s = load_->shortAttempted, l = load_->longExchanged;
    ASSERT_TRUE(
        eventually([&] { return load_->shortAttempted >= s + shortMore && load_->longExchanged >= l + longMore; }, 20s))
        << "load stalled: " << load_->firstFailure();
  }

  std::unique_ptr<TestCluster> cluster_;
  Pod client_, server_;
  std::unique_ptr<PodServer> app_;
  std::unique_ptr<MeshLoad> load_;
};

class TunnelTakeoverTest : public UpgradeTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(TunnelTakeoverTest, UnderLoadNoConnectionFails) {
  const size_t k = GetParam();  // the node upgraded: 0 the client's (outbound), 1 the server's (inbound)
  const std::string reporter = k == 0 ? "source" : "destination";
  load_->start(/*shortLoops=*/2, /*longStreams=*/4);
  runFor(50, 200);

  // The new tunnel, beside the old on the same ports; ready = it holds every pod.
  auto fresh = node(k).spawnTunnel("tunnel-new");
  ASSERT_TRUE(fresh.ok()) << fresh.error().message << "\n" << node(k).logTail("tunnel-new");
  runFor(50, 100);  // both serve for a while (the kernel spreads 15001 across them)

  Process* old = node(k).tunnel();
  ASSERT_TRUE(old && old->running());
  const uint64_t attemptedAtTerm = load_->shortAttempted;
  const auto term = Clock::now();
  ASSERT_EQ(::kill(old->pid(), SIGTERM), 0);
  runFor(100, 200);
  // The long-lived streams are still carried by the old tunnel, draining.
  EXPECT_TRUE(old->running()) << "the old tunnel exited with connections open";
  load_->stopLong();
  ASSERT_TRUE(eventually([&] { return !old->running(); }, kDrainDeadline + 2s)) << node(k).logTail("tunnel");
  const auto drained = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - term);
  EXPECT_EQ(node(k).stopTunnel(SIGTERM), 0) << "the old tunnel's exit status";
  EXPECT_LT(drained, kDrainDeadline);

  // After the old one is gone everything lands at the new one, which counts it.
  const uint64_t attemptedAtExit = load_->shortAttempted;
  runFor(100, 0);
  load_->stopShort();
  const uint64_t afterExit = load_->shortAttempted - attemptedAtExit;
  EXPECT_GE(connectionsOpened(node(k), reporter), afterExit) << "the new tunnel did not carry the new connections";

  std::cout << "[ measure ] node " << k << " upgrade: " << load_->shortAttempted << " short connections ("
            << load_->shortAttempted - attemptedAtTerm << " after SIGTERM), " << load_->shortFailed << " failed; "
            << load_->longExchanged << " long-lived exchanges, " << load_->longFailed
            << " failed; old tunnel drained in " << drained.count() << " ms\n";
  EXPECT_EQ(load_->shortFailed, 0u) << load_->firstFailure();
  EXPECT_EQ(load_->longFailed, 0u) << load_->firstFailure();
  EXPECT_TRUE((*fresh)->running());
}

INSTANTIATE_TEST_SUITE_P(Nodes, TunnelTakeoverTest, ::testing::Values(size_t{0}, size_t{1}),
                         [](const auto& info) { return info.param == 0 ? "ClientNode" : "ServerNode"; });

TEST_F(UpgradeTest, AgentRestartUnderLoadNoConnectionFailsNothingInPlaintext) {
  auto cap = PacketCapture::start(node(0).nodeNetns(), cluster_->underlayInterface(0), "tcp");
  ASSERT_TRUE(cap) << cap.error().message;
  load_->start(/*shortLoops=*/2, /*longStreams=*/4);
  runFor(50, 200);

  for (size_t k = 0; k < TestCluster::kNodes; ++k) {
    ASSERT_EQ(node(k).stopAgent(SIGTERM), 0);
    runFor(20, 50);  // the agent away: capture and the tunnels carry on
    ASSERT_TRUE(node(k).startAgent().ok()) << node(k).logTail("agent");
    runFor(50, 100);
  }
  load_->stopShort();
  load_->stopLong();
  std::cout << "[ measure ] agent restarts on both nodes: " << load_->shortAttempted << " short connections, "
            << load_->shortFailed << " failed; " << load_->longExchanged << " long-lived exchanges, "
            << load_->longFailed << " failed\n";
  EXPECT_EQ(load_->shortFailed, 0u) << load_->firstFailure();
  EXPECT_EQ(load_->longFailed, 0u) << load_->firstFailure();

  const std::string pcap = (*cap)->stop();
  auto segments = parsePcapTcp(pcap);
  ASSERT_TRUE(segments) << segments.error().message;
  size_t plaintext = 0, hbone = 0;
  const std::string hbonePort = ":15008";
  for (const auto& seg : *segments) {
    if (seg.payload.empty()) continue;
    const bool toOrFromHbone = seg.src == server_.ip + hbonePort || seg.dst == server_.ip + hbonePort;
    (toOrFromHbone ? hbone : plaintext)++;
  }
  EXPECT_EQ(plaintext, 0u) << "segments with payload outside HBONE on the underlay";
  EXPECT_GT(hbone, 0u);
  EXPECT_EQ(countOccurrences(pcap, kMarker), 0u) << "an app payload crossed the underlay in clear";
  auto flows = tcpPayloadsByDirection(pcap);
  ASSERT_TRUE(flows) << flows.error().message;
  for (const auto& [dir, bytes] : *flows)
    if (dir.find(">" + server_.ip + hbonePort) != std::string::npos) {
      EXPECT_TRUE(startsWithTlsHandshake(bytes)) << dir;
    }
}

// A DaemonSet surge starts the new pod's agent beside the old one (same run dir):
// it binds cni.sock and zds.sock anew, and the old one's exit must leave them. Then
// a new pod still starts captured (its CNI ADD reaches the agent) and the tunnel,
// reconnecting, gets it.
TEST_F(UpgradeTest, AgentStartedBesideTheOldOneKeepsServingAfterTheOldExits) {
  load_->start(/*shortLoops=*/2, /*longStreams=*/4);
  runFor(50, 100);
  auto fresh = node(0).spawnAgent("agent-new");
  ASSERT_TRUE(fresh.ok()) << fresh.error().message << "\n" << node(0).logTail("agent-new");
  runFor(20, 50);
  ASSERT_EQ(node(0).stopAgent(SIGTERM), 0);
  runFor(20, 50);
  // The tunnel lost the old agent's ZDS connection: it is ready again once the new
  // agent has replayed every pod to it.
  ASSERT_TRUE(eventually(
      [&] {
        return httpRequest("/var/run/netns/" + node(0).nodeNetns(), "GET", "/healthz/ready", 15021).status == 200;
      },
      10s))
      << node(0).logTail("tunnel");
  int status = -1;
  std::string out;
  Pod late = node(0).addPod("mesh", "late", "10.244.1.32", {}, &status, &out);
  ASSERT_EQ(status, 0) << "CNI ADD after the old agent exited: " << out;
  EXPECT_TRUE(isEnrolled(node(0).pinRoot(), late.netnsPath()));
  ASSERT_TRUE(eventually([&] { return node(1).tunnelStateIs({.workloads = 3, .captured = 3}); }, 5s));
  ConnectResult r = connectFrom(late.netnsPath(), server_.ip, 8080, kMarker + "late");
  EXPECT_EQ(r.error, 0) << std::strerror(r.error);
  EXPECT_EQ(r.reply, kMarker + "late");
  load_->stopShort();
  load_->stopLong();
  EXPECT_EQ(load_->shortFailed, 0u) << load_->firstFailure();
  EXPECT_EQ(load_->longFailed, 0u) << load_->firstFailure();
  EXPECT_TRUE((*fresh)->running());
}

}  // namespace
}  // namespace warren::e2e
