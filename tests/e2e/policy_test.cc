// State and L4 policy end to end on two nodes: service VIPs load-balanced across
// nodes, AuthorizationPolicy enforced by the destination's tunnel, PeerAuthentication
// STRICT/PERMISSIVE, live policy edits, and the metrics and access log that report
// each verdict. Policies are written into the cluster's YAML directory exactly as an
// operator would write them for Istio.
//
//   node1: mesh/client-a 10.244.1.31  mesh/client-b 10.244.1.32  mesh/server-1 10.244.1.34
//          plain/legacy 10.244.1.33 (not in the mesh)
//   node2: mesh/server-2 10.244.2.31
//   Service mesh/server: ClusterIP 10.96.0.10:80 -> targetPort 8080, selector app=server

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/netns.h"
#include "tests/support/cluster.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

const std::map<std::string, std::string> kEnabled = {{"warren.io/mode", "enabled"}};
const std::map<std::string, std::string> kServer = {{"app", "server"}};
constexpr const char* kVip = "10.96.0.10";

const char* kService = R"(apiVersion: v1
kind: Service
metadata: {name: server, namespace: mesh}
spec:
  clusterIP: 10.96.0.10
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: 8080}]
)";

// A connection an app keeps open, to watch what a policy change does to it.
class OpenConnection {
 public:
  static std::unique_ptr<OpenConnection> dial(const Pod& from, const std::string& ip, uint16_t port) {
    auto ns = openNetns(from.netnsPath());
    if (!ns) return nullptr;
    auto fd = socketInNetns(ns->get(), AF_INET, SOCK_STREAM);
    if (!fd) return nullptr;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return nullptr;
    auto c = std::unique_ptr<OpenConnection>(new OpenConnection);
    c->fd_ = std::move(*fd);
    return c;
  }
  // Sends text and reads its echo: true when the connection still carries bytes.
  bool echo(const std::string& text) {
    if (::send(fd_.get(), text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) return false;
    std::string got;
    while (got.size() < text.size()) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return false;
      char buf[256];
      ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
      if (n <= 0) return false;
      got.append(buf, n);
    }
    return got == text;
  }
  // Waits for the tunnel to end the connection: EOF or reset. Returns the errno
  // (0 for EOF), or -1 if it stayed open for `limit`.
  int waitClosed(std::chrono::milliseconds limit) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return -1;
    char buf[256];
    ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    return n == 0 ? 0 : n < 0 ? errno : -1;
  }

 private:
  OpenConnection() = default;
  UniqueFd fd_;
};

// The value of one Prometheus series whose labels include all of `labels`
// (each "name=\"value\""); -1 when no series matches.
double metricValue(const std::string& text, const std::string& family, const std::vector<std::string>& labels) {
  size_t pos = 0;
  while ((pos = text.find(family + "{", pos)) != std::string::npos) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    pos = end;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

class PolicyClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>();
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("mesh", kEnabled);
    node(0).writeNamespace("plain", {});
    node(0).writeFile("service-server.yaml", kService);
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    clientA_ = node(0).addPod("mesh", "client-a", "10.244.1.31");
    clientB_ = node(0).addPod("mesh", "client-b", "10.244.1.32");
    legacy_ = node(0).addPod("plain", "legacy", "10.244.1.33");
    server1_ = node(0).addPod("mesh", "server-1", "10.244.1.34", kServer);
    server2_ = node(1).addPod("mesh", "server-2", "10.244.2.31", kServer);
    ASSERT_FALSE(HasFailure());
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return node(i).tunnelStateIs({.workloads = 5, .captured = 4, .services = 1}); }, 5s))
          << node(i).logTail("tunnel");
    app1_ = PodServer::start(server1_.netnsPath(), 8080);
    app2_ = PodServer::start(server2_.netnsPath(), 8080);
    ASSERT_TRUE(app1_ && app2_);
  }

  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->logTails(80);
    app1_.reset();
    app2_.reset();
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }

  // State reloads a tunnel has logged so far (one info line per accepted state).
  size_t reloads(size_t i) {
    const std::string log = node(i).readLog("tunnel");
    size_t n = 0;
    for (size_t pos = 0; (pos = log.find("authorization policies\n", pos)) != std::string::npos; ++pos) ++n;
    return n;
  }
  // Writes a file into the cluster's YAML dir and waits until both tunnels have
  // loaded a state that includes it.
  void apply(const std::string& file, const std::string& yaml) {
    size_t before[] = {reloads(0), reloads(1)};
    node(0).writeFile(file, yaml);
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return reloads(i) > before[i]; }, 5s)) << "node " << i << " did not reload";
  }

  std::string metrics(size_t i) {
    auto r = httpRequest("/var/run/netns/" + node(i).nodeNetns(), "GET", "/metrics", 15020);
    EXPECT_EQ(r.status, 200);
    return r.body;
  }

  std::unique_ptr<TestCluster> cluster_;
  Pod clientA_, clientB_, legacy_, server1_, server2_;
  std::unique_ptr<PodServer> app1_, app2_;
};

TEST_F(PolicyClusterTest, ServiceVipIsBalancedOverEndpointsOnBothNodes) {
  constexpr int kConnections = 10;
  for (int i = 0; i < kConnections; ++i) {
    auto r = connectFrom(clientA_.netnsPath(), kVip, 80, "hello " + std::to_string(i));
    ASSERT_EQ(r.error, 0) << std::strerror(r.error);
    EXPECT_EQ(r.reply, "hello " + std::to_string(i));
    // The app still sees the address it dialed: the VIP.
    EXPECT_EQ(r.peer, std::string(kVip) + ":80");
  }
  // Round-robin over the two ready endpoints: exactly half each, one per node.
  EXPECT_EQ(app1_->accepted(), kConnections / 2u);
  EXPECT_EQ(app2_->accepted(), kConnections / 2u);
  // Both legs went over HBONE with the service named in the client's access log
  // (a line is written when its connection ends, so the last may still be coming).
  std::vector<nlohmann::json> viaService;
  ASSERT_TRUE(eventually(
      [&] {
        viaService.clear();
        for (const auto& j : accessLog(node(0)))
          if (j["direction"] == "outbound" && j["dst_service"] == "server.mesh.svc.cluster.local")
            viaService.push_back(j);
        return viaService.size() == static_cast<size_t>(kConnections);
      },
      5s))
      << viaService.size();
  for (const auto& j : viaService) {
    EXPECT_EQ(j["protocol"], "hbone");
    const std::string dst = j["dst"];
    EXPECT_EQ(dst.substr(dst.rfind(':')), ":8080");  // the targetPort
  }
  // node2's tunnel only sees its endpoint dialed, and still names the service
  // (guessed from the target port, as ztunnel does) in its log and metrics.
  size_t inboundViaService = 0;
  EXPECT_TRUE(eventually(
      [&] {
        inboundViaService = 0;
        for (const auto& j : accessLog(node(1)))
          inboundViaService += j["direction"] == "inbound" && j["dst_service"] == "server.mesh.svc.cluster.local";
        return inboundViaService == kConnections / 2u;
      },
      5s))
      << inboundViaService;

  // server-1 stops being ready: new connections all go to server-2.
  apply("pod-mesh-server-1.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: server-1, namespace: mesh, uid: uid-mesh-server-1, labels: {app: server}}
spec: {serviceAccountName: sa-server-1, nodeName: node1}
status: {podIP: 10.244.1.34, conditions: [{type: Ready, status: "False"}]}
)");
  for (int i = 0; i < 4; ++i) ASSERT_EQ(connectFrom(clientA_.netnsPath(), kVip, 80, "again").error, 0);
  EXPECT_EQ(app1_->accepted(), kConnections / 2u);
  EXPECT_EQ(app2_->accepted(), kConnections / 2u + 4);
}

TEST_F(PolicyClusterTest, AllowByPrincipalAdmitsOneServiceAccountAndRefusesAnother) {
  apply("policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-client-a, namespace: mesh}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/mesh/sa/sa-client-a"]}}]
)");
  auto allowed = connectFrom(clientA_.netnsPath(), server2_.ip, 8080, "from a");
  EXPECT_EQ(allowed.error, 0) << std::strerror(allowed.error);
  EXPECT_EQ(allowed.reply, "from a");
  auto denied = connectFrom(clientB_.netnsPath(), server2_.ip, 8080, "from b");
  EXPECT_NE(denied.error, 0) << "client-b got: " << denied.reply;
  EXPECT_EQ(denied.reply, "");
  // The destination app never saw client-b.
  EXPECT_EQ(app2_->accepted(), 1u);

  // The destination tunnel's access log names the verdict and the deciding policy.
  nlohmann::json allowLine, denyLine;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& j : accessLog(node(1))) {
          if (j["direction"] != "inbound") continue;
          if (j["src_identity"] == "spiffe://cluster.local/ns/mesh/sa/sa-client-a") allowLine = j;
          if (j["src_identity"] == "spiffe://cluster.local/ns/mesh/sa/sa-client-b") denyLine = j;
        }
        return !allowLine.is_null() && !denyLine.is_null();
      },
      5s));
  EXPECT_EQ(allowLine["verdict"], "allow");
  EXPECT_EQ(allowLine["policy"], "mesh/only-client-a");
  EXPECT_EQ(allowLine["response_flags"], "-");
  EXPECT_EQ(denyLine["verdict"], "deny");
  EXPECT_EQ(denyLine["policy"], "");  // no ALLOW rule matched: no single policy decided
  EXPECT_NE(denyLine["policy_reason"].get<std::string>().find("mesh/only-client-a"), std::string::npos);
  EXPECT_EQ(denyLine["hbone_status"], 401);
  EXPECT_EQ(denyLine["response_flags"], "DENY");
  EXPECT_EQ(denyLine["src_workload"], "mesh/client-b");
  EXPECT_EQ(denyLine["dst_workload"], "mesh/server-2");

  // Metrics on the destination node carry Istio's labels for each.
  const std::string m = metrics(1);
  const std::vector<std::string> common = {"reporter=\"destination\"", "destination_workload=\"server-2\"",
                                           "destination_workload_namespace=\"mesh\"",
                                           "destination_principal=\"spiffe://cluster.local/ns/mesh/sa/sa-server-2\"",
                                           "connection_security_policy=\"mutual_tls\""};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), common.begin(), common.end());
    return extra;
  };
  EXPECT_EQ(
      metricValue(m, "istio_tcp_connections_opened_total",
                  with({"source_workload=\"client-a\"", "source_workload_namespace=\"mesh\"",
                        "source_principal=\"spiffe://cluster.local/ns/mesh/sa/sa-client-a\"", "response_flags=\"-\""})),
      1)
      << m;
  EXPECT_EQ(
      metricValue(m, "istio_tcp_received_bytes_total", with({"source_workload=\"client-a\"", "response_flags=\"-\""})),
      6)  // "from a"
      << m;
  EXPECT_EQ(metricValue(m, "istio_tcp_connections_opened_total",
                        with({"source_workload=\"client-b\"", "response_flags=\"DENY\""})),
            1)
      << m;
  EXPECT_EQ(metricValue(m, "warren_tunnel_policy_denied_total", {}), -1);  // unlabelled: read below
  EXPECT_NE(m.find("warren_tunnel_policy_denied_total 1\n"), std::string::npos) << m;
  // The source side reports the refusal too, as the 401 it got.
  const std::string src = metrics(0);
  EXPECT_EQ(metricValue(src, "istio_tcp_connections_closed_total",
                        {"reporter=\"source\"", "source_workload=\"client-b\"", "response_flags=\"DENY\""}),
            1)
      << src;
}

TEST_F(PolicyClusterTest, MeshWideStrictRefusesPlaintextAndPermissiveAdmitsIt) {
  // legacy is not in the mesh: it reaches server-1 in plaintext (captured inbound).
  ASSERT_EQ(connectFrom(legacy_.netnsPath(), server1_.ip, 8080, "before").reply, "before");
  ASSERT_EQ(app1_->accepted(), 1u);

  apply("peer-auth.yaml", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
)");
  auto refused = connectFrom(legacy_.netnsPath(), server1_.ip, 8080, "strict");
  EXPECT_NE(refused.error, 0);
  EXPECT_EQ(refused.reply, "");
  EXPECT_EQ(app1_->accepted(), 1u);
  // mTLS clients are unaffected.
  EXPECT_EQ(connectFrom(clientA_.netnsPath(), server1_.ip, 8080, "mtls").reply, "mtls");
  EXPECT_EQ(app1_->accepted(), 2u);
  bool logged = false;
  for (const auto& j : accessLog(node(0)))
    if (j["direction"] == "inbound" && j["protocol"] == "tcp" && j.value("verdict", "") == "deny") {
      logged = true;
      EXPECT_EQ(j["policy"], "istio-system/default");
      EXPECT_NE(j["policy_reason"].get<std::string>().find("STRICT"), std::string::npos);
      EXPECT_EQ(j["security"], "none");
    }
  EXPECT_TRUE(logged);

  apply("peer-auth.yaml", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
)");
  EXPECT_EQ(connectFrom(legacy_.netnsPath(), server1_.ip, 8080, "permissive").reply, "permissive");
  EXPECT_EQ(app1_->accepted(), 3u);
}

TEST_F(PolicyClusterTest, APolicyEditAppliesWithinASecondAndClosesWhatItDenies) {
  auto live = OpenConnection::dial(clientA_, server2_.ip, 8080);
  ASSERT_TRUE(live);
  ASSERT_TRUE(live->echo("ping"));

  const auto written = std::chrono::steady_clock::now();
  node(0).writeFile("deny-a.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-a, namespace: mesh}
spec:
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/mesh/sa/sa-client-a"]}}]}]
)");
  // New connections are refused within one second of the edit.
  bool refused = false;
  std::chrono::steady_clock::duration took{};
  while (std::chrono::steady_clock::now() - written < 5s) {
    auto r = connectFrom(clientA_.netnsPath(), server2_.ip, 8080, "new", 1s);
    if (r.error != 0 && r.reply.empty()) {
      refused = true;
      took = std::chrono::steady_clock::now() - written;
      break;
    }
  }
  ASSERT_TRUE(refused) << "the DENY policy never took effect";
  const auto tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  RecordProperty("policy_edit_to_refusal_ms", std::to_string(tookMs));
  std::cout << "policy edit -> first refused connection: " << tookMs << " ms\n";
  EXPECT_LT(took, 1s) << "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  // The connection opened before the edit is closed by it (reset), not left open.
  int closed = live->waitClosed(5s);
  EXPECT_NE(closed, -1) << "the live connection stayed open";
  EXPECT_FALSE(live->echo("still?"));
  // client-b is not named by the policy and still gets through.
  EXPECT_EQ(connectFrom(clientB_.netnsPath(), server2_.ip, 8080, "b").reply, "b");
  bool revoked = false;
  for (const auto& j : accessLog(node(1)))
    revoked = revoked || j["end"].get<std::string>().find(
                             "closed by a policy change: denied by DENY policy "
                             "mesh/deny-a") != std::string::npos;
  EXPECT_TRUE(revoked);
}

TEST_F(PolicyClusterTest, AdminPortsShowStateCertificatesAndReadiness) {
  apply("policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: l7, namespace: mesh}
spec:
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
)");
  const std::string netns = "/var/run/netns/" + node(1).nodeNetns();
  EXPECT_EQ(httpRequest(netns, "GET", "/healthz/ready", 15021).status, 200);
  auto r = httpRequest(netns, "GET", "/config_dump", 15000);
  ASSERT_EQ(r.status, 200);
  auto dump = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(dump.is_discarded()) << r.body;
  bool sawServer = false;
  for (const auto& w : dump["state"]["workloads"])
    if (w["name"] == "server-2") {
      sawServer = true;
      EXPECT_EQ(w["identity"], "spiffe://cluster.local/ns/mesh/sa/sa-server-2");
      EXPECT_EQ(w["services"].begin().key(), "mesh/server.mesh.svc.cluster.local");
    }
  EXPECT_TRUE(sawServer);
  ASSERT_EQ(dump["state"]["services"].size(), 1u);
  EXPECT_EQ(dump["state"]["services"][0]["vips"][0], kVip);
  ASSERT_EQ(dump["state"]["policies"].size(), 1u);
  // The conversion says why this ALLOW policy now admits nothing at L4.
  EXPECT_NE(dump["state"]["policies"][0]["notes"][0].get<std::string>().find("L7"), std::string::npos);
  // node2 holds server-2's certificate, with its expiry and renewal time.
  bool sawCert = false;
  for (const auto& c : dump["certificates"])
    if (c["identity"] == "spiffe://cluster.local/ns/mesh/sa/sa-server-2") {
      sawCert = true;
      EXPECT_GT(c["expires_in_seconds"].get<int64_t>(), 0);
      EXPECT_TRUE(c.contains("renewal_due"));
    }
  EXPECT_TRUE(sawCert) << dump["certificates"].dump();
  // Log level control, localhost only, and changes only with the admin token.
  EXPECT_EQ(httpRequest(netns, "POST", "/logging?level=warn", 15000).status, 401);
  EXPECT_EQ(httpRequest(netns, "GET", "/logging", 15000).body.find("warn"), std::string::npos);
  std::ifstream tokenFile(node(1).adminTokenFile());
  std::string token;
  std::getline(tokenFile, token);
  ASSERT_FALSE(token.empty()) << node(1).adminTokenFile();
  EXPECT_EQ(httpRequest(netns, "POST", "/logging?level=warn", 15000, "Authorization: Bearer " + token + "\r\n").status,
            200);
  EXPECT_NE(httpRequest(netns, "GET", "/logging", 15000).body.find("warn"), std::string::npos);
}

// warrenctl's tunnel side on a live node: explain must agree with what the data
// path really does, for an allowed and a denied pair, and every command's JSON parses.
TEST_F(PolicyClusterTest, WarrenctlExplainAgreesWithTheDataPath) {
  apply("policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-client-a, namespace: mesh}
spec:
  selector: {matchLabels: {app: server}}
  rules: [{from: [{source: {principals: ["cluster.local/ns/mesh/sa/sa-client-a"]}}]}]
)");
  auto explain = [&](const std::string& src, const std::string& dst) {
    std::string out;
    EXPECT_EQ(node(0).warrenctl({"-j", "explain", src, dst}, &out), 0) << out;
    return nlohmann::json::parse(out, nullptr, false);
  };
  const std::string server2 = server2_.ip + ":8080";
  auto a = explain("mesh/client-a", server2);
  auto b = explain("mesh/client-b", server2);
  auto legacy = explain(legacy_.ip, server2);
  // What really happens, for the same three pairs.
  const bool aWorks = connectFrom(clientA_.netnsPath(), server2_.ip, 8080, "a").reply == "a";
  const bool bWorks = connectFrom(clientB_.netnsPath(), server2_.ip, 8080, "b").reply == "b";
  const bool legacyWorks = connectFrom(legacy_.netnsPath(), server2_.ip, 8080, "l").reply == "l";
  EXPECT_TRUE(aWorks);
  EXPECT_FALSE(bWorks);
  EXPECT_FALSE(legacyWorks);  // a plaintext client matches no principal
  EXPECT_EQ(a["verdict"], aWorks ? "allow" : "deny") << a.dump(2);
  EXPECT_EQ(b["verdict"], bWorks ? "allow" : "deny") << b.dump(2);
  EXPECT_EQ(legacy["verdict"], legacyWorks ? "allow" : "deny") << legacy.dump(2);
  EXPECT_EQ(a["paths"][0]["authorization"]["policy"], "mesh/only-client-a");
  EXPECT_EQ(a["paths"][0]["expected_identity"], "spiffe://cluster.local/ns/mesh/sa/sa-server-2");
  EXPECT_NE(b["paths"][0]["authorization"]["reason"].get<std::string>().find("mesh/only-client-a"), std::string::npos);
  EXPECT_EQ(legacy["paths"][0]["route"], "direct");
  // Through the service: both endpoints, each judged.
  auto viaVip = explain("mesh/client-b", std::string(kVip) + ":80");
  EXPECT_EQ(viaVip["paths"].size(), 2u);

  // The human form names the verdict too.
  std::string table;
  ASSERT_EQ(node(0).warrenctl({"explain", "mesh/client-b", server2}, &table), 0);
  EXPECT_NE(table.find("deny"), std::string::npos) << table;

  // Every tunnel-side command answers, and its -j output parses.
  auto live = OpenConnection::dial(clientA_, server2_.ip, 8080);
  ASSERT_TRUE(live && live->echo("hold"));
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"workload", "list"},
                                              {"workload", "show", "mesh/server-2"},
                                              {"service", "list"},
                                              {"service", "show", "server"},
                                              {"policy", "list"},
                                              {"policy", "show", "only-client-a"},
                                              {"cert", "list"},
                                              {"config", "dump"},
                                              {"log", "level"},
                                              {"conn", "list", "--tunnel"}}) {
    std::string out;
    std::vector<std::string> argv = {"-j"};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    int rc = node(1).warrenctl(argv, &out);
    std::string what = cmd[0] + " " + cmd[1];
    EXPECT_EQ(rc, 0) << what << ": " << out;
    auto j = nlohmann::json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << what << ": " << out;
    if (what == "workload show") {
      EXPECT_EQ(j["ips"][0], server2_.ip);
    }
    if (what == "service show") {
      EXPECT_EQ(j["endpoints"].size(), 2u);
    }
    if (what == "cert list") {
      bool found = false;
      for (const auto& c : j) found = found || c["identity"] == "spiffe://cluster.local/ns/mesh/sa/sa-server-2";
      EXPECT_TRUE(found) << out;
    }
    if (what == "conn list") {
      // The open connection: an inbound HBONE stream from client-a, authorized.
      bool authorized = false;
      for (const auto& c : j["inbound_authorized"])
        authorized = authorized || c["src_identity"] == "spiffe://cluster.local/ns/mesh/sa/sa-client-a";
      EXPECT_TRUE(authorized) << out;
      ASSERT_FALSE(j["hbone"].empty()) << out;
    }
  }
  // log level is the one command that changes something (the tunnel's logging).
  std::string out;
  ASSERT_EQ(node(1).warrenctl({"-j", "log", "level", "debug"}, &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out, nullptr, false).value("level", ""), "debug") << out;
  ASSERT_EQ(node(1).warrenctl({"log", "level"}, &out), 0);
  EXPECT_NE(out.find("debug"), std::string::npos) << out;
  // Errors are one line and a non-zero exit.
  EXPECT_NE(node(1).warrenctl({"workload", "show", "mesh/nosuch"}, &out), 0);
  EXPECT_NE(out.find("Error: no workload matches 'mesh/nosuch'"), std::string::npos) << out;
  EXPECT_NE(node(1).warrenctl({"--admin", "127.0.0.1:1", "cert", "list"}, &out), 0);
  EXPECT_NE(out.find("cannot reach warren-tunnel's admin endpoint"), std::string::npos) << out;
}

}  // namespace
}  // namespace warren::e2e
