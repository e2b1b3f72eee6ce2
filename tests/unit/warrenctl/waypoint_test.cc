// `warrenctl waypoint list|show` over the tunnel's own config-dump JSON: a state
// built from YAML by the tunnel's code and dumped by its state_json, so the CLI and
// the dump cannot drift apart.

#include "tools/warrenctl/waypoint_commands.h"

#include <set>

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "state/state_json.h"
#include "tests/support/waypoint_cluster.h"
#include "tools/warrenctl/commands.h"
#include "tools/warrenctl/tunnel_commands.h"
#include "tunnel/proxy/explain.h"

namespace warren::ctl {
namespace {

Json stateOf(const std::string& yaml) {
  source::Snapshot snap;
  source::loadDocuments(yaml, "cluster.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  // Through text, as warrenctl gets it.
  return Json::parse(state::toJson(*state::stateFromSnapshot(snap, {})).dump());
}

std::string withLabel(std::string yaml, const std::string& from, const std::string& to) {
  auto at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) yaml.replace(at, from.size(), to);
  return yaml;
}

TEST(WaypointList, OneRowPerWaypointWithWhatIsBoundToIt) {
  auto out = waypointList(stateOf(testdata::kWaypointCluster));
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->json.size(), 1u) << out->json.dump(2);
  const Json& w = out->json[0];
  EXPECT_EQ(w["key"], "payments/waypoint.payments.svc.cluster.local");
  EXPECT_EQ(w["namespace"], "payments");
  EXPECT_EQ(w["name"], "waypoint");
  EXPECT_EQ(w["known"], true);
  EXPECT_EQ(w["waypoint_for"], "all");
  EXPECT_EQ(w["endpoints"], 1);
  EXPECT_EQ(w["ready_endpoints"], 1);
  EXPECT_EQ(w["bound_services"], 1);
  EXPECT_EQ(w["bound_workloads"], 1);
  EXPECT_EQ(w["policies"], 3) << "two on its Gateway, one on the bound service ledger";
  EXPECT_EQ(out->table.render(),
            "NAMESPACE  NAME      TAKES  READY  SERVICES  WORKLOADS  POLICIES  STATUS\n"
            "payments   waypoint  all    1/1    1         1          3         ok\n");
}

TEST(WaypointList, AMissingWaypointIsListedAsRefusingItsTraffic) {
  // db now names a waypoint that does not exist; the real one loses its pod.
  std::string yaml = withLabel(testdata::kWaypointCluster, "metadata: {name: db, namespace: payments}",
                               "metadata: {name: db, namespace: payments, labels: {istio.io/use-waypoint: gone}}");
  yaml = withLabel(yaml, "labels: {gateway.networking.k8s.io/gateway-name: waypoint}", "labels: {app: old}");
  auto out = waypointList(stateOf(yaml));
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->json.size(), 2u) << out->json.dump(2);
  const Json& gone = out->json[0];
  EXPECT_EQ(gone["key"], "payments/gone.payments.svc.cluster.local");
  EXPECT_EQ(gone["name"], "gone");
  EXPECT_EQ(gone["known"], false);
  EXPECT_EQ(gone["bound_services"], 1);
  EXPECT_EQ(out->table.rows[0].back(), "missing (bound traffic refused)");
  EXPECT_EQ(out->json[1]["ready_endpoints"], 0);
  EXPECT_EQ(out->table.rows[1].back(), "no ready endpoint (bound traffic refused)");
}

TEST(WaypointList, AWaypointIsFoundByWhatPointsAtItAsFromXds) {
  // istiod never marks the waypoint itself: no waypoint_for anywhere.
  Json st = Json::parse(R"({
    "services": [
      {"name": "wp", "namespace": "a", "hostname": "wp.a.svc.cluster.local", "vips": ["10.96.0.9"],
       "ports": [], "waypoint": ""},
      {"name": "web", "namespace": "a", "hostname": "web.a.svc.cluster.local", "vips": ["10.96.0.1"],
       "ports": [], "waypoint": "a/wp.a.svc.cluster.local"},
      {"name": "db", "namespace": "a", "hostname": "db.a.svc.cluster.local", "vips": ["10.96.0.2"],
       "ports": [], "waypoint": ""}],
    "workloads": [
      {"uid": "u1", "name": "wp-0", "namespace": "a", "ips": ["10.0.0.9"], "ready": true,
       "services": {"a/wp.a.svc.cluster.local": []}, "waypoint": ""},
      {"uid": "u2", "name": "web-0", "namespace": "a", "ips": ["10.0.0.1"], "ready": true,
       "services": {"a/web.a.svc.cluster.local": []}, "waypoint": ""}],
    "policies": [], "waypoint_policies": []})");
  auto out = waypointList(st);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->json.size(), 1u) << out->json.dump(2);
  EXPECT_EQ(out->json[0]["name"], "wp");
  EXPECT_EQ(out->json[0]["waypoint_for"], "");
  EXPECT_EQ(out->json[0]["ready_endpoints"], 1);
  EXPECT_EQ(out->table.rows[0][2], "-");
  // An older dump without waypoint_policies is read as having none.
  st.erase("waypoint_policies");
  EXPECT_TRUE(waypointList(st).ok());
}

TEST(WaypointShow, EndpointsBoundObjectsAndPoliciesWithRulesAndNotes) {
  const Json st = stateOf(testdata::kWaypointCluster);
  for (const char* word : {"waypoint", "payments/waypoint", "payments/waypoint.payments.svc.cluster.local"}) {
    auto out = waypointShow(st, word);
    ASSERT_TRUE(out.ok()) << word << ": " << out.error().message;
    EXPECT_EQ(out->json["name"], "waypoint") << word;
  }
  auto out = waypointShow(st, "waypoint");
  ASSERT_TRUE(out.ok());
  const Json& j = out->json;
  ASSERT_EQ(j["endpoint_list"].size(), 1u);
  EXPECT_EQ(j["endpoint_list"][0]["workload"], "payments/waypoint-abc");
  EXPECT_EQ(j["endpoint_list"][0]["identity"], "spiffe://cluster.local/ns/payments/sa/waypoint");
  EXPECT_EQ(j["services"], Json::parse(R"([{"service": "payments/ledger.payments.svc.cluster.local",
                                             "vips": ["10.96.0.20"]}])"));
  EXPECT_EQ(j["workloads"], Json::parse(R"([{"workload": "payments/audit-0", "ips": ["10.244.2.30"]}])"));
  std::map<std::string, std::string> via;
  for (const auto& p : j["policy_list"]) via[p["name"]] = p["applies_via"];
  EXPECT_EQ(via,
            (std::map<std::string, std::string>{
                {"broken", "Gateway"}, {"ledger-get", "Gateway"}, {"ledger-no-delete", "Service payments/ledger"}}));

  // The human rendering: the summary, then endpoints, bound objects, policies,
  // their rules and the conversion notes.
  ASSERT_EQ(out->extra.size(), 6u);
  const std::string rules = out->extra[3].render();
  EXPECT_NE(rules.find(R"([{"source":{"principals":["cluster.local/ns/payments/sa/checkout"]}}])"), std::string::npos)
      << rules;
  EXPECT_NE(rules.find(R"([{"key":"request.headers[x-tenant]","values":["acme"]}])"), std::string::npos) << rules;
  const std::string authns = out->extra[4].render();
  EXPECT_NE(authns.find("payments/bank-idp  Service payments/ledger  https://idp.bank.example  "
                        "https://idp.bank.example/keys  header x-jwt prefix 'Bearer '  ok"),
            std::string::npos)
      << authns;
  ASSERT_EQ(j["request_authentication_list"].size(), 1u);
  EXPECT_EQ(j["request_authentication_list"][0]["applies_via"], "Service payments/ledger");
  const std::string notes = out->extra[5].render();
  EXPECT_NE(notes.find("payments/broken"), std::string::npos) << notes;
  EXPECT_NE(notes.find("path template"), std::string::npos) << notes;
  EXPECT_NE(out->extra[2].render().find("payments/ledger-no-delete  Service payments/ledger  DENY"), std::string::npos)
      << out->extra[2].render();
}

TEST(WaypointShow, UnknownOrAmbiguousNamesAreErrors) {
  const Json st = stateOf(testdata::kWaypointCluster);
  auto none = waypointShow(st, "ledger");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no waypoint matches 'ledger'"), std::string::npos);
  Json two = st;
  Json other = two["services"][0];
  for (auto& s : two["services"])
    if (s["name"] == "waypoint") other = s;
  other["namespace"] = "other";
  two["services"].push_back(other);
  auto ambiguous = waypointShow(two, "waypoint");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().message.find("several waypoints"), std::string::npos);
  EXPECT_TRUE(waypointShow(two, "other/waypoint").ok());
}

// ---- the JSON is what the command table documents -------------------------------

void keyPaths(const Json& j, const std::string& prefix, std::set<std::string>& out,
              const std::set<std::string>& stopAt) {
  if (stopAt.count(prefix)) return;  // free-form below (policy rules, JWT rules)
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      std::string p = prefix.empty() ? k : prefix + "." + k;
      out.insert(p);
      keyPaths(v, p, out, stopAt);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) keyPaths(e, prefix + "[]", out, stopAt);
  }
}

std::set<std::string> documented(const std::string& verb) {
  std::set<std::string> fields;
  for (const auto& o : commandTable().objects)
    for (const auto& v : o.verbs)
      if (o.name == "waypoint" && v.name == verb)
        for (const auto& f : v.fields) fields.insert(f.path);
  return fields;
}

TEST(WaypointJson, HasExactlyTheDocumentedFields) {
  const Json st = stateOf(testdata::kWaypointCluster);
  std::set<std::string> list, show;
  keyPaths(waypointList(st)->json, "", list, {});
  std::set<std::string> listItems;
  for (const auto& p : list) listItems.insert(p.substr(3));  // "[]."
  EXPECT_EQ(listItems, documented("list"));
  keyPaths(waypointShow(st, "waypoint")->json, "", show,
           {"policy_list[].rules", "request_authentication_list[].jwt_rules"});
  EXPECT_EQ(show, documented("show"));
}

// ---- waypoint jwks: the waypoint's own dump -------------------------------------

TEST(WaypointJwks, OneRowPerUriWithItsKidsAgeAndLastError) {
  const Json dump = Json::parse(R"({"waypoint": {}, "jwks": [
    {"uri": "https://idp/keys", "discovered_jwks_uri": "", "have_keys": true, "kids": ["a", "b"],
     "skipped_keys": 0, "fetched_seconds_ago": 12, "attempted_seconds_ago": 2, "last_error": "answered HTTP 500",
     "fetches": 5, "failures": 1},
    {"uri": "https://down/keys", "discovered_jwks_uri": "", "have_keys": false, "kids": [], "skipped_keys": 0,
     "fetched_seconds_ago": null, "attempted_seconds_ago": 1, "last_error": "connect: refused",
     "fetches": 3, "failures": 3},
    {"uri": "https://sso/r/.well-known/openid-configuration", "discovered_jwks_uri": "https://sso/r/certs",
     "have_keys": true, "kids": ["k"], "skipped_keys": 0, "fetched_seconds_ago": 3, "attempted_seconds_ago": 3,
     "last_error": "", "fetches": 1, "failures": 0}]})");
  auto out = waypointJwks(dump);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->table.render(),
            "JWKS_URI                                                               KEYS  KIDS  FETCHED   FETCHES  "
            "FAILURES  LAST_ERROR\n"
            "https://idp/keys                                                       2     a,b   12 s ago  5        "
            "1         answered HTTP 500\n"
            "https://down/keys                                                      none        never     3        "
            "3         connect: refused\n"
            "https://sso/r/.well-known/openid-configuration -> https://sso/r/certs  1     k     3 s ago   1        "
            "0         -\n");
  std::set<std::string> paths, documentedJwks;
  keyPaths(out->json, "", paths, {});
  std::set<std::string> items;
  for (const auto& p : paths) items.insert(p.substr(3));
  for (const auto& o : commandTable().objects)
    for (const auto& v : o.verbs)
      if (o.name == "waypoint" && v.name == "jwks")
        for (const auto& f : v.fields) documentedJwks.insert(f.path);
  EXPECT_EQ(items, documentedJwks);
  EXPECT_FALSE(waypointJwks(Json::parse(R"({"state": {}})")).ok()) << "a tunnel's dump is not a waypoint's";
}

// ---- explain through a waypoint: the tunnel's answer, rendered ------------------

std::string render(const Output& out) {
  std::string s = out.table.render();
  for (const auto& t : out.extra) s += "\n" + t.render();
  return s;
}

TEST(ExplainOutput, AWaypointPathShowsTheWaypointItsPoliciesAndTheNote) {
  source::Snapshot snap;
  source::loadDocuments(testdata::kWaypointCluster, "cluster.yaml", snap);
  auto st = state::stateFromSnapshot(snap, {});
  auto answer = proxy::explainConnection(*st, "payments/checkout", "10.96.0.20:80");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  const Output out = explainOutput(Json::parse(answer->dump()));
  EXPECT_EQ(out.json["verdict"], "depends on the request");
  const std::string to =
      "ledger.payments.svc.cluster.local -> waypoint payments/waypoint.payments.svc.cluster.local "
      "(payments/waypoint-abc) -> payments/ledger-0";
  EXPECT_EQ(render(out),
            "SOURCE             CAPTURED  DESTINATION    VERDICT\n"
            "payments/checkout  yes       10.96.0.20:80  depends on the request\n"
            "\n"
            "ROUTE  TO" +
                std::string(to.size() - 2, ' ') +
                "  ALLOWED  POLICY                         RULE  WHY\n"
                "hbone  " +
                to +
                "  yes      payments/ledger-from-waypoint  0     "
                "allowed by ALLOW policy payments/ledger-from-waypoint rules[0]\n"
                "\n"
                "WAYPOINT                                      ENDPOINT               L7_POLICY                  "
                "ACTION  DRY_RUN  RULES  NOTES\n"
                "payments/waypoint.payments.svc.cluster.local  payments/waypoint-abc  payments/broken            DENY  "
                "  no       1      invalid (rules[0].to.operation.paths: '/a/{*}' is a path template, which the "
                "waypoint does not support): enforced as deny-all until fixed\n"
                "payments/waypoint.payments.svc.cluster.local  payments/waypoint-abc  payments/ledger-get        ALLOW "
                "  no       1\n"
                "payments/waypoint.payments.svc.cluster.local  payments/waypoint-abc  payments/ledger-no-delete  DENY  "
                "  no       1\n"
                "\n"
                "L7 rules are judged per request at the waypoint: add --request \"METHOD /path\" (and --jwt FILE) to "
                "judge one\n");

  // Without a waypoint the rendering is as before: no waypoint tables.
  auto plain = proxy::explainConnection(*st, "payments/checkout", "10.96.0.30:5432");
  ASSERT_TRUE(plain.ok());
  const Output p = explainOutput(Json::parse(plain->dump()));
  EXPECT_EQ(p.extra.size(), 1u);
  EXPECT_EQ(p.json["verdict"], "allow");
}

TEST(ExplainOutput, WithARequestTheWaypointsAnswerReplacesTheNote) {
  source::Snapshot snap;
  source::loadDocuments(testdata::kWaypointCluster, "cluster.yaml", snap);
  auto st = state::stateFromSnapshot(snap, {});
  proxy::RequestProbe probe;
  probe.method = "DELETE";
  probe.path = "/balance/1";
  auto answer = proxy::explainConnection(*st, "payments/checkout", "10.96.0.20:80", &probe);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  const std::string text = render(explainOutput(Json::parse(answer->dump())));
  EXPECT_NE(text.find("DELETE /balance/1  (no token)"), std::string::npos) << text;
  EXPECT_EQ(text.find("L7 rules are judged per request"), std::string::npos) << text;
}

}  // namespace
}  // namespace warren::ctl
