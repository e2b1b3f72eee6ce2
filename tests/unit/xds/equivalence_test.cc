// The two sources must agree: a cluster written as YAML (Pods, a Service, Istio
// AuthorizationPolicies) and the same cluster as istiod would send it over delta
// ADS must give the tunnel the same state, and so the same decisions.

#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "authz/authorize.h"
#include "io/tcp.h"
#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "state/state_json.h"
#include "tests/support/xds_server.h"
#include "tests/unit/xds/xds_test_util.h"
#include "tunnel/proxy/decisions.h"
#include "xds/resource_cache.h"
#include "xds/xds_client.h"

namespace warren::xds {
namespace {

using namespace std::chrono_literals;
using namespace xdstest;

const char* kYaml = R"(
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: mesh, uid: uid-server, labels: {app: server}}
spec: {serviceAccountName: server, nodeName: node2}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh, uid: uid-client}
spec: {serviceAccountName: client, nodeName: node1}
status: {podIP: 10.1.0.20}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: mesh}
spec: {clusterIP: 10.96.0.10, selector: {app: server}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: mesh, labels: {istio.io/waypoint-for: all}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: mesh}
spec:
  clusterIP: 10.96.0.15
  selector: {gateway.networking.k8s.io/gateway-name: waypoint}
  ports: [{port: 15008}]
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: mesh, uid: uid-waypoint, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint, nodeName: node1}
status: {podIP: 10.1.0.15}
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: mesh, labels: {istio.io/use-waypoint: waypoint}}
spec: {clusterIP: 10.96.0.30, selector: {app: ledger}, ports: [{port: 80, targetPort: 8080, appProtocol: grpc}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger, namespace: mesh, uid: uid-ledger, labels: {app: ledger, istio.io/use-waypoint: waypoint}}
spec: {serviceAccountName: ledger, nodeName: node2}
status: {podIP: 10.1.0.30}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: mesh}
spec:
  selector: {matchLabels: {app: server}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/mesh/sa/client"]}}]
    to: [{operation: {ports: ["8080"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-range, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {ipBlocks: ["10.9.0.0/16"]}}]}]
)";

// The same cluster in Istio's workload API, as istiod converts it.
std::map<std::string, google::protobuf::Any> addresses() {
  auto server = workload("uid-server", "10.1.0.10", "mesh");
  server.set_name("server");
  server.set_service_account("server");
  server.set_node("node2");
  auto* ports = (*server.mutable_services())["mesh/server.mesh.svc.cluster.local"].add_ports();
  ports->set_service_port(80);
  ports->set_target_port(8080);
  server.add_authorization_policies("mesh/allow-client");
  auto client = workload("uid-client", "10.1.0.20", "mesh");
  client.set_name("client");
  client.set_service_account("client");
  client.set_node("node1");
  // The waypoint: a Service and its pod, which istiod marks as speaking HBONE
  // itself. Nothing on them says "waypoint"; the objects bound to it point at it,
  // the service by the waypoint's hostname, the pod (as istiod may) by its VIP.
  auto waypointSvc = service("waypoint", "mesh", "10.96.0.15");
  waypointSvc.mutable_ports(0)->set_service_port(15008);
  waypointSvc.mutable_ports(0)->set_target_port(15008);
  auto waypoint = workload("uid-waypoint", "10.1.0.15", "mesh");
  waypoint.set_name("waypoint-0");
  waypoint.set_service_account("waypoint");
  waypoint.set_node("node1");
  waypoint.set_native_tunnel(true);
  auto* wpPorts = (*waypoint.mutable_services())["mesh/waypoint.mesh.svc.cluster.local"].add_ports();
  wpPorts->set_service_port(15008);
  wpPorts->set_target_port(15008);
  auto ledgerSvc = service("ledger", "mesh", "10.96.0.30");
  ledgerSvc.mutable_waypoint()->mutable_hostname()->set_namespace_("mesh");
  ledgerSvc.mutable_waypoint()->mutable_hostname()->set_hostname("waypoint.mesh.svc.cluster.local");
  ledgerSvc.mutable_waypoint()->set_hbone_mtls_port(15008);
  ledgerSvc.mutable_ports(0)->set_app_protocol(istio::workload::GRPC);
  auto ledger = workload("uid-ledger", "10.1.0.30", "mesh");
  ledger.set_name("ledger");
  ledger.set_service_account("ledger");
  ledger.set_node("node2");
  auto* ledgerPorts = (*ledger.mutable_services())["mesh/ledger.mesh.svc.cluster.local"].add_ports();
  ledgerPorts->set_service_port(80);
  ledgerPorts->set_target_port(8080);
  ledger.mutable_waypoint()->mutable_address()->set_address(ipBytes("10.96.0.15"));
  ledger.mutable_waypoint()->set_hbone_mtls_port(15008);
  return {{"uid-server", packAddress(server)},
          {"uid-client", packAddress(client)},
          {"uid-waypoint", packAddress(waypoint)},
          {"uid-ledger", packAddress(ledger)},
          {"mesh/server.mesh.svc.cluster.local", packAddress(service("server", "mesh", "10.96.0.10"))},
          {"mesh/waypoint.mesh.svc.cluster.local", packAddress(waypointSvc)},
          {"mesh/ledger.mesh.svc.cluster.local", packAddress(ledgerSvc)}};
}

std::map<std::string, google::protobuf::Any> policies() {
  istio::security::Authorization allow;
  allow.set_name("allow-client");
  allow.set_namespace_("mesh");
  allow.set_scope(istio::security::WORKLOAD_SELECTOR);
  allow.set_action(istio::security::ALLOW);
  auto* group = allow.add_groups();
  group->add_rules()->add_matches()->add_principals()->set_exact("spiffe://cluster.local/ns/mesh/sa/client");
  group->add_rules()->add_matches()->add_destination_ports(8080);
  istio::security::Authorization deny;
  deny.set_name("deny-range");
  deny.set_namespace_("istio-system");
  deny.set_scope(istio::security::GLOBAL);
  deny.set_action(istio::security::DENY);
  auto* ip = deny.add_groups()->add_rules()->add_matches()->add_source_ips();
  ip->set_address(ipBytes("10.9.0.0"));
  ip->set_length(16);
  return {{"mesh/allow-client", packPolicy(allow)}, {"istio-system/deny-range", packPolicy(deny)}};
}

// What only one source can know is left out: labels and PeerAuthentication come
// from YAML only (istiod sends STRICT as converted policies), and the reason text
// for capture names the source's own rule. So does what makes a Service a
// waypoint (its Gateway's istio.io/waypoint-for, which istiod never sends). And a
// waypoint's own pod differs in `captured`: the YAML source leaves it to carry
// HBONE itself (its node's tunnel does not capture it), istiod says it takes HBONE
// (tunnel_protocol HBONE, native_tunnel); traffic through the waypoint does not
// depend on it (see the routing below).
nlohmann::json comparable(const state::ClusterState& st) {
  auto j = state::toJson(st);
  for (auto& w : j["workloads"]) {
    w.erase("labels");
    w.erase("capture_reason");
    w.erase("peer_authentication");
    if (w["uid"] == "uid-waypoint") w.erase("captured");
  }
  for (auto& s : j["services"]) s.erase("waypoint_for");
  for (auto& p : j["policies"]) p.erase("notes");
  return j;
}

TEST(SourceEquivalence, XdsAndYamlGiveTheSameStateAndDecisions) {
  source::Snapshot snap;
  source::loadDocuments(kYaml, "cluster.yaml", snap);
  ASSERT_TRUE(snap.errors.empty()) << snap.errors.front().message;
  auto fromYaml = state::stateFromSnapshot(snap, {});

  auto server = testxds::XdsTestServer::start();
  ASSERT_TRUE(server);
  server->push(kAddressType, addresses());
  server->push(kAuthorizationType, policies());
  std::mutex mu;
  std::condition_variable cv;
  state::ClusterStatePtr fromXds;
  XdsOptions o;
  o.address = server->address();
  o.nodeId = "ztunnel~10.0.0.9~t.istio-system~istio-system.svc.cluster.local";
  auto client = XdsClient::start(o, [&](state::ClusterStatePtr s) {
    std::lock_guard lock(mu);
    // Both types arrive as separate responses: wait for the state holding both.
    if (s->workloads().size() == 4 && s->services().size() == 3 && s->policies().size() == 2) fromXds = std::move(s);
    cv.notify_all();
  });
  ASSERT_TRUE(client.ok()) << client.error().message;
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return fromXds != nullptr; }));
  }
  EXPECT_EQ(comparable(*fromXds).dump(2), comparable(*fromYaml).dump(2));

  // And the data path's decisions agree, routing and authorization alike.
  for (const auto* st : {fromYaml.get(), fromXds.get()}) {
    SCOPED_TRACE(st == fromYaml.get() ? "yaml" : "xds");
    sockaddr_storage vip = *warren::io::parseHostPort("10.96.0.10:80");
    auto route = proxy::decideOutbound(vip, *st);
    EXPECT_EQ(route.kind, proxy::OutboundRoute::Kind::Hbone);
    EXPECT_EQ(route.authority, "10.1.0.10:8080");
    EXPECT_EQ(route.expectedIdentity.uri(), "spiffe://cluster.local/ns/mesh/sa/server");
    const auto* dst = st->findByIp("10.1.0.10");
    ASSERT_NE(dst, nullptr);
    auto client = identity::SpiffeId::parse("spiffe://cluster.local/ns/mesh/sa/client");
    auto other = identity::SpiffeId::parse("spiffe://cluster.local/ns/mesh/sa/other");
    EXPECT_TRUE(authz::authorize(*st, *dst, {"10.1.0.20", *client, "10.1.0.10", 8080}).allowed);
    EXPECT_FALSE(authz::authorize(*st, *dst, {"10.1.0.20", *client, "10.1.0.10", 9090}).allowed);
    EXPECT_FALSE(authz::authorize(*st, *dst, {"10.1.0.21", *other, "10.1.0.10", 8080}).allowed);
    auto denied = authz::authorize(*st, *dst, {"10.9.1.1", *client, "10.1.0.10", 8080});
    EXPECT_FALSE(denied.allowed);
    EXPECT_EQ(denied.policy, "istio-system/deny-range");

    // Through the waypoint: the bound service's VIP and the bound pod's own IP.
    const auto* clientPod = st->findByIp("10.1.0.20");
    ASSERT_NE(clientPod, nullptr);
    for (const char* dialed : {"10.96.0.30:80", "10.1.0.30:8080"}) {
      SCOPED_TRACE(dialed);
      auto viaWaypoint = proxy::decideOutbound(*warren::io::parseHostPort(dialed), *st, 0, clientPod);
      ASSERT_EQ(viaWaypoint.kind, proxy::OutboundRoute::Kind::Hbone) << viaWaypoint.reason;
      EXPECT_EQ(viaWaypoint.waypoint, "mesh/waypoint.mesh.svc.cluster.local");
      EXPECT_EQ(warren::io::formatSockaddr(viaWaypoint.target), "10.1.0.15:15008");
      EXPECT_EQ(viaWaypoint.authority, dialed);
      EXPECT_EQ(viaWaypoint.expectedIdentity.uri(), "spiffe://cluster.local/ns/mesh/sa/waypoint");
    }
    // The waypoint's own traffic goes to the endpoint.
    auto fromWaypoint =
        proxy::decideOutbound(*warren::io::parseHostPort("10.96.0.30:80"), *st, 0, st->findByIp("10.1.0.15"));
    ASSERT_EQ(fromWaypoint.kind, proxy::OutboundRoute::Kind::Hbone) << fromWaypoint.reason;
    EXPECT_TRUE(fromWaypoint.waypoint.empty());
    EXPECT_EQ(fromWaypoint.authority, "10.1.0.30:8080");
    // Unbound traffic still goes straight to its endpoint.
    EXPECT_TRUE(proxy::decideOutbound(vip, *st, 0, clientPod).waypoint.empty());
  }
}

}  // namespace
}  // namespace warren::xds
