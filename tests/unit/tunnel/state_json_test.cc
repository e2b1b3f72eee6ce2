// The tunnel's state as the config dump shows it: waypoints on workloads and
// services, and the waypoints' (L7) policies in a form that reads like the YAML.

#include "state/state_json.h"

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tests/support/waypoint_cluster.h"

namespace warren::state {
namespace {

nlohmann::json dump() {
  source::Snapshot snap;
  source::loadDocuments(testdata::kWaypointCluster, "cluster.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  return toJson(*stateFromSnapshot(snap, {}));
}

const nlohmann::json& byName(const nlohmann::json& items, const std::string& name) {
  for (const auto& it : items)
    if (it["name"] == name) return it;
  static const nlohmann::json none;
  ADD_FAILURE() << "no " << name;
  return none;
}

constexpr const char* kWaypoint = "payments/waypoint.payments.svc.cluster.local";

TEST(StateJson, WorkloadsAndServicesShowTheirWaypoint) {
  auto j = dump();
  EXPECT_EQ(byName(j["services"], "ledger")["waypoint"], kWaypoint);
  EXPECT_EQ(byName(j["services"], "db")["waypoint"], "");
  EXPECT_FALSE(byName(j["services"], "db").contains("waypoint_for")) << "only on a waypoint";
  EXPECT_EQ(byName(j["workloads"], "audit-0")["waypoint"], kWaypoint);
  EXPECT_EQ(byName(j["workloads"], "ledger-0")["waypoint"], "") << "bound through its service only";
  EXPECT_EQ(byName(j["workloads"], "waypoint-abc")["waypoint"], "") << "a waypoint is never its own";

  const auto& wp = byName(j["services"], "waypoint");
  EXPECT_EQ(wp["waypoint_for"], "all");
  EXPECT_EQ(wp["hostname"], "waypoint.payments.svc.cluster.local");
  EXPECT_EQ(wp["waypoint"], "");
  EXPECT_TRUE(byName(j["workloads"], "waypoint-abc")["services"].contains(kWaypoint));
}

TEST(StateJson, WaypointPoliciesAreListedWithRulesTargetsAndNotes) {
  auto j = dump();
  ASSERT_TRUE(j.contains("waypoint_policies"));
  ASSERT_EQ(j["waypoint_policies"].size(), 3u) << j["waypoint_policies"].dump(2);
  // The tunnel's own (L4) list keeps only its selector policy.
  ASSERT_EQ(j["policies"].size(), 1u);
  EXPECT_EQ(j["policies"][0]["name"], "ledger-from-waypoint");

  const auto& get = byName(j["waypoint_policies"], "ledger-get");
  EXPECT_EQ(get["namespace"], "payments");
  EXPECT_EQ(get["action"], "ALLOW");
  EXPECT_EQ(get["dry_run"], false);
  EXPECT_EQ(get["rule_count"], 1);
  EXPECT_EQ(get["targets"],
            nlohmann::json::parse(R"([{"kind": "Gateway", "namespace": "payments", "name": "waypoint"}])"));
  EXPECT_EQ(get["notes"], nlohmann::json::array());
  EXPECT_NE(get["where"].get<std::string>().find("cluster.yaml"), std::string::npos) << get["where"];
  // Only the fields a rule sets, under Istio's names.
  EXPECT_EQ(get["rules"], nlohmann::json::parse(R"([{
      "from": [{"source": {"principals": ["cluster.local/ns/payments/sa/checkout"]}}],
      "to": [{"operation": {"methods": ["GET"], "paths": ["/api/*"]}}],
      "when": [{"key": "request.headers[x-tenant]", "values": ["acme"]}]}])"))
      << get["rules"].dump(2);

  const auto& noDelete = byName(j["waypoint_policies"], "ledger-no-delete");
  EXPECT_EQ(noDelete["action"], "DENY");
  EXPECT_EQ(noDelete["targets"][0]["kind"], "Service");
  EXPECT_EQ(noDelete["targets"][0]["name"], "ledger");

  // An invalid one is shown as what is enforced (deny-all) and why.
  const auto& broken = byName(j["waypoint_policies"], "broken");
  EXPECT_EQ(broken["action"], "DENY");
  EXPECT_EQ(broken["rules"], nlohmann::json::parse("[{}]"));
  ASSERT_EQ(broken["notes"].size(), 1u);
  EXPECT_NE(broken["notes"][0].get<std::string>().find("path template"), std::string::npos) << broken["notes"];
}

TEST(StateJson, AnEmptyStateHasEverySection) {
  auto j = toJson(*ClusterState::Builder().finish());
  for (const char* section : {"workloads", "services", "policies", "waypoint_policies"}) {
    ASSERT_TRUE(j.contains(section)) << section;
    EXPECT_TRUE(j[section].is_array() && j[section].empty()) << section;
  }
}

}  // namespace
}  // namespace warren::state
