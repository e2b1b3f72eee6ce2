// Where a captured connection goes, without sockets.

#include "tunnel/proxy/decisions.h"
#include "state/from_snapshot.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/tcp.h"
#include "source/yaml_source.h"
#include "tunnel/proxy/access_log.h"

namespace warren::proxy {
namespace {

sockaddr_storage v4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& in = reinterpret_cast<sockaddr_in&>(ss);
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, ip, &in.sin_addr);
  return ss;
}

sockaddr_storage v6(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6.sin6_addr);
  return ss;
}

// A cluster of three pods: two in an enrolled namespace, one outside the mesh.
const state::ClusterState& cluster() {
  source::Snapshot snap;
  snap.namespaces["mesh"] = {"mesh", {{"warren.io/mode", "enabled"}}};
  snap.namespaces["plain"] = {"plain", {}};
  snap.pods["mesh/server"] = {"uid-s", "server", "mesh", "sa-server", "node2", {}, {"10.244.2.5", "fd00::5"}, true, {}};
  snap.pods["mesh/optout"] = {"uid-o",        "optout", "mesh", "sa-o", "node2", {{"warren.io/mode", "disabled"}},
                              {"10.244.2.6"}, true,     {}};
  snap.pods["plain/web"] = {"uid-w", "web", "plain", "default", "node1", {}, {"10.244.1.9"}, true, {}};
  static auto st = state::stateFromSnapshot(snap, {.trustDomain = "example.org"});
  return *st;
}

std::string text(const sockaddr_storage& ss) { return io::formatSockaddr(ss); }

TEST(DecideOutbound, MeshDestinationGoesOverHboneToItsOwnPodIp) {
  const auto& st = cluster();
  auto r = decideOutbound(v4("10.244.2.5", 8080), st);
  ASSERT_EQ(r.kind, OutboundRoute::Kind::Hbone) << r.reason;
  EXPECT_EQ(text(r.target), "10.244.2.5:15008");
  EXPECT_EQ(r.authority, "10.244.2.5:8080");
  EXPECT_EQ(r.expectedIdentity.uri(), "spiffe://example.org/ns/mesh/sa/sa-server");
  EXPECT_EQ(r.destinationWorkload, "mesh/server");
}

TEST(DecideOutbound, Ipv6MeshDestination) {
  const auto& st = cluster();
  auto r = decideOutbound(v6("fd00::5", 443), st);
  ASSERT_EQ(r.kind, OutboundRoute::Kind::Hbone);
  EXPECT_EQ(text(r.target), "[fd00::5]:15008");
  EXPECT_EQ(r.authority, "[fd00::5]:443");
}

TEST(DecideOutbound, NonMeshAndUnknownDestinationsPassThroughInPlaintext) {
  const auto& st = cluster();
  for (const char* ip : {"10.244.1.9", "10.244.2.6", "192.0.2.1"}) {
    auto r = decideOutbound(v4(ip, 80), st);
    EXPECT_EQ(r.kind, OutboundRoute::Kind::Passthrough) << ip;
    EXPECT_EQ(text(r.target), std::string(ip) + ":80");
    EXPECT_FALSE(r.reason.empty());
  }
  EXPECT_NE(decideOutbound(v4("10.244.2.6", 80), st).reason.find("not in the mesh"), std::string::npos);
  EXPECT_NE(decideOutbound(v4("192.0.2.1", 80), st).reason.find("not a known workload"), std::string::npos);
}

TEST(DecideOutbound, RefusesPortZeroAndNonIp) {
  const auto& st = cluster();
  EXPECT_EQ(decideOutbound(v4("10.244.2.5", 0), st).kind, OutboundRoute::Kind::Refuse);
  sockaddr_storage unix{};
  unix.ss_family = AF_UNIX;
  EXPECT_EQ(decideOutbound(unix, st).kind, OutboundRoute::Kind::Refuse);
}

TEST(ClusterState, IndexesEveryIpAndDefaultsTheServiceAccount) {
  source::Snapshot snap;
  snap.pods["a/p"] = {"", "p", "a", "", "", {}, {"10.0.0.1", "fd00::1"}, true, {}};
  auto stp = state::stateFromSnapshot(snap, {});
  const auto& st = *stp;
  const auto* w = st.findByIp("fd00::1");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->identity.uri(), "spiffe://cluster.local/ns/a/sa/default");
  EXPECT_FALSE(w->captured);  // namespace unknown: not in the mesh
  EXPECT_EQ(st.findByIp("10.0.0.2"), nullptr);
}

// Inbound, the request names the endpoint: the service is guessed from the port.
TEST(GuessInboundService, ByTargetPortWithTheWorkloadsOwnPortsFirst) {
  state::ClusterState::Builder b;
  state::Service web{"web", "shop", "web.shop.svc.cluster.local", {"10.96.0.10"}, {{80, 8080}, {443, 0}}, "", ""};
  state::Service admin{"admin", "shop", "admin.shop.svc.cluster.local", {"10.96.0.11"}, {{9000, 9090}}, "", ""};
  b.add(web);
  b.add(admin);
  state::Workload w;
  w.uid = "uid-web";
  w.name = "web-0";
  w.ns = "shop";
  w.ips = {"10.244.2.30"};
  w.services[web.key()] = {};                           // the service's own target ports
  w.services[admin.key()] = {{9000, 7070}};             // this pod serves admin on 7070
  w.services["shop/gone.shop.svc.cluster.local"] = {};  // not in the state: ignored
  b.add(w);
  auto st = b.finish();
  const auto& dst = *st->findByIp("10.244.2.30");
  EXPECT_EQ(guessInboundService(*st, dst, 8080), "web.shop.svc.cluster.local");
  EXPECT_EQ(guessInboundService(*st, dst, 443), "web.shop.svc.cluster.local") << "target 0: the service port";
  EXPECT_EQ(guessInboundService(*st, dst, 7070), "admin.shop.svc.cluster.local");
  EXPECT_EQ(guessInboundService(*st, dst, 9090), "") << "the pod's own target port replaces the service's";
  EXPECT_EQ(guessInboundService(*st, dst, 5432), "") << "a port no service maps to";
}

// Waypoints: payments/ledger (service VIP 10.96.0.20:80 -> 8080, and its pod
// 10.244.2.20) is bound to the waypoint payments/waypoint (pod 10.244.1.50, SA
// waypoint); payments/checkout (10.244.1.10) is a client. The Gateway takes
// `all` traffic unless a case says otherwise.
std::string waypointCluster(const std::string& waypointFor = "all", const std::string& bind = "ns",
                            bool waypointPod = true) {
  std::string y = R"(apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {warren.io/mode: enabled)" +
                  std::string(bind == "ns" ? ", istio.io/use-waypoint: waypoint" : "") + R"(}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: payments, labels: {istio.io/waypoint-for: )" +
                  waypointFor + R"(}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: payments)" +
                  std::string(bind == "service" ? ", labels: {istio.io/use-waypoint: waypoint}" : "") + R"(}
spec: {clusterIP: 10.96.0.20, selector: {app: ledger}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger, namespace: payments, labels: {app: ledger)" +
                  std::string(bind == "pod" ? ", istio.io/use-waypoint: waypoint" : "") + R"(}}
spec: {serviceAccountName: ledger}
status: {podIP: 10.244.2.20}
---
apiVersion: v1
kind: Pod
metadata: {name: checkout, namespace: payments}
spec: {serviceAccountName: checkout}
status: {podIP: 10.244.1.10}
)";
  if (waypointPod)
    y += R"(---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-abc, namespace: payments, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
status: {podIP: 10.244.1.50}
)";
  return y;
}

state::ClusterStatePtr loadYaml(const std::string& yaml) {
  source::Snapshot snap;
  source::loadDocuments(yaml, "cluster.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  return state::stateFromSnapshot(snap, {});
}

TEST(DecideOutboundWaypoint, ServiceTrafficGoesToTheWaypointWithTheVipAsAuthority) {
  auto st = loadYaml(waypointCluster());
  auto r = decideOutbound(v4("10.96.0.20", 80), *st, 0, st->findByIp("10.244.1.10"));
  ASSERT_EQ(r.kind, OutboundRoute::Kind::Hbone) << r.reason;
  EXPECT_EQ(text(r.target), "10.244.1.50:15008");
  EXPECT_EQ(r.authority, "10.96.0.20:80");
  EXPECT_EQ(r.expectedIdentity.uri(), "spiffe://cluster.local/ns/payments/sa/waypoint");
  EXPECT_EQ(r.waypoint, "payments/waypoint.payments.svc.cluster.local");
  EXPECT_NE(r.reason.find("uses waypoint"), std::string::npos) << r.reason;
}

TEST(DecideOutboundWaypoint, APodIpDialedDirectlyStillGoesThroughTheWaypoint) {
  auto st = loadYaml(waypointCluster());
  auto r = decideOutbound(v4("10.244.2.20", 8080), *st, 0, st->findByIp("10.244.1.10"));
  ASSERT_EQ(r.kind, OutboundRoute::Kind::Hbone) << r.reason;
  EXPECT_EQ(text(r.target), "10.244.1.50:15008");
  EXPECT_EQ(r.authority, "10.244.2.20:8080");
  EXPECT_EQ(r.destinationWorkload, "payments/ledger");
}

TEST(DecideOutboundWaypoint, TheWaypointsOwnTrafficGoesStraightToTheEndpoint) {
  auto st = loadYaml(waypointCluster());
  const auto* wp = st->findByIp("10.244.1.50");
  ASSERT_NE(wp, nullptr);
  EXPECT_FALSE(wp->captured) << "a waypoint's pod carries HBONE itself";
  auto r = decideOutbound(v4("10.96.0.20", 80), *st, 0, wp);
  ASSERT_EQ(r.kind, OutboundRoute::Kind::Hbone) << r.reason;
  EXPECT_EQ(text(r.target), "10.244.2.20:15008");
  EXPECT_EQ(r.authority, "10.244.2.20:8080");
  EXPECT_EQ(r.expectedIdentity.uri(), "spiffe://cluster.local/ns/payments/sa/ledger");
  EXPECT_TRUE(r.waypoint.empty());
}

TEST(DecideOutboundWaypoint, WaypointForServiceLeavesPodIpTrafficDirectAsIstioDoes) {
  auto st = loadYaml(waypointCluster("service"));
  const auto* client = st->findByIp("10.244.1.10");
  EXPECT_EQ(text(decideOutbound(v4("10.96.0.20", 80), *st, 0, client).target), "10.244.1.50:15008");
  auto direct = decideOutbound(v4("10.244.2.20", 8080), *st, 0, client);
  EXPECT_EQ(text(direct.target), "10.244.2.20:15008");
  EXPECT_TRUE(direct.waypoint.empty());
}

TEST(DecideOutboundWaypoint, ServiceAndPodLabelsBindOnlyWhatTheyLabel) {
  auto bySvc = loadYaml(waypointCluster("all", "service"));
  const auto* client = bySvc->findByIp("10.244.1.10");
  EXPECT_FALSE(decideOutbound(v4("10.96.0.20", 80), *bySvc, 0, client).waypoint.empty());
  EXPECT_TRUE(decideOutbound(v4("10.244.2.20", 8080), *bySvc, 0, client).waypoint.empty());
  auto byPod = loadYaml(waypointCluster("all", "pod"));
  client = byPod->findByIp("10.244.1.10");
  auto viaEndpoint = decideOutbound(v4("10.96.0.20", 80), *byPod, 0, client);
  EXPECT_FALSE(viaEndpoint.waypoint.empty()) << "the service has no waypoint, but its chosen endpoint has one";
  EXPECT_EQ(viaEndpoint.authority, "10.244.2.20:8080");
}

TEST(DecideOutboundWaypoint, AWaypointWithoutEndpointsOrUnknownRefusesNeverBypasses) {
  auto st = loadYaml(waypointCluster("all", "ns", false));
  auto r = decideOutbound(v4("10.96.0.20", 80), *st, 0, st->findByIp("10.244.1.10"));
  EXPECT_EQ(r.kind, OutboundRoute::Kind::Refuse);
  EXPECT_NE(r.reason.find("no ready endpoint"), std::string::npos) << r.reason;

  std::string yaml = waypointCluster();
  yaml.replace(yaml.find("istio.io/use-waypoint: waypoint"), 31, "istio.io/use-waypoint: missing");
  source::Snapshot snap;
  source::loadDocuments(yaml, "cluster.yaml", snap);
  std::vector<Error> notes;
  auto st2 = state::stateFromSnapshot(snap, {}, &notes);
  auto r2 = decideOutbound(v4("10.244.2.20", 8080), *st2, 0, st2->findByIp("10.244.1.10"));
  EXPECT_EQ(r2.kind, OutboundRoute::Kind::Refuse);
  EXPECT_NE(r2.reason.find("not known"), std::string::npos) << r2.reason;
  bool noted = false;
  for (const auto& n : notes) noted |= n.message.find("does not exist") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(DecideOutboundWaypoint, UseWaypointNoneOptsAPodOut) {
  std::string yaml = waypointCluster();
  yaml.replace(yaml.find("labels: {app: ledger}"), 21, "labels: {app: ledger, istio.io/use-waypoint: none}");
  auto st = loadYaml(yaml);
  auto r = decideOutbound(v4("10.244.2.20", 8080), *st, 0, st->findByIp("10.244.1.10"));
  EXPECT_TRUE(r.waypoint.empty()) << r.reason;
  EXPECT_EQ(text(r.target), "10.244.2.20:15008");
}

TEST(DecideInbound, HandsTheConnectionToTheAppOnTheDialedAddress) {
  auto d = decideInbound(v4("10.0.0.2", 8080));
  ASSERT_EQ(d.action, Decision::Action::Forward);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in&>(d.target).sin_port), 8080);
}

TEST(DecideInbound, RefusesTheTunnelsOwnPortsSoNothingLoops) {
  for (uint16_t port : {15001, 15006, 15008}) {
    auto d = decideInbound(v4("10.0.0.2", port));
    EXPECT_EQ(d.action, Decision::Action::Refuse) << port;
    EXPECT_NE(d.reason.find(std::to_string(port)), std::string::npos);
  }
  EXPECT_FALSE(isTunnelPort(8080));
}

TEST(AccessLog, OneJsonObjectWithStableFieldNames) {
  ConnectionRecord r;
  r.direction = "outbound";
  r.protocol = "hbone";
  r.security = "mutual_tls";
  r.pod = "mesh/a";
  r.src = "10.0.0.1:4000";
  r.dst = "10.0.0.2:80";
  r.srcIdentity = "spiffe://cluster.local/ns/mesh/sa/a";
  r.dstIdentity = "spiffe://cluster.local/ns/mesh/sa/b";
  r.srcWorkload = "mesh/a";
  r.dstWorkload = "mesh/b";
  r.dstService = "b.mesh.svc.cluster.local";
  r.via = "10.0.0.2:15008";
  r.status = 200;
  r.bytesSent = 5;
  r.bytesReceived = 7;
  r.duration = std::chrono::milliseconds(12);
  r.endReason = "closed";
  // Fields in the order they are written, which is the order readers see first
  // (what happened, between whom, then how much and how it ended).
  EXPECT_EQ(formatConnection(r),
            R"({"direction":"outbound","protocol":"hbone","security":"mutual_tls","pod":"mesh/a",)"
            R"("src":"10.0.0.1:4000","dst":"10.0.0.2:80","src_identity":"spiffe://cluster.local/ns/mesh/sa/a",)"
            R"("dst_identity":"spiffe://cluster.local/ns/mesh/sa/b","src_workload":"mesh/a","dst_workload":"mesh/b",)"
            R"("dst_service":"b.mesh.svc.cluster.local","bytes_sent":5,"bytes_received":7,"duration_ms":12,)"
            R"("end":"closed","response_flags":"-","via":"10.0.0.2:15008","hbone_status":200})");
}

// An inbound denial names the verdict, the deciding policy and why; AUDIT and
// dry-run findings ride along.
TEST(AccessLog, InboundVerdictFields) {
  ConnectionRecord r;
  r.direction = "inbound";
  r.verdict = "deny";
  r.policy = "mesh/allow-frontend";
  r.policyReason = "denied: no rule of the ALLOW policies that apply (mesh/allow-frontend) matches";
  r.audit = {"mesh/audit-all rules[0]"};
  r.dryRun = {"would deny: denied by DENY policy mesh/x rules[0]"};
  r.responseFlags = "DENY";
  auto j = nlohmann::json::parse(formatConnection(r));
  EXPECT_EQ(j["verdict"], "deny");
  EXPECT_EQ(j["policy"], "mesh/allow-frontend");
  EXPECT_EQ(j["policy_reason"], r.policyReason);
  EXPECT_EQ(j["audit"][0], "mesh/audit-all rules[0]");
  EXPECT_EQ(j["dry_run"][0], r.dryRun[0]);
  EXPECT_EQ(j["response_flags"], "DENY");
  // Without an inbound verdict the fields stay out of the line.
  ConnectionRecord plain;
  EXPECT_FALSE(nlohmann::json::parse(formatConnection(plain)).contains("verdict"));
}

}  // namespace
}  // namespace warren::proxy
