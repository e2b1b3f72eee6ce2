// The waypoint's decisions without sockets: which CONNECT streams it takes, how a
// request's path is normalised, and what it does with each request.

#include "waypoint/proxy/request_plan.h"

#include <gtest/gtest.h>

#include "io/tcp.h"
#include "source/yaml_source.h"
#include "state/from_snapshot.h"

namespace warren::waypoint {
namespace {

// payments: namespace bound to waypoint payments/waypoint (pod 10.244.1.50);
// ledger service 10.96.0.20:80 -> pod 10.244.2.20:8080; shop/web (10.244.3.5,
// service 10.96.0.30) is not bound; payments/vault (10.96.0.40) has no endpoints. Policies: ALLOW GET /balance/* from
// checkout.
const char* kCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {warren.io/mode: enabled, istio.io/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.io/mode: enabled}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: payments, labels: {istio.io/waypoint-for: all}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: payments}
spec: {clusterIP: 10.96.0.20, selector: {app: ledger}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ledger-grpc, namespace: payments}
spec: {clusterIP: 10.96.0.21, selector: {app: ledger}, ports: [{name: grpc-api, port: 9090, targetPort: 19090}]}
---
apiVersion: v1
kind: Service
metadata: {name: vault, namespace: payments}
spec: {clusterIP: 10.96.0.40, selector: {app: vault}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.30, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger, namespace: payments, labels: {app: ledger}}
spec: {serviceAccountName: ledger}
status: {podIP: 10.244.2.20}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: payments, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
status: {podIP: 10.244.1.50}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {serviceAccountName: web}
status: {podIP: 10.244.3.5}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: read, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules:
  - from: [{source: {principals: ["cluster.local/ns/payments/sa/checkout"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/balance/*"]}}]
)";

state::ClusterStatePtr cluster() {
  source::Snapshot snap;
  source::loadDocuments(kCluster, "cluster.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  return state::stateFromSnapshot(snap, {});
}

const Self& self() {
  static Self s = makeSelf("payments", "waypoint", "cluster.local");
  return s;
}

hbone::Headers connect(const std::string& authority) { return {{":method", "CONNECT"}, {":authority", authority}}; }

TEST(JudgeWaypointStream, TakesOnlyDestinationsBoundToItself) {
  auto st = cluster();
  EXPECT_EQ(judgeWaypointStream(connect("10.96.0.20:80"), *st, self()).status, 200);
  EXPECT_EQ(judgeWaypointStream(connect("10.244.2.20:8080"), *st, self()).status, 200);
  // Not an open relay: an unbound service, an unbound pod, an unknown address.
  for (const char* a : {"10.96.0.30:80", "10.244.3.5:80", "192.0.2.1:80"}) {
    auto v = judgeWaypointStream(connect(a), *st, self());
    EXPECT_EQ(v.status, 400) << a;
    EXPECT_NE(v.reason.find("not a service or workload bound"), std::string::npos) << v.reason;
  }
  EXPECT_EQ(judgeWaypointStream({{":method", "GET"}, {":authority", "10.96.0.20:80"}}, *st, self()).status, 400);
  EXPECT_EQ(judgeWaypointStream(connect("ledger:80"), *st, self()).status, 400);
}

TEST(NormalizePath, RemovesDotSegmentsAndRefusesClimbingAboveTheRoot) {
  struct Case {
    const char* in;
    std::optional<std::string> out;
  };
  const Case cases[] = {
      {"/", "/"},
      {"/balance/1", "/balance/1"},
      {"/balance/../admin/x", "/admin/x"},
      {"/a/./b", "/a/b"},
      {"/a/b/..", "/a/"},
      {"/a/.", "/a/"},
      {"/a//b", "/a//b"},  // Istio's default keeps merged slashes as they are
      {"/..", std::nullopt},
      {"/a/../..", std::nullopt},
      {"a/b", std::nullopt},
      {"", std::nullopt},
      {"/balance/..%2fadmin", std::nullopt},  // an escaped slash: refused, never guessed
      {"/balance/%5C..%5Cadmin", std::nullopt},
      {"/balance/a%20b", "/balance/a%20b"},
  };
  for (const auto& c : cases) EXPECT_EQ(normalizePath(c.in), c.out) << c.in;
}

http1::MessageHead get(const std::string& path, const std::string& method = "GET") {
  http1::MessageHead h;
  h.method = method;
  h.target = path;
  h.path = path.substr(0, path.find('?'));
  h.host = "ledger.payments";
  h.headers = {{"host", "ledger.payments"}};
  return h;
}

StreamFacts fromCheckout(const char* dst = "10.96.0.20:80") {
  StreamFacts f;
  f.peerIp = "10.244.1.10";
  f.peerIdentity = *identity::SpiffeId::parse("spiffe://cluster.local/ns/payments/sa/checkout");
  f.destination = *io::parseHostPort(dst);
  return f;
}

TEST(PlanRequest, AllowedRequestGoesOverHboneToAnEndpointNotBackToTheWaypoint) {
  auto st = cluster();
  auto p = planRequest(*st, self(), fromCheckout(), get("/balance/1?x=1"), 0);
  ASSERT_EQ(p.action, RequestPlan::Action::Forward) << p.decision.reason;
  EXPECT_EQ(p.decision.policy, "payments/read");
  EXPECT_EQ(p.route.kind, proxy::OutboundRoute::Kind::Hbone);
  EXPECT_EQ(io::formatSockaddr(p.route.target), "10.244.2.20:15008");
  EXPECT_EQ(p.route.authority, "10.244.2.20:8080");
  EXPECT_TRUE(p.route.waypoint.empty());
  EXPECT_EQ(p.dstServiceName, "ledger");
  EXPECT_EQ(p.dstPrincipal, "spiffe://cluster.local/ns/payments/sa/ledger");
  EXPECT_EQ(p.path, "/balance/1");
}

TEST(DestinationAppProtocol, AVipByItsPortAPodByTheServicePortTargetingIt) {
  auto st = cluster();
  EXPECT_EQ(destinationAppProtocol(*st, fromCheckout("10.96.0.21:9090")), state::AppProtocol::Grpc);
  EXPECT_EQ(destinationAppProtocol(*st, fromCheckout("10.96.0.21:80")), state::AppProtocol::Unknown);
  EXPECT_EQ(destinationAppProtocol(*st, fromCheckout("10.96.0.20:80")), state::AppProtocol::Unknown);  // unnamed
  EXPECT_EQ(destinationAppProtocol(*st, fromCheckout("10.244.2.20:19090")), state::AppProtocol::Grpc);
  EXPECT_EQ(destinationAppProtocol(*st, fromCheckout("10.244.2.20:9090")), state::AppProtocol::Unknown);
  EXPECT_EQ(destinationAppProtocol(*st, fromCheckout("10.244.9.9:19090")), state::AppProtocol::Unknown);
  // The plan carries it, for the session to pick its upstream's HTTP version.
  auto p = planRequest(*st, self(), fromCheckout("10.96.0.21:9090"), get("/balance/1"), 0);
  EXPECT_EQ(p.appProtocol, state::AppProtocol::Grpc);
}

TEST(PlanRequest, DeniedRequestIs403RbacAccessDeniedWithFlagRbac) {
  auto st = cluster();
  for (const auto& head : {get("/admin/x"), get("/balance/1", "DELETE"), get("/balance/../admin")}) {
    auto p = planRequest(*st, self(), fromCheckout(), head, 0);
    EXPECT_EQ(p.action, RequestPlan::Action::Reject) << head.method << " " << head.path;
    EXPECT_EQ(p.status, 403);
    EXPECT_EQ(p.body, "RBAC: access denied");
    EXPECT_EQ(p.responseFlags, "RBAC");
  }
  StreamFacts other = fromCheckout();
  other.peerIdentity = *identity::SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/web");
  EXPECT_EQ(planRequest(*st, self(), other, get("/balance/1"), 0).status, 403);
}

TEST(PlanRequest, APodAddressedDirectlyMeetsItsServicesPolicies) {
  auto st = cluster();
  auto p = planRequest(*st, self(), fromCheckout("10.244.2.20:8080"), get("/admin"), 0);
  EXPECT_EQ(p.status, 403);
  p = planRequest(*st, self(), fromCheckout("10.244.2.20:8080"), get("/balance/2"), 0);
  EXPECT_EQ(p.action, RequestPlan::Action::Forward);
  EXPECT_EQ(p.route.authority, "10.244.2.20:8080");
}

TEST(PlanRequest, AnAllowedRequestWithNoEndpointIs503AndSaysWhyNotWhyAllowed) {
  auto st = cluster();
  auto p = planRequest(*st, self(), fromCheckout("10.96.0.40:80"), get("/balance/1"), 0);
  EXPECT_EQ(p.status, 503);
  EXPECT_EQ(p.body, "no healthy upstream");
  EXPECT_EQ(p.responseFlags, "UH");
  EXPECT_EQ(p.decision.reason.rfind("no route: ", 0), 0u) << p.decision.reason;
}

TEST(PlanRequest, AnUnnormalisablePathIs400) {
  auto st = cluster();
  auto p = planRequest(*st, self(), fromCheckout(), get("/../etc/passwd"), 0);
  EXPECT_EQ(p.status, 400);
  EXPECT_EQ(p.responseFlags, "DPE");
}

}  // namespace
}  // namespace warren::waypoint
