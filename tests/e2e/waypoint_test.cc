// The waypoint end to end on two nodes: L7 AuthorizationPolicy enforced per HTTP
// request by a real warren-waypoint between two meshed pods, with real curl as the
// client and an HTTP app that records exactly what reaches it.
//
//   node1: payments/checkout 10.244.1.10 (client)   payments/waypoint 10.244.1.50
//          (warren-waypoint, Gateway payments/waypoint, not captured)
//   node2: payments/ledger 10.244.2.20:8080 (app=ledger)
//   Service payments/ledger: 10.96.0.20:80 -> 8080; namespace payments uses the
//   waypoint (istio.io/use-waypoint), which takes all traffic (istio.io/waypoint-for).
//
//   checkout --HBONE--> waypoint (L7 policy) --HBONE--> ledger's tunnel (L4) --> app

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/netns.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/pcap.h"

namespace warren::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVip = "10.96.0.20";

const char* kCluster = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: payments
  labels: {istio.io/waypoint-for: all}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: payments}
spec:
  clusterIP: 10.96.0.20
  selector: {app: ledger}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ledger-read, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/sa-checkout"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/balance/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin-writes, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - to: [{operation: {methods: ["POST"], paths: ["/admin/*"]}}]
)";

// The app: warren-demo-app's HTTP/1.1 server in ledger's netns. It prints one
// "http: METHOD target" line per request it receives: the witness of exactly what
// got past the waypoint.
class HttpApp {
 public:
  static std::unique_ptr<HttpApp> start(const TestNode& node, const Pod& pod, uint16_t port) {
    auto p = Process::spawnWatched({"nsenter", "--net=" + pod.netnsPath(), node.binPath("warren-demo-app"), "http",
                                    std::to_string(port)},
                                   node.runDir() + "/app-" + pod.name + ".log", "listening on", 10s);
    if (!p) return nullptr;
    auto app = std::unique_ptr<HttpApp>(new HttpApp);
    app->proc_ = std::move(*p);
    return app;
  }
  std::vector<std::string> seen() {
    std::vector<std::string> out;
    std::istringstream in(proc_->output());
    for (std::string line; std::getline(in, line);)
      if (line.rfind("http: ", 0) == 0) out.push_back(line.substr(6));
    return out;
  }

 private:
  HttpApp() = default;
  std::unique_ptr<Process> proc_;
};

class WaypointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>();
    ASSERT_FALSE(HasFailure()) << "cluster setup failed";
    node(0).writeNamespace("payments", {{"warren.io/mode", "enabled"}, {"istio.io/use-waypoint", "waypoint"}});
    node(0).writeFile("payments.yaml", kCluster);
    auto started = cluster_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    checkout_ = node(0).addPod("payments", "checkout", "10.244.1.10");
    waypoint_ = node(0).addPod("payments", "waypoint", "10.244.1.50",
                               {{"gateway.networking.k8s.io/gateway-name", "waypoint"}});
    ledger_ = node(1).addPod("payments", "ledger", "10.244.2.20", {{"app", "ledger"}});
    ASSERT_FALSE(HasFailure());
    EXPECT_FALSE(isEnrolled(node(0).pinRoot(), waypoint_.netnsPath())) << "a waypoint's pod is never captured";
    // Both tunnels route by the state that has all three pods and the waypoint:
    // waited for on the admin config dump, not on log wording.
    for (size_t i = 0; i < TestCluster::kNodes; ++i)
      ASSERT_TRUE(eventually([&] { return tunnelKnowsWaypoint(i); }, 10s)) << node(i).logTail("tunnel");
    auto wp = node(0).startWaypoint(waypoint_, "payments/waypoint");
    ASSERT_TRUE(wp.ok()) << wp.error().message;
    app_ = HttpApp::start(node(1), ledger_, 8080);
    ASSERT_TRUE(app_);
  }

  void TearDown() override {
    if (HasFailure() && cluster_) {
      std::cerr << cluster_->logTails(40) << "\n--- waypoint ---\n" << node(0).logTail("waypoint-waypoint", 60);
    }
    app_.reset();
    cluster_.reset();
  }

  TestNode& node(size_t i) { return cluster_->node(i); }

  bool tunnelKnowsWaypoint(size_t i) {
    auto r = httpRequest("/var/run/netns/" + node(i).nodeNetns(), "GET", "/config_dump", 15000);
    auto dump = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || dump.is_discarded()) return false;
    int pods = 0;
    for (const auto& w : dump["state"]["workloads"])
      pods += w.value("name", "") == "checkout" || w.value("name", "") == "waypoint" || w.value("name", "") == "ledger";
    return pods == 3;
  }

  // curl in the checkout pod; returns its stdout (bodies, then each -w line).
  std::string curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"nsenter", "--net=" + checkout_.netnsPath(), "curl", "-sS", "--max-time", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    lastCurlStatus_ = runCommand(argv, &out);
    return out;
  }

  std::vector<nlohmann::json> waypointAccessLog() {
    std::vector<nlohmann::json> out;
    std::istringstream in(node(0).readLog("waypoint-waypoint"));
    for (std::string line; std::getline(in, line);) {
      auto pos = line.find("access {");
      if (pos == std::string::npos) continue;
      auto j = nlohmann::json::parse(line.substr(pos + 7), nullptr, false);
      if (!j.is_discarded()) out.push_back(j);
    }
    return out;
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<HttpApp> app_;
  Pod checkout_, waypoint_, ledger_;
  int lastCurlStatus_ = 0;
};

TEST_F(WaypointTest, AllowedThenDeniedRequestOnOneKeepAliveConnection) {
  const std::string w = "%{http_code} %{num_connects}\\n";
  std::string out = curl({"-w", w, "http://" + std::string(kVip) + "/balance/1", "-w", w,
                          "http://" + std::string(kVip) + "/admin/users"});
  EXPECT_EQ(lastCurlStatus_, 0) << out;
  // One TCP connection (num_connects 1, then 0: reused), two verdicts.
  EXPECT_NE(out.find("GET /balance/1 served\n200 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("RBAC: access denied403 0\n"), std::string::npos) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"}) << "the app saw a denied request";

  ASSERT_TRUE(eventually([&] { return waypointAccessLog().size() >= 2; }, 5s)) << node(0).logTail("waypoint-waypoint");
  auto log = waypointAccessLog();
  EXPECT_EQ(log[0]["response_code"], 200);
  EXPECT_EQ(log[0]["source_principal"], "spiffe://cluster.local/ns/payments/sa/sa-checkout");
  EXPECT_EQ(log[0]["destination_principal"], "spiffe://cluster.local/ns/payments/sa/sa-ledger");
  EXPECT_EQ(log[0]["policy"], "payments/ledger-read");
  EXPECT_EQ(log[1]["response_code"], 403);
  // As Envoy reports an RBAC denial: no response flag, the policy in the details.
  EXPECT_EQ(log[1]["response_flags"], "-");
  EXPECT_EQ(log[1]["response_code_details"], "rbac_access_denied_matched_policy[none]");

  // Istio's request metrics on the waypoint's 15020, with the labels banks alert on.
  auto metrics = httpRequest(waypoint_.netnsPath(), "GET", "/metrics", 15020);
  ASSERT_EQ(metrics.status, 200);
  auto series = [&](const std::string& code) {
    std::istringstream in(metrics.body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("istio_requests_total{", 0) == 0 && line.find("reporter=\"waypoint\"") != std::string::npos &&
          line.find("response_code=\"" + code + "\"") != std::string::npos &&
          line.find("source_workload=\"checkout\"") != std::string::npos &&
          line.find("destination_service_name=\"ledger\"") != std::string::npos &&
          line.find("connection_security_policy=\"mutual_tls\"") != std::string::npos &&
          line.find("source_principal=\"spiffe://cluster.local/ns/payments/sa/sa-checkout\"") != std::string::npos)
        return line.substr(line.rfind(' ') + 1);
    return std::string();
  };
  EXPECT_EQ(series("200"), "1") << metrics.body.substr(0, 4000);
  EXPECT_EQ(series("403"), "1");
  EXPECT_NE(metrics.body.find("istio_request_duration_milliseconds_bucket{"), std::string::npos);

  // The ledger's tunnel still judged L4, and saw the waypoint (its identity), not checkout.
  ASSERT_TRUE(eventually([&] { return !accessLog(node(1)).empty(); }, 5s));
  bool fromWaypoint = false;
  for (const auto& e : accessLog(node(1)))
    fromWaypoint |= e["direction"] == "inbound" && e["src_identity"] == "spiffe://cluster.local/ns/payments/sa/sa-waypoint";
  EXPECT_TRUE(fromWaypoint);
  // Checkout's tunnel sent it through the waypoint.
  bool viaWaypoint = false;
  for (const auto& e : accessLog(node(0)))
    viaWaypoint |= e["direction"] == "outbound" && e.value("waypoint", "") == "payments/waypoint.payments.svc.cluster.local";
  EXPECT_TRUE(viaWaypoint);
}

TEST_F(WaypointTest, DenyPolicyWinsAndAPodIpDialedDirectlyStillMeetsTheWaypoint) {
  // POST /admin/*: the DENY policy; and not allowed anyway.
  std::string out = curl({"-X", "POST", "-d", "x=1", "-w", "%{http_code}", "http://" + ledger_.ip + ":8080/admin/drop"});
  EXPECT_NE(out.find("RBAC: access denied403"), std::string::npos) << out;
  // Dialing the pod IP, not the service: still through the waypoint, still judged.
  out = curl({"-w", "%{http_code}", "http://" + ledger_.ip + ":8080/balance/7"});
  EXPECT_NE(out.find("GET /balance/7 served\n200"), std::string::npos) << out;
  out = curl({"--path-as-is", "-w", "%{http_code}", "http://" + ledger_.ip + ":8080/balance/../admin/x"});
  EXPECT_NE(out.find("403"), std::string::npos) << "a dot-segment path must not slip past /balance/*: " << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/7"});
  auto log = waypointAccessLog();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0]["policy"], "payments/no-admin-writes");
}

TEST_F(WaypointTest, SmugglingShapesGet400AndNothingReachesTheApp) {
  const std::vector<std::string> bad = {
      "POST /balance/1 HTTP/1.1\r\nHost: l\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /balance/1 HTTP/1.1\r\nHost: l\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "GET /balance/1 HTTP/1.1\r\nHost: l\r\nX-A: a\r\n b\r\n\r\n",
      "GET /balance/1 HTTP/1.1\nHost: l\n\n",
  };
  for (const auto& req : bad) {
    ConnectResult r = connectFrom(checkout_.netnsPath(), kVip, 80, req, 5s);
    EXPECT_EQ(r.reply.rfind("HTTP/1.1 400", 0), 0u) << "request: " << req << "\nreply: " << r.reply;
  }
  EXPECT_TRUE(app_->seen().empty());
}

TEST_F(WaypointTest, TheWireCarriesOnlyTlsOnBothHops) {
  auto underlay = PacketCapture::start(node(0).nodeNetns(), cluster_->underlayInterface(0), "tcp");
  ASSERT_TRUE(underlay) << underlay.error().message;
  auto bridge = PacketCapture::start(node(0).nodeNetns(), "wbr0", "tcp");
  ASSERT_TRUE(bridge) << bridge.error().message;
  const std::string secret = "/balance/secret-5e2b91";
  std::string out = curl({"-w", "%{http_code}", "http://" + std::string(kVip) + secret});
  EXPECT_NE(out.find("200"), std::string::npos) << out;
  for (auto* cap : {&underlay, &bridge}) {
    std::string pcap = (**cap)->stop();
    EXPECT_EQ(countOccurrences(pcap, "secret-5e2b91"), 0u) << "the request crossed in clear";
    auto flows = tcpPayloadsByDirection(pcap);
    ASSERT_TRUE(flows) << flows.error().message;
    bool sawHbone = false;
    for (const auto& [dir, bytes] : *flows) {
      EXPECT_EQ(dir.find(":8080"), std::string::npos) << dir << ": plaintext to the app's port";
      EXPECT_EQ(dir.find(std::string(kVip)), std::string::npos) << dir;
      if (dir.find(":15008") != std::string::npos) sawHbone |= hasTlsRecords(bytes) || startsWithTlsHandshake(bytes);
    }
    EXPECT_TRUE(sawHbone);
  }
}

TEST_F(WaypointTest, APodOutsideTheMeshCannotGoAroundTheWaypoint) {
  node(0).writeNamespace("plain", {});
  Pod legacy = node(0).addPod("plain", "legacy", "10.244.1.60");
  ASSERT_FALSE(isEnrolled(node(0).pinRoot(), legacy.netnsPath()));
  // Plaintext straight to ledger's pod IP: ledger's tunnel captures it and refuses
  // it, because ledger takes traffic only through its waypoint.
  std::string out;
  int rc = runCommand({"nsenter", "--net=" + legacy.netnsPath(), "curl", "-sS", "--max-time", "5", "-w", "%{http_code}",
                       "http://" + ledger_.ip + ":8080/admin/users"},
                      &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_TRUE(app_->seen().empty());
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& e : accessLog(node(1)))
          if (e["direction"] == "inbound" && e.value("verdict", "") == "deny" &&
              e.value("policy_reason", "").find("bound to waypoint") != std::string::npos)
            return true;
        return false;
      },
      5s))
      << node(1).logTail("tunnel");
}

TEST_F(WaypointTest, AWaypointThatIsDownFailsTheRequestNeverBypassesIt) {
  ASSERT_NE(curl({"-w", "%{http_code}", "http://" + std::string(kVip) + "/balance/1"}).find("200"), std::string::npos);
  node(0).stopWaypoint(SIGTERM);
  std::string out = curl({"-w", "%{http_code}", "http://" + std::string(kVip) + "/balance/2"});
  EXPECT_NE(lastCurlStatus_, 0) << out;
  out = curl({"-w", "%{http_code}", "http://" + ledger_.ip + ":8080/balance/3"});
  EXPECT_NE(lastCurlStatus_, 0) << out;
  EXPECT_EQ(app_->seen(), std::vector<std::string>{"GET /balance/1"});
}

}  // namespace
}  // namespace warren::e2e
