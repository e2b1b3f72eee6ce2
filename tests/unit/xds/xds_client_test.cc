// XdsClient against the test delta ADS server over real gRPC on 127.0.0.1:
// subscription, ACK/NACK, state hand-off, reconnects that resume with
// initial_resource_versions, and the last state served while disconnected.

#include "xds/xds_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "authz/authorize.h"
#include "common/file_io.h"
#include "identity/local_ca.h"
#include "tests/support/test_certs.h"
#include "tests/support/xds_server.h"
#include "tests/unit/xds/xds_test_util.h"
#include "xds/resource_cache.h"

namespace warren::xds {
namespace {

using namespace std::chrono_literals;
using namespace xdstest;
using testxds::SeenRequest;
using testxds::XdsTestServer;

// Failure bounds only: every wait returns as soon as its condition holds.
constexpr auto kWait = 20s;
const std::string kNodeId = "ztunnel~10.0.0.9~warren-tunnel-x.istio-system~istio-system.svc.cluster.local";

// What the tunnel would store: the latest state and how many were handed over.
class StateSink {
 public:
  void set(state::ClusterStatePtr s) {
    std::lock_guard lock(mu_);
    latest_ = std::move(s);
    count_++;
  }
  state::ClusterStatePtr latest() {
    std::lock_guard lock(mu_);
    return latest_;
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  state::ClusterStatePtr latest_;
  int count_ = 0;
};

// A TCP relay on 127.0.0.1 in front of the test server that holds each connection
// for `delay` before relaying anything: a control plane slow to answer the TLS and
// HTTP/2 handshake, as istiod is while a rollout of many nodes connects at once.
class SlowHandshakeRelay {
 public:
  SlowHandshakeRelay(uint16_t upstreamPort, std::chrono::milliseconds delay) : upstream_(upstreamPort), delay_(delay) {
    listen_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_ < 0 || bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(listen_, 16) != 0 ||
        getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~SlowHandshakeRelay() {
    stopping_ = true;
    shutdown(listen_, SHUT_RDWR);  // wakes the blocked accept
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : conns_) t.join();
    close(listen_);
  }
  bool listening() const { return port_ != 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

 private:
  void acceptLoop() {
    for (;;) {
      int client = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;  // shut down
      accepted_++;
      conns_.emplace_back([this, client] { relay(client); });
    }
  }
  void relay(int client) {
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(upstream_);
    if (server >= 0 && connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      // The fault itself, not a wait for something: nothing moves for `delay`.
      std::this_thread::sleep_for(delay_);
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      char buf[16384];
      while (!stopping_) {
        if (poll(fds, 2, 100) < 0) break;
        bool done = false;
        for (int i = 0; i < 2 && !done; ++i) {
          if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          ssize_t n = read(fds[i].fd, buf, sizeof buf);
          done = n <= 0 || write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n;
        }
        if (done) break;
      }
    }
    if (server >= 0) close(server);
    close(client);
  }

  uint16_t upstream_;
  std::chrono::milliseconds delay_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // touched by the acceptor only, then joined after it
};

class XdsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = XdsTestServer::start();
    ASSERT_TRUE(server_);
  }
  void TearDown() override {
    client_.reset();  // before the server: it joins the stream thread
    server_.reset();
  }

  XdsOptions options() const {
    XdsOptions o;
    o.address = server_->address();
    o.nodeId = kNodeId;
    o.initialBackoff = 50ms;
    o.maxBackoff = 400ms;
    return o;
  }
  void startClient(XdsOptions o) {
    auto c = XdsClient::start(std::move(o), [this](state::ClusterStatePtr s) { sink_.set(std::move(s)); });
    ASSERT_TRUE(c.ok()) << c.error().message;
    client_ = std::move(*c);
  }
  // Starts a client and waits until both types are subscribed and answered.
  void startSubscribed() {
    startClient(options());
    ASSERT_TRUE(server_->waitSubscribed(kAddressType, kWait));
    ASSERT_TRUE(server_->waitSubscribed(kAuthorizationType, kWait));
  }
  // Pushes and waits for the client's reply to that push.
  SeenRequest pushAndWait(const std::string& typeUrl, const std::map<std::string, google::protobuf::Any>& adds,
                          const std::vector<std::string>& removals = {}) {
    std::string nonce = server_->push(typeUrl, adds, removals);
    EXPECT_FALSE(nonce.empty()) << "no open subscribed stream";
    auto reply = server_->waitForReply(nonce, kWait);
    EXPECT_TRUE(reply) << "no reply to " << nonce;
    return reply.value_or(SeenRequest{});
  }

  testcerts::TempDir tmp_;
  StateSink sink_;
  std::unique_ptr<XdsTestServer> server_;
  std::unique_ptr<XdsClient> client_;
};

TEST_F(XdsClientTest, SubscribesToBothTypesByWildcardWithNodeAndToken) {
  ASSERT_TRUE(testcerts::writeFile(tmp_.file("token"), "tunnel-token\n").ok());
  auto o = options();
  o.tokenFile = tmp_.file("token");
  o.clusterId = "Kubernetes";
  startClient(o);
  for (const char* type : {kAddressType, kAuthorizationType}) {
    auto sub = server_->waitFor([&](const SeenRequest& r) { return r.typeUrl == type && r.nonce.empty(); }, 0, kWait);
    ASSERT_TRUE(sub) << type;
    EXPECT_EQ(sub->stream, 1);
    EXPECT_TRUE(sub->subscribe.empty()) << "wildcard: no names";
    EXPECT_TRUE(sub->initialVersions.empty()) << "first stream: nothing held";
    EXPECT_FALSE(sub->hasError);
    EXPECT_EQ(sub->nodeId, kNodeId);
    EXPECT_EQ(sub->authorization, "Bearer tunnel-token");
    // The cluster as ztunnel's auth source sends it, beside the token.
    EXPECT_EQ(sub->clusterId, "Kubernetes");
    EXPECT_EQ(sub->nodeMetadata["CLUSTER_ID"], "Kubernetes");
  }
  // The server's (empty) answers to both subscriptions are ACKed.
  ASSERT_TRUE(client_->waitStatus(
      [](const XdsStatus& s) { return s.connected && s.lastAckedNonce.size() == 2 && s.acks == 2; }, kWait));
  EXPECT_EQ(client_->status().nacks, 0u);
  EXPECT_EQ(client_->status().reconnects, 0u);
  ASSERT_TRUE(sink_.latest());
  EXPECT_TRUE(sink_.latest()->workloads().empty());
}

TEST_F(XdsClientTest, AddsAndRemovalsReachTheState) {
  startSubscribed();
  auto backend = workload("uid-a", "10.0.0.1");
  (*backend.mutable_services())["default/web.default.svc.cluster.local"];
  auto ack = pushAndWait(
      kAddressType, {{"uid-a", packAddress(backend)},
                     {"uid-b", packAddress(workload("uid-b", "10.0.0.2"))},
                     {"default/web.default.svc.cluster.local", packAddress(service("web", "default", "10.96.0.1"))}});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  EXPECT_EQ(ack.typeUrl, kAddressType);
  auto st = sink_.latest();
  ASSERT_TRUE(st);
  ASSERT_NE(st->findByIp("10.0.0.1"), nullptr);
  EXPECT_EQ(st->findByIp("10.0.0.1")->uid, "uid-a");
  EXPECT_TRUE(st->findByIp("10.0.0.1")->captured);
  const auto* svc = st->findServiceByVip("10.96.0.1");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(st->readyEndpoints(*svc).size(), 1u);

  ack = pushAndWait(kAuthorizationType,
                    {{"default/deny", packPolicy(denyFrom("deny", "default", "spiffe://cluster.local/ns/x/sa/y"))}});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  st = sink_.latest();
  ASSERT_EQ(st->policies().count("default/deny"), 1u);
  EXPECT_EQ(st->policies().at("default/deny").rules[0].clauses[0].matches[0].principals[0].value,
            "cluster.local/ns/x/sa/y");
  EXPECT_EQ(st->workloads().size(), 2u) << "a policy push keeps the workloads";

  ack = pushAndWait(kAddressType, {}, {"uid-a"});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  st = sink_.latest();
  EXPECT_EQ(st->findWorkload("uid-a"), nullptr);
  EXPECT_EQ(st->findByIp("10.0.0.1"), nullptr);
  EXPECT_NE(st->findWorkload("uid-b"), nullptr);
  EXPECT_TRUE(st->readyEndpoints(*st->findServiceByVip("10.96.0.1")).empty());

  ack = pushAndWait(kAuthorizationType, {}, {"default/deny"});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  EXPECT_TRUE(sink_.latest()->policies().empty());
  auto status = client_->status();
  EXPECT_EQ(status.lastAckedNonce.at(kAuthorizationType), ack.nonce);
  EXPECT_EQ(status.addresses, 2u);
  EXPECT_EQ(status.policies, 0u);
}

TEST_F(XdsClientTest, APolicyWithFieldsWarrenDoesNotKnowIsAckedAndRefusesTraffic) {
  // istiod (newer than these protos) sends "only web may reach db" with a
  // restriction Warren cannot read. Accepted, so the rest of the state stays
  // current, and enforced as admitting nobody: never read as admitting everyone.
  startSubscribed();
  auto ack =
      pushAndWait(kAuthorizationType,
                  {{"shop/only-web", packPolicy(allowOnly("only-web", "shop", "cluster.local/ns/shop/sa/web", 14))}});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  auto st = sink_.latest();
  ASSERT_TRUE(st);
  ASSERT_EQ(st->policies().count("shop/only-web"), 1u);
  const auto& p = st->policies().at("shop/only-web");
  EXPECT_TRUE(p.rules.empty());
  state::Workload db;
  db.ns = "shop";
  db.name = "db";
  db.ips = {"10.0.0.5"};
  authz::ConnectionFacts fromWeb{"10.0.0.9", identity::SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/web").value(),
                                 "10.0.0.5", 5432};
  EXPECT_FALSE(authz::authorize(db, {&p}, fromWeb).allowed);
}

TEST_F(XdsClientTest, AnInvalidResourceIsNackedAndTheOthersApplied) {
  startSubscribed();
  auto ack = pushAndWait(kAddressType, {{"uid-a", packAddress(workload("uid-a", "10.0.0.1"))}});
  ASSERT_TRUE(ack.isAck());
  const int statesBefore = sink_.count();
  const auto stateBefore = sink_.latest();

  auto broken = workload("uid-bad", "10.0.0.3");
  broken.set_addresses(0, std::string("\x0a\x00\x00\x03\x00", 5));
  auto nack = pushAndWait(kAddressType,
                          {{"uid-b", packAddress(workload("uid-b", "10.0.0.2"))}, {"uid-bad", packAddress(broken)}});
  ASSERT_TRUE(nack.isNack());
  EXPECT_EQ(nack.typeUrl, kAddressType);
  EXPECT_NE(nack.errorMessage.find("uid-bad"), std::string::npos) << nack.errorMessage;
  EXPECT_NE(nack.errorMessage.find("5 bytes"), std::string::npos) << nack.errorMessage;
  auto status = client_->status();
  EXPECT_EQ(status.nacks, 1u);
  EXPECT_EQ(status.lastNackMessage, nack.errorMessage);
  EXPECT_EQ(status.lastAckedNonce.at(kAddressType), ack.nonce);
  EXPECT_EQ(sink_.count(), statesBefore + 1) << "the resources that converted are in force";
  EXPECT_NE(sink_.latest(), stateBefore);
  EXPECT_NE(sink_.latest()->findWorkload("uid-b"), nullptr);
  EXPECT_EQ(sink_.latest()->findWorkload("uid-bad"), nullptr);

  auto badPolicy = denyFrom("bad", "shop", "x");
  badPolicy.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->add_destination_ports(0);
  nack = pushAndWait(kAuthorizationType, {{"shop/bad", packPolicy(badPolicy)}});
  ASSERT_TRUE(nack.isNack());
  EXPECT_NE(nack.errorMessage.find("shop/bad"), std::string::npos) << nack.errorMessage;

  ack = pushAndWait(kAddressType, {{"uid-c", packAddress(workload("uid-c", "10.0.0.4"))}});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  auto st = sink_.latest();
  EXPECT_NE(st->findWorkload("uid-a"), nullptr);
  EXPECT_NE(st->findWorkload("uid-c"), nullptr);
  EXPECT_EQ(st->findWorkload("uid-bad"), nullptr);
  EXPECT_NE(st->findWorkload("uid-b"), nullptr);
  // The unreadable policy is in force as deny-all for its namespace.
  ASSERT_EQ(st->policies().count("shop/bad"), 1u);
  EXPECT_EQ(st->policies().at("shop/bad").action, state::PolicyAction::Deny);
  EXPECT_EQ(client_->status().lastAckedNonce.at(kAddressType), ack.nonce);
}

TEST_F(XdsClientTest, ServerRestartReconnectsWithInitialVersionsAndKeepsServing) {
  startSubscribed();
  auto ack = pushAndWait(kAddressType, {{"uid-a", packAddress(workload("uid-a", "10.0.0.1"))},
                                        {"uid-b", packAddress(workload("uid-b", "10.0.0.2"))}});
  ASSERT_TRUE(ack.isAck());
  const int statesBefore = sink_.count();

  server_->stop();
  // The stream ended and at least one more attempt failed against the closed port.
  ASSERT_TRUE(client_->waitStatus([](const XdsStatus& s) { return !s.connected && s.reconnects >= 2; }, kWait));
  EXPECT_FALSE(client_->status().lastStreamError.empty());
  // Meanwhile the last state is what the tunnel serves: nothing was cleared.
  EXPECT_EQ(sink_.count(), statesBefore);
  ASSERT_NE(sink_.latest()->findWorkload("uid-a"), nullptr);
  ASSERT_NE(sink_.latest()->findWorkload("uid-b"), nullptr);

  // The control plane changes while the tunnel is away.
  EXPECT_EQ(server_->push(kAddressType, {{"uid-c", packAddress(workload("uid-c", "10.0.0.3"))}}, {"uid-b"}), "");
  const size_t seenBefore = server_->requests().size();
  ASSERT_TRUE(server_->restart());

  auto resub = server_->waitFor([](const SeenRequest& r) { return r.typeUrl == kAddressType && r.nonce.empty(); },
                                seenBefore, kWait);
  ASSERT_TRUE(resub);
  EXPECT_GE(resub->stream, 2);
  ASSERT_EQ(resub->initialVersions.size(), 2u);
  EXPECT_FALSE(resub->initialVersions.at("uid-a").empty());
  EXPECT_FALSE(resub->initialVersions.at("uid-b").empty());
  EXPECT_EQ(resub->nodeId, kNodeId) << "a new stream sends the node again";
  auto authzResub = server_->waitFor(
      [](const SeenRequest& r) { return r.typeUrl == kAuthorizationType && r.nonce.empty(); }, seenBefore, kWait);
  ASSERT_TRUE(authzResub);
  EXPECT_TRUE(authzResub->initialVersions.empty());

  // The server answers with only the difference (uid-c added, uid-b removed).
  auto resumed = server_->waitFor(
      [&](const SeenRequest& r) { return r.stream == resub->stream && r.typeUrl == kAddressType && r.isAck(); },
      seenBefore, kWait);
  ASSERT_TRUE(resumed);
  auto st = sink_.latest();
  EXPECT_NE(st->findWorkload("uid-a"), nullptr);
  EXPECT_EQ(st->findWorkload("uid-b"), nullptr);
  EXPECT_NE(st->findWorkload("uid-c"), nullptr);
  auto status = client_->status();
  EXPECT_TRUE(status.connected);
  EXPECT_GE(status.reconnects, 2u);
}

// A control plane that takes a second to handshake is waited for: one connection,
// no reconnect. With the connect timeout tied to the 50 ms initial backoff (as it
// was), gRPC abandoned every attempt before the server's SETTINGS arrived, and the
// client never connected at all.
TEST_F(XdsClientTest, ASlowHandshakeIsWaitedFor) {
  const std::string serverAddress = server_->address();
  const auto port = static_cast<uint16_t>(std::stoi(serverAddress.substr(serverAddress.rfind(':') + 1)));
  SlowHandshakeRelay relay(port, 1000ms);
  ASSERT_TRUE(relay.listening());
  XdsOptions o = options();
  o.address = relay.address();
  startClient(o);
  ASSERT_TRUE(server_->waitSubscribed(kAddressType, kWait));
  ASSERT_TRUE(server_->waitSubscribed(kAuthorizationType, kWait));
  ASSERT_TRUE(client_->waitStatus([](const XdsStatus& s) { return s.connected && s.acks == 2; }, kWait));
  EXPECT_EQ(client_->status().reconnects, 0u);
  EXPECT_EQ(relay.accepted(), 1);
  client_.reset();  // before the relay: its connection ends with the client
}

TEST_F(XdsClientTest, BrokenStreamIsReopened) {
  startSubscribed();
  ASSERT_TRUE(pushAndWait(kAddressType, {{"uid-a", packAddress(workload("uid-a", "10.0.0.1"))}}).isAck());
  const size_t seenBefore = server_->requests().size();
  server_->breakStream();
  auto resub = server_->waitFor([](const SeenRequest& r) { return r.typeUrl == kAddressType && r.nonce.empty(); },
                                seenBefore, kWait);
  ASSERT_TRUE(resub);
  EXPECT_EQ(resub->stream, 2);
  EXPECT_EQ(resub->initialVersions.count("uid-a"), 1u);
  ASSERT_TRUE(server_->waitSubscribed(kAuthorizationType, kWait));
  // Pushes reach the new stream.
  ASSERT_TRUE(pushAndWait(kAddressType, {{"uid-b", packAddress(workload("uid-b", "10.0.0.2"))}}).isAck());
  EXPECT_NE(sink_.latest()->findWorkload("uid-a"), nullptr);
  EXPECT_NE(sink_.latest()->findWorkload("uid-b"), nullptr);
  EXPECT_EQ(client_->status().reconnects, 1u);
}

TEST_F(XdsClientTest, DestructorInterruptsABackoffWait) {
  server_->stop();
  auto o = options();
  o.initialBackoff = 60s;
  o.maxBackoff = 60s;
  startClient(o);
  ASSERT_TRUE(
      client_->waitStatus([](const XdsStatus& s) { return s.streams == 1 && !s.lastStreamError.empty(); }, kWait));
  auto t0 = std::chrono::steady_clock::now();
  client_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the 30-60 s backoff must not delay shutdown";
  EXPECT_EQ(sink_.count(), 0);
}

// istiod serves xDS over TLS (15012) with a certificate for its service name, and
// the tunnel verifies it against the mesh's root before sending its token.
class XdsClientTlsTest : public XdsClientTest {
 protected:
  static constexpr const char* kIstiodName = "istiod.istio-system.svc";

  void SetUp() override {
    ASSERT_TRUE(identity::LocalCa::open(tmp_.file("ca"), "cluster.local").ok());
    ASSERT_TRUE(identity::LocalCa::open(tmp_.file("other-ca"), "cluster.local").ok());
    auto cert = testcerts::issueCert(tmp_.file("ca"), {std::string("DNS:") + kIstiodName}, tmp_.path(), "istiod");
    ASSERT_TRUE(cert.ok()) << cert.error().message;
    auto chain = readFile(cert->chain), key = readFile(cert->key);
    ASSERT_TRUE(chain.ok() && key.ok());
    server_ = XdsTestServer::start(0, testxds::ServerTls{*chain, *key});
    ASSERT_TRUE(server_);
    ASSERT_TRUE(testcerts::writeFile(tmp_.file("token"), "tunnel-token\n").ok());
  }
  XdsOptions tlsOptions(const std::string& caDir, const std::string& serverName) const {
    auto o = options();
    o.rootCertFile = tmp_.file(caDir) + "/root-cert.pem";
    o.tlsServerName = serverName;
    o.tokenFile = tmp_.file("token");
    return o;
  }
};

TEST_F(XdsClientTlsTest, VerifiedControlPlaneGetsTheTokenAndServesState) {
  startClient(tlsOptions("ca", kIstiodName));
  auto sub = server_->waitFor([](const SeenRequest& r) { return r.typeUrl == kAddressType; }, 0, kWait);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->authorization, "Bearer tunnel-token");
  ASSERT_TRUE(server_->waitSubscribed(kAddressType, kWait));
  ASSERT_TRUE(server_->waitSubscribed(kAuthorizationType, kWait));
  auto ack = pushAndWait(kAddressType, {{"uid-a", packAddress(workload("uid-a", "10.0.0.1"))}});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  ASSERT_TRUE(sink_.latest());
  EXPECT_NE(sink_.latest()->findByIp("10.0.0.1"), nullptr);
  EXPECT_TRUE(client_->status().connected);
}

// A server the client cannot verify (another root, or a certificate for another
// name) never sees a request, so never sees the token; the client keeps retrying.
TEST_F(XdsClientTlsTest, UnverifiedControlPlaneNeverGetsARequest) {
  struct Case {
    const char* caDir;
    std::string serverName;
  } cases[] = {{"other-ca", kIstiodName}, {"ca", "istiod.other-namespace.svc"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.caDir) + " " + c.serverName);
    startClient(tlsOptions(c.caDir, c.serverName));
    ASSERT_TRUE(client_->waitStatus([](const XdsStatus& s) { return s.streams >= 3; }, kWait))
        << "the client should keep trying";
    auto status = client_->status();
    EXPECT_FALSE(status.connected);
    EXPECT_FALSE(status.lastStreamError.empty());
    EXPECT_TRUE(server_->requests().empty()) << "a request reached an unverified server";
    EXPECT_EQ(sink_.count(), 0) << "no state from an unverified server";
    client_.reset();
  }
}

TEST(XdsClientOptions, BadOptionsFailAtStart) {
  auto noop = [](state::ClusterStatePtr) {};
  XdsOptions o;
  EXPECT_FALSE(XdsClient::start(o, noop).ok());
  o.address = "127.0.0.1:1";
  o.rootCertFile = "/nonexistent/root-cert.pem";
  auto c = XdsClient::start(o, noop);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/root-cert.pem"), std::string::npos) << c.error().message;
  o.rootCertFile.clear();
  o.initialBackoff = 0ms;
  EXPECT_FALSE(XdsClient::start(o, noop).ok());
}

TEST(JitteredBackoff, DoublesFromInitialUpToMaxWithinTheUpperHalf) {
  EXPECT_EQ(jitteredBackoff(0, 100ms, 10s, 0.0), 50ms);
  EXPECT_EQ(jitteredBackoff(0, 100ms, 10s, 0.999), 99ms);
  EXPECT_EQ(jitteredBackoff(3, 100ms, 10s, 0.0), 400ms);
  EXPECT_EQ(jitteredBackoff(20, 100ms, 10s, 0.0), 5s);
  EXPECT_EQ(jitteredBackoff(1000, 100ms, 10s, 0.999), 9995ms);
}

// The node metadata ztunnel sends, from the same downward-API environment.
TEST_F(XdsClientTest, TheNodeCarriesZtunnelsMetadataFromTheEnvironment) {
  ::setenv("POD_NAME", "warren-node-x7k2p", 1);
  ::setenv("POD_NAMESPACE", "warren-system", 1);
  ::setenv("INSTANCE_IP", "10.1.2.3", 1);
  ::setenv("NODE_NAME", "worker-3", 1);
  auto o = options();  // XdsOptions reads the environment when made
  for (const char* v : {"POD_NAME", "POD_NAMESPACE", "INSTANCE_IP", "NODE_NAME"}) ::unsetenv(v);
  startClient(o);
  auto sub = server_->waitFor([&](const SeenRequest& r) { return r.typeUrl == kAddressType; }, 0, kWait);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->nodeMetadata["NAME"], "warren-node-x7k2p");
  EXPECT_EQ(sub->nodeMetadata["NAMESPACE"], "warren-system");
  EXPECT_EQ(sub->nodeMetadata["INSTANCE_IPS"], "10.1.2.3");
  EXPECT_EQ(sub->nodeMetadata["NODE_NAME"], "worker-3");
}

// The tunnel's readiness: a whole state needs an ACKed response of both types.
// A first address response NACKed (one resource that does not convert) while the
// authorizations were ACKed is not that; the next ACKed address response is.
TEST_F(XdsClientTest, EveryTypeAckedOnlyOnceBothTypesHadAResponseAccepted) {
  auto broken = workload("uid-bad", "10.0.0.3");
  broken.set_addresses(0, std::string("\x0a\x00\x00\x03\x00", 5));
  server_->push(kAddressType, {{"uid-a", packAddress(workload("uid-a", "10.0.0.1"))}, {"uid-bad", packAddress(broken)}},
                {});
  startSubscribed();
  ASSERT_TRUE(client_->waitStatus(
      [](const XdsStatus& s) { return s.nacks == 1 && s.lastAckedNonce.count(kAuthorizationType); }, kWait));
  EXPECT_GE(client_->status().acks, 1u) << "the authorizations were accepted";
  EXPECT_FALSE(client_->status().everyTypeAcked()) << "the first address response was refused in part";

  auto ack = pushAndWait(kAddressType, {{"uid-bad", packAddress(workload("uid-bad", "10.0.0.3"))}});
  ASSERT_TRUE(ack.isAck()) << ack.errorMessage;
  EXPECT_TRUE(client_->status().everyTypeAcked());
}

}  // namespace
}  // namespace warren::xds
