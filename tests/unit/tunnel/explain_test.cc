// `warrenctl explain`'s engine: the data path's own decisions, walked for one
// connection over a state loaded from operator-written YAML.

#include "tunnel/proxy/explain.h"

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tests/support/waypoint_cluster.h"

namespace warren::proxy {
namespace {

const char* kCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {serviceAccountName: web}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: scraper, namespace: shop}
spec: {serviceAccountName: scraper}
status: {podIP: 10.1.0.6}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {serviceAccountName: db}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: shop, labels: {app: db, zone: b}}
spec: {serviceAccountName: db}
status: {podIP: 10.1.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: cron, namespace: legacy}
status: {podIP: 10.2.0.7}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: 10.96.0.20, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/web", "cluster.local/ns/shop/sa/scraper"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-scraper-in-b, namespace: shop}
spec:
  selector: {matchLabels: {zone: b}}
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/scraper"]}}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
)";

state::ClusterStatePtr cluster() {
  source::Snapshot snap;
  source::loadDocuments(kCluster, "cluster.yaml", snap);
  EXPECT_TRUE(snap.errors.empty()) << snap.errors.front().message;
  return state::stateFromSnapshot(snap, {});
}

TEST(Explain, AllowedOverHboneNamesThePolicyAndRule) {
  auto j = explainConnection(*cluster(), "shop/web", "10.1.0.10:5432");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["verdict"], "allow");
  EXPECT_EQ((*j)["source"]["identity"], "spiffe://cluster.local/ns/shop/sa/web");
  const auto& p = (*j)["paths"][0];
  EXPECT_EQ(p["route"], "hbone");
  EXPECT_EQ(p["expected_identity"], "spiffe://cluster.local/ns/shop/sa/db");
  EXPECT_EQ(p["via"], "10.1.0.10:15008");
  EXPECT_EQ(p["authorization"]["policy"], "shop/db-from-web");
  EXPECT_EQ(p["authorization"]["rule"], 0);
}

TEST(Explain, DeniedWhenNoAllowRuleMatches) {
  // By IP rather than name: the same workload.
  auto j = explainConnection(*cluster(), "10.2.0.7", "10.1.0.10:5432");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["verdict"], "deny");
  EXPECT_EQ((*j)["source"]["captured"], false);
  const auto& p = (*j)["paths"][0];
  EXPECT_EQ(p["route"], "direct");
  EXPECT_EQ(p["authorization"]["evaluated_by"], "destination tunnel, plaintext inbound (no identity)");
  // STRICT comes first for a plaintext client.
  EXPECT_EQ(p["authorization"]["policy"], "istio-system/default");
}

TEST(Explain, AServiceIsJudgedPerEndpoint) {
  auto st = cluster();
  auto j = explainConnection(*st, "shop/scraper", "10.96.0.20:5432");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["verdict"], "depends on the endpoint");
  ASSERT_EQ((*j)["paths"].size(), 2u);
  std::map<std::string, bool> byEndpoint;
  for (const auto& p : (*j)["paths"]) {
    EXPECT_EQ(p["service"], "db.shop.svc.cluster.local");
    byEndpoint[p["destination_workload"]] = p["allowed"];
  }
  EXPECT_TRUE(byEndpoint.at("shop/db-0"));
  EXPECT_FALSE(byEndpoint.at("shop/db-1"));  // the zone-b DENY
  EXPECT_EQ(explainConnection(*st, "shop/web", "10.96.0.20:5432")->at("verdict"), "allow");
}

TEST(Explain, NonMeshDestinationIsPassthroughAndBadInputIsAnError) {
  auto st = cluster();
  auto j = explainConnection(*st, "shop/web", "10.2.0.7:80");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["paths"][0]["route"], "passthrough");
  EXPECT_EQ((*j)["verdict"], "allow");
  EXPECT_FALSE(explainConnection(*st, "shop/nosuch", "10.1.0.10:5432").ok());
  EXPECT_FALSE(explainConnection(*st, "shop/web", "10.1.0.10").ok());
  // A service port it does not have: refused by the source tunnel.
  auto refused = explainConnection(*st, "shop/web", "10.96.0.20:80");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)["paths"][0]["route"], "refuse");
  EXPECT_EQ((*refused)["verdict"], "deny");
}

// ---- waypoints (tests/support/waypoint_cluster.h) ------------------------------

state::ClusterStatePtr waypointCluster(std::string yaml = testdata::kWaypointCluster) {
  source::Snapshot snap;
  source::loadDocuments(yaml, "cluster.yaml", snap);
  EXPECT_TRUE(snap.errors.empty()) << snap.errors.front().message;
  return state::stateFromSnapshot(snap, {});
}

constexpr const char* kWaypoint = "payments/waypoint.payments.svc.cluster.local";

std::vector<std::string> policyNames(const nlohmann::json& waypoint) {
  std::vector<std::string> out;
  for (const auto& p : waypoint["policies"]) out.push_back(p["policy"]);
  return out;
}

TEST(ExplainWaypoint, AServiceBoundToAWaypointShowsItItsPoliciesAndTheOnwardHop) {
  auto j = explainConnection(*waypointCluster(), "payments/checkout", "10.96.0.20:80");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["verdict"], "depends on the request") << j->dump(2);
  ASSERT_EQ((*j)["paths"].size(), 1u);
  const auto& p = (*j)["paths"][0];
  // First hop: the source tunnel to the waypoint, the VIP still the authority.
  EXPECT_EQ(p["route"], "hbone");
  EXPECT_EQ(p["via"], "10.244.1.50:15008");
  EXPECT_EQ(p["authority"], "10.96.0.20:80");
  EXPECT_EQ(p["expected_identity"], "spiffe://cluster.local/ns/payments/sa/waypoint");
  EXPECT_EQ(p["service"], "ledger.payments.svc.cluster.local");
  const auto& wp = p["waypoint"];
  EXPECT_EQ(wp["service"], kWaypoint);
  EXPECT_EQ(wp["known"], true);
  EXPECT_EQ(wp["endpoint"], "payments/waypoint-abc");
  EXPECT_EQ(wp["via"], "10.244.1.50:15008");
  // Those on its Gateway and those on the Service dialed, in key order.
  EXPECT_EQ(policyNames(wp),
            (std::vector<std::string>{"payments/broken", "payments/ledger-get", "payments/ledger-no-delete"}));
  const auto& broken = wp["policies"][0];
  EXPECT_EQ(broken["action"], "DENY");
  EXPECT_EQ(broken["targets"], "Gateway payments/waypoint");
  ASSERT_EQ(broken["notes"].size(), 1u);
  EXPECT_EQ(wp["policies"][1]["rules"], 1);
  EXPECT_EQ(wp["policies"][2]["targets"], "Service payments/ledger");
  EXPECT_NE(wp["note"].get<std::string>().find("judged per request at the waypoint"), std::string::npos);
  // Then the waypoint's own connection, judged by the destination with its identity.
  EXPECT_EQ(p["onward"]["route"], "hbone");
  EXPECT_EQ(p["onward"]["via"], "10.244.2.20:15008");
  EXPECT_EQ(p["onward"]["authority"], "10.244.2.20:8080");
  EXPECT_EQ(p["destination_workload"], "payments/ledger-0");
  EXPECT_EQ(p["authorization"]["evaluated_by"], "destination tunnel, HBONE from the waypoint (its identity)");
  EXPECT_EQ(p["authorization"]["policy"], "payments/ledger-from-waypoint");
  EXPECT_EQ(p["allowed"], true);
}

TEST(ExplainWaypoint, APodBoundByItsOwnLabelGetsOnlyTheWaypointsPolicies) {
  auto j = explainConnection(*waypointCluster(), "payments/checkout", "10.244.2.30:8080");
  ASSERT_TRUE(j.ok()) << j.error().message;
  const auto& p = (*j)["paths"][0];
  EXPECT_EQ(p["via"], "10.244.1.50:15008");
  EXPECT_EQ(p["authority"], "10.244.2.30:8080");
  // No Service was dialed: the Service-targeted policy does not apply.
  EXPECT_EQ(policyNames(p["waypoint"]), (std::vector<std::string>{"payments/broken", "payments/ledger-get"}));
  EXPECT_EQ(p["onward"]["via"], "10.244.2.30:15008");
  EXPECT_EQ(p["destination_workload"], "payments/audit-0");
  EXPECT_EQ((*j)["verdict"], "depends on the request");
}

TEST(ExplainWaypoint, TheWaypointsOwnTrafficGoesStraightToTheDestination) {
  auto j = explainConnection(*waypointCluster(), "payments/waypoint-abc", "10.96.0.20:80");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["source"]["captured"], false);
  EXPECT_EQ((*j)["source"]["waypoint"], kWaypoint);
  const auto& p = (*j)["paths"][0];
  EXPECT_FALSE(p.contains("waypoint")) << p.dump(2);
  EXPECT_EQ(p["route"], "hbone");
  EXPECT_EQ(p["via"], "10.244.2.20:15008");
  EXPECT_EQ(p["authorization"]["policy"], "payments/ledger-from-waypoint");
  EXPECT_EQ((*j)["verdict"], "allow");
}

TEST(ExplainWaypoint, UnboundTrafficIsUnchanged) {
  auto j = explainConnection(*waypointCluster(), "payments/checkout", "10.96.0.30:5432");
  ASSERT_TRUE(j.ok()) << j.error().message;
  const auto& p = (*j)["paths"][0];
  EXPECT_FALSE(p.contains("waypoint"));
  EXPECT_FALSE(p.contains("onward"));
  EXPECT_EQ(p["via"], "10.244.2.40:15008");
  EXPECT_EQ((*j)["verdict"], "allow");
}

TEST(ExplainWaypoint, AMissingWaypointRefusesAndSaysSo) {
  std::string yaml = testdata::kWaypointCluster;
  const std::string label = "labels: {istio.io/use-waypoint: waypoint}}\nspec: {clusterIP: 10.96.0.20";
  ASSERT_NE(yaml.find(label), std::string::npos);
  yaml.replace(yaml.find(label), label.size(), "labels: {istio.io/use-waypoint: gone}}\nspec: {clusterIP: 10.96.0.20");
  auto j = explainConnection(*waypointCluster(yaml), "payments/checkout", "10.96.0.20:80");
  ASSERT_TRUE(j.ok()) << j.error().message;
  const auto& p = (*j)["paths"][0];
  EXPECT_EQ(p["route"], "refuse");
  EXPECT_EQ(p["waypoint"]["service"], "payments/gone.payments.svc.cluster.local");
  EXPECT_EQ(p["waypoint"]["known"], false);
  EXPECT_NE(p["reason"].get<std::string>().find("not known"), std::string::npos) << p["reason"];
  EXPECT_EQ((*j)["verdict"], "deny");
}

TEST(ExplainWaypoint, AWaypointWithoutPoliciesAllows) {
  std::string yaml = testdata::kWaypointCluster;
  yaml = yaml.substr(0, yaml.find("apiVersion: security.istio.io/v1"));  // no policies at all
  auto j = explainConnection(*waypointCluster(yaml), "payments/checkout", "10.96.0.20:80");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_TRUE((*j)["paths"][0]["waypoint"]["policies"].empty());
  EXPECT_EQ((*j)["verdict"], "allow");
}

}  // namespace
}  // namespace warren::proxy
