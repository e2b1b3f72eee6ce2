// L4 authorization, table-driven: each case is Istio policy YAML exactly as an
// operator writes it, loaded through the standalone source and converted into the
// tunnel's state, then one connection judged by the pure decision function.

#include "authz/authorize.h"

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"

namespace warren::authz {
namespace {

// The cluster: root namespace istio-system; `mesh` holds the destination
// mesh/server (app=server) at 10.1.0.10 and mesh/api (app=api); clients are
// other/client and mesh/frontend.
const char* kCluster = R"(
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: mesh, labels: {app: server}}
spec: {serviceAccountName: server}
status: {podIPs: [{ip: 10.1.0.10}, {ip: "fd00:1::10"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: mesh, labels: {app: api}}
spec: {serviceAccountName: api}
status: {podIP: 10.1.0.11}
)";

constexpr const char* kClient = "cluster.local/ns/other/sa/client";     // at 10.2.0.5
constexpr const char* kFrontend = "cluster.local/ns/mesh/sa/frontend";  // at 10.1.0.20

struct Conn {
  const char* principal;  // "" = plaintext
  const char* srcIp;
  uint32_t port = 8080;
  const char* dstIp = "10.1.0.10";
};

Conn fromClient(uint32_t port = 8080) { return {kClient, "10.2.0.5", port}; }
Conn fromFrontend(uint32_t port = 8080) { return {kFrontend, "10.1.0.20", port}; }
Conn plaintext(uint32_t port = 8080) { return {"", "10.9.0.1", port}; }

struct Case {
  std::string name;
  std::string policies;  // YAML documents added to kCluster
  Conn conn;
  bool allowed;
  std::string decidedBy;  // expected Decision::policy ("" = none)
  std::string reasonHas;
  std::string target;        // destination pod in `mesh`
  bool sourceError = false;  // the YAML itself is reported as bad (and fails closed)
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

ConnectionFacts facts(const Conn& c) {
  ConnectionFacts f;
  f.srcIp = c.srcIp;
  f.dstIp = c.dstIp;
  f.dstPort = c.port;
  if (*c.principal) {
    auto id = identity::SpiffeId::parse(std::string("spiffe://") + c.principal);
    EXPECT_TRUE(id.ok()) << c.principal;
    f.srcIdentity = *id;
  }
  return f;
}

state::ClusterStatePtr load(const std::string& policies, std::vector<Error>* notes = nullptr,
                            bool sourceErrorExpected = false) {
  source::Snapshot snap;
  source::loadDocuments(std::string(kCluster) + "\n---\n" + policies, "case.yaml", snap);
  if (sourceErrorExpected)
    EXPECT_FALSE(snap.errors.empty()) << "the source should have reported the bad object";
  else
    for (const auto& e : snap.errors) ADD_FAILURE() << "source: " << e.message;
  return state::stateFromSnapshot(snap, {}, notes);
}

Decision judge(const Case& c) {
  auto st = load(c.policies, nullptr, c.sourceError);
  const auto* w = st->findWorkload("mesh/" + c.target);
  EXPECT_NE(w, nullptr);
  if (!w) return {};
  Conn conn = c.conn;
  if (c.target == "api") conn.dstIp = "10.1.0.11";
  return authorize(*st, *w, facts(conn));
}

// Policy documents, compact.
std::string policy(const std::string& ns, const std::string& name, const std::string& spec,
                   const std::string& extraMetadata = "", const std::string& apiVersion = "security.istio.io/v1") {
  return "apiVersion: " + apiVersion + "\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: " + ns +
         extraMetadata + "}\nspec: " + spec + "\n---\n";
}
std::string peerAuth(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec: " + spec + "\n---\n";
}

class AuthorizeTable : public ::testing::TestWithParam<Case> {};

TEST_P(AuthorizeTable, Verdict) {
  const Case& c = GetParam();
  Decision d = judge(c);
  EXPECT_EQ(d.allowed, c.allowed) << d.reason;
  EXPECT_EQ(d.policy, c.decidedBy) << d.reason;
  EXPECT_NE(d.reason.find(c.reasonHas), std::string::npos) << d.reason;
}

const std::string allowFromClient = policy(
    "mesh", "p", R"({action: ALLOW, rules: [{from: [{source: {principals: ["cluster.local/ns/other/sa/client"]}}]}]})");

std::vector<Case> cases() {
  std::vector<Case> v;
  auto add = [&](const char* name, std::string yaml, Conn conn, bool allowed, const char* by, const char* has = "",
                 const char* target = "server") {
    v.push_back({name, std::move(yaml), conn, allowed, by, has, target});
  };
  // --- no policy ---
  add("NoPolicyAllows", "", fromClient(), true, "", "no ALLOW policy applies");
  add("NoPolicyAllowsPlaintext", "", plaintext(), true, "");
  // --- principals: exact, prefix, suffix, presence, not ---
  add("PrincipalExactMatches", allowFromClient, fromClient(), true, "mesh/p", "rules[0]");
  add("PrincipalExactOtherDenied", allowFromClient, fromFrontend(), false, "", "no rule of the ALLOW policies");
  auto allow = [](const std::string& rules) { return policy("mesh", "p", "{action: ALLOW, rules: " + rules + "}"); };
  auto deny = [](const std::string& rules) { return policy("mesh", "d", "{action: DENY, rules: " + rules + "}"); };

  add("PrincipalPrefix", allow(R"([{from: [{source: {principals: ["cluster.local/ns/other/*"]}}]}])"), fromClient(),
      true, "mesh/p");
  add("PrincipalPrefixOther", allow(R"([{from: [{source: {principals: ["cluster.local/ns/other/*"]}}]}])"),
      fromFrontend(), false, "");
  add("PrincipalSuffix", allow(R"([{from: [{source: {principals: ["*/sa/client"]}}]}])"), fromClient(), true, "mesh/p");
  add("PrincipalSuffixOther", allow(R"([{from: [{source: {principals: ["*/sa/client"]}}]}])"), fromFrontend(), false,
      "");
  add("PrincipalPresenceWithMtls", allow(R"([{from: [{source: {principals: ["*"]}}]}])"), fromFrontend(), true,
      "mesh/p");
  add("PrincipalPresencePlaintextDenied", allow(R"([{from: [{source: {principals: ["*"]}}]}])"), plaintext(), false,
      "");
  add("NotPrincipalsExcludes", allow(R"([{from: [{source: {notPrincipals: ["cluster.local/ns/other/sa/client"]}}]}])"),
      fromClient(), false, "");
  add("NotPrincipalsAdmitsOthers",
      allow(R"([{from: [{source: {notPrincipals: ["cluster.local/ns/other/sa/client"]}}]}])"), fromFrontend(), true,
      "mesh/p");
  add("ServiceAccountsShorthand", allow(R"([{from: [{source: {serviceAccounts: ["other/client"]}}]}])"), fromClient(),
      true, "mesh/p");
  // A bare account name is in the policy's namespace (mesh), as Istio's API says.
  add("ServiceAccountsBareNameIsThePolicysNamespace", allow(R"([{from: [{source: {serviceAccounts: ["frontend"]}}]}])"),
      fromFrontend(), true, "mesh/p");
  add("ServiceAccountsBareNameNotAnotherNamespace", allow(R"([{from: [{source: {serviceAccounts: ["client"]}}]}])"),
      fromClient(), false, "");
  // What Istio's API refuses fails closed: a wildcard, and accounts beside principals
  // or namespaces (read as an OR, the principals would admit frontend here).
  add("ServiceAccountsWildcardFailsClosed", allow(R"([{from: [{source: {serviceAccounts: ["other/*"]}}]}])"),
      fromClient(), false, "mesh/p", "DENY policy mesh/p");
  add("ServiceAccountsWithPrincipalsFailsClosed",
      allow(
          R"([{from: [{source: {serviceAccounts: ["other/client"], principals: ["cluster.local/ns/mesh/sa/frontend"]}}]}])"),
      fromFrontend(), false, "mesh/p", "DENY policy mesh/p");
  add("NotServiceAccountsWithNamespacesFailsClosed",
      allow(R"([{from: [{source: {notServiceAccounts: ["other/x"], namespaces: ["other"]}}]}])"), fromClient(), false,
      "mesh/p", "DENY policy mesh/p");
  add("ServiceAccountsBesidePrincipalsInAnotherSource",
      allow(
          R"([{from: [{source: {serviceAccounts: ["other/client"]}}, {source: {principals: ["cluster.local/ns/mesh/sa/frontend"]}}]}])"),
      fromFrontend(), true, "mesh/p");
  // --- namespaces ---
  add("NamespacesMatch", allow(R"([{from: [{source: {namespaces: ["other"]}}]}])"), fromClient(), true, "mesh/p");
  add("NamespacesOtherDenied", allow(R"([{from: [{source: {namespaces: ["other"]}}]}])"), fromFrontend(), false, "");
  add("NamespacesNeedAnIdentity", allow(R"([{from: [{source: {namespaces: ["*"]}}]}])"), plaintext(), false, "");
  add("NotNamespacesExcludes", allow(R"([{from: [{source: {notNamespaces: ["other"]}}]}])"), fromClient(), false, "");
  add("NotNamespacesAdmitsOthers", allow(R"([{from: [{source: {notNamespaces: ["other"]}}]}])"), fromFrontend(), true,
      "mesh/p");
  // --- ipBlocks ---
  add("IpBlocksMatch", allow(R"([{from: [{source: {ipBlocks: ["10.2.0.0/16"]}}]}])"), fromClient(), true, "mesh/p");
  add("IpBlocksOtherDenied", allow(R"([{from: [{source: {ipBlocks: ["10.2.0.0/16"]}}]}])"), fromFrontend(), false, "");
  add("IpBlocksWorkForPlaintext", allow(R"([{from: [{source: {ipBlocks: ["10.9.0.1"]}}]}])"), plaintext(), true,
      "mesh/p");
  add("NotIpBlocksExcludes", allow(R"([{from: [{source: {notIpBlocks: ["10.2.0.0/16"]}}]}])"), fromClient(), false, "");
  add("NotIpBlocksAdmitsOthers", allow(R"([{from: [{source: {notIpBlocks: ["10.2.0.0/16"]}}]}])"), fromFrontend(), true,
      "mesh/p");
  // --- ports ---
  add("PortsMatch", allow(R"([{to: [{operation: {ports: ["8080"]}}]}])"), fromClient(8080), true, "mesh/p");
  add("PortsOtherDenied", allow(R"([{to: [{operation: {ports: ["8080"]}}]}])"), fromClient(9090), false, "");
  add("NotPortsExcludes", allow(R"([{to: [{operation: {notPorts: ["9090"]}}]}])"), fromClient(9090), false, "");
  add("NotPortsAdmitsOthers", allow(R"([{to: [{operation: {notPorts: ["9090"]}}]}])"), fromClient(8080), true,
      "mesh/p");
  // --- when (L4 keys) ---
  add("WhenSourceIp", allow(R"([{when: [{key: source.ip, values: ["10.2.0.5"]}]}])"), fromClient(), true, "mesh/p");
  add("WhenSourceIpNotValues", allow(R"([{when: [{key: source.ip, notValues: ["10.2.0.0/24"]}]}])"), fromClient(),
      false, "");
  add("WhenSourceNamespace", allow(R"([{when: [{key: source.namespace, values: ["mesh"]}]}])"), fromFrontend(), true,
      "mesh/p");
  add("WhenSourcePrincipal",
      allow(R"([{when: [{key: source.principal, values: ["cluster.local/ns/mesh/sa/frontend"]}]}])"), fromClient(),
      false, "");
  add("WhenDestinationIp", allow(R"([{when: [{key: destination.ip, values: ["10.1.0.10"]}]}])"), fromClient(), true,
      "mesh/p");
  add("WhenDestinationPortNotValues", allow(R"([{when: [{key: destination.port, notValues: ["8080"]}]}])"),
      fromClient(8080), false, "");
  // --- combining: fields AND'd, values and from-entries OR'd, rules OR'd ---
  add("FieldsAreAnded",
      allow(
          R"([{from: [{source: {principals: ["cluster.local/ns/other/sa/client"]}}], to: [{operation: {ports: ["9090"]}}]}])"),
      fromClient(8080), false, "");
  add("ValuesAreOred",
      allow(R"([{from: [{source: {principals: ["a/ns/b/sa/c", "cluster.local/ns/other/sa/client"]}}]}])"), fromClient(),
      true, "mesh/p");
  add("FromEntriesAreOred",
      allow(R"([{from: [{source: {namespaces: ["nope"]}}, {source: {ipBlocks: ["10.2.0.5"]}}]}])"), fromClient(), true,
      "mesh/p");
  add("RulesAreOred", allow(R"([{to: [{operation: {ports: ["1"]}}]}, {to: [{operation: {ports: ["8080"]}}]}])"),
      fromClient(), true, "mesh/p", "rules[1]");
  // --- empty rules ---
  add("AllowWithoutRulesDeniesAll", policy("mesh", "p", "{}"), fromFrontend(), false, "");
  add("AllowWithAnEmptyRuleAllowsAll", allow("[{}]"), plaintext(), true, "mesh/p");
  add("DenyWithoutRulesNeverMatches", policy("mesh", "d", "{action: DENY}"), fromClient(), true, "");
  add("DenyWithAnEmptyRuleDeniesAll", deny("[{}]"), fromFrontend(), false, "mesh/d", "DENY policy mesh/d");
  // --- DENY before ALLOW ---
  add("DenyBeatsAllow", allowFromClient + deny(R"([{from: [{source: {namespaces: ["other"]}}]}])"), fromClient(), false,
      "mesh/d");
  add("DenyNotMatchingLeavesAllow", allowFromClient + deny(R"([{from: [{source: {namespaces: ["mesh"]}}]}])"),
      fromClient(), true, "mesh/p");
  // --- scope layering: mesh-wide (root namespace), namespace, selector ---
  add("MeshWideAllowApplies",
      policy("istio-system", "mesh-allow", R"({rules: [{from: [{source: {namespaces: ["mesh"]}}]}]})"), fromClient(),
      false, "");
  add("MeshWideAllowAdmits",
      policy("istio-system", "mesh-allow", R"({rules: [{from: [{source: {namespaces: ["mesh"]}}]}]})"), fromFrontend(),
      true, "istio-system/mesh-allow");
  add("OtherNamespacePolicyDoesNotApply", policy("other", "p", "{}"), fromClient(), true, "");
  add("SelectorSelectsTheServer", policy("mesh", "sel", "{selector: {matchLabels: {app: server}}}"), fromFrontend(),
      false, "");
  add("SelectorForAnotherWorkloadDoesNotApply", policy("mesh", "sel", "{selector: {matchLabels: {app: api}}}"),
      fromFrontend(), true, "");
  add("SelectorPolicyOnTheSelectedWorkload", policy("mesh", "sel", "{selector: {matchLabels: {app: api}}}"),
      fromFrontend(), false, "", "", "api");
  add("RootNamespaceSelectorAppliesEverywhere",
      policy("istio-system", "root-sel", "{selector: {matchLabels: {app: server}}, action: DENY, rules: [{}]}"),
      fromFrontend(), false, "istio-system/root-sel");
  add("MeshDenyBeatsNamespaceAllow",
      policy("istio-system", "mesh-deny", R"({action: DENY, rules: [{from: [{source: {namespaces: ["other"]}}]}]})") +
          allowFromClient,
      fromClient(), false, "istio-system/mesh-deny");
  add("AllowPoliciesAcrossScopesAreOred",
      policy("istio-system", "mesh-allow", R"({rules: [{from: [{source: {namespaces: ["mesh"]}}]}]})") +
          allowFromClient,
      fromClient(), true, "mesh/p");
  add("NamespaceAllowPlusSelectorAllow",
      policy("mesh", "sel",
             R"({selector: {matchLabels: {app: server}}, rules: [{to: [{operation: {ports: ["9090"]}}]}]})") +
          allowFromClient,
      fromFrontend(9090), true, "mesh/sel");
  // --- dry-run and AUDIT never change the verdict ---
  add("DryRunDenyOnlyLogs",
      policy("mesh", "d", "{action: DENY, rules: [{}]}", ", annotations: {istio.io/dry-run: \"true\"}"), fromClient(),
      true, "");
  add("DryRunAllowOnlyLogs", policy("mesh", "p", "{}", ", annotations: {istio.io/dry-run: \"true\"}"), fromClient(),
      true, "");
  add("AuditIsNotAnAllowPolicy", policy("mesh", "a", "{action: AUDIT, rules: [{}]}"), fromClient(), true, "");
  // --- L7 attributes, handled fail-safe as ztunnel does ---
  add("AllowRuleNeedingL7NeverMatches", allow(R"([{to: [{operation: {methods: ["GET"]}}]}])"), fromClient(), false, "");
  add("AllowL7RuleDroppedOtherRuleStands",
      allow(R"([{to: [{operation: {methods: ["GET"]}}]}, {from: [{source: {namespaces: ["other"]}}]}])"), fromClient(),
      true, "mesh/p", "rules[0]");
  add("DenyRuleNeedingL7DeniesOnItsL4Part", deny(R"([{to: [{operation: {methods: ["GET"], ports: ["8080"]}}]}])"),
      fromClient(8080), false, "mesh/d");
  add("DenyRuleL4PartStillScoped", deny(R"([{to: [{operation: {methods: ["GET"], ports: ["8080"]}}]}])"),
      fromClient(9090), true, "");
  add("DenyRuleWithOnlyL7DeniesAll", deny(R"([{to: [{operation: {paths: ["/admin"]}}]}])"), fromFrontend(), false,
      "mesh/d");
  add("AllowWhenL7KeyNeverMatches", allow(R"([{when: [{key: "request.headers[x-user]", values: ["a"]}]}])"),
      fromClient(), false, "");
  add("DenyRequestPrincipalsDeniesOnL4", deny(R"([{from: [{source: {requestPrincipals: ["*"]}}]}])"), fromClient(),
      false, "mesh/d");
  // --- objects the tunnel does not enforce, and bad input failing closed ---
  add("CustomActionIsSkipped", policy("mesh", "c", "{action: CUSTOM, provider: {name: ext}, rules: [{}]}"),
      fromClient(), true, "");
  add("WaypointTargetRefIsSkipped", policy("mesh", "w", "{targetRefs: [{kind: Service, group: \"\", name: server}]}"),
      fromClient(), true, "");
  add("InvalidIpBlockFailsClosed", allow(R"([{from: [{source: {ipBlocks: ["10.2.0.0/99"]}}]}])"), fromClient(), false,
      "mesh/p", "DENY policy mesh/p");
  add("UnknownFieldFailsClosed", allow(R"([{from: [{source: {principal: ["typo"]}}]}])"), fromClient(), false,
      "mesh/p");
  add("BadPortFailsClosed", allow(R"([{to: [{operation: {ports: ["http"]}}]}])"), fromClient(), false, "mesh/p");
  add("V1beta1IsAccepted", policy("mesh", "p", "{}", "", "security.istio.io/v1beta1"), fromClient(), false, "");
  add("Ipv6Destination", allow(R"([{when: [{key: destination.ip, values: ["fd00:1::/64"]}]}])"),
      {kClient, "10.2.0.5", 8080, "fd00:1::10"}, true, "mesh/p");
  // --- PeerAuthentication ---
  add("MeshStrictRefusesPlaintext", peerAuth("istio-system", "default", "{mtls: {mode: STRICT}}"), plaintext(), false,
      "istio-system/default", "STRICT");
  add("MeshStrictAdmitsMtls", peerAuth("istio-system", "default", "{mtls: {mode: STRICT}}"), fromClient(), true, "");
  add("MeshPermissiveAdmitsPlaintext", peerAuth("istio-system", "default", "{mtls: {mode: PERMISSIVE}}"), plaintext(),
      true, "");
  add("NamespacePermissiveOverridesMeshStrict",
      peerAuth("istio-system", "default", "{mtls: {mode: STRICT}}") +
          peerAuth("mesh", "ns", "{mtls: {mode: PERMISSIVE}}"),
      plaintext(), true, "");
  add("NamespaceUnsetInheritsMeshStrict",
      peerAuth("istio-system", "default", "{mtls: {mode: STRICT}}") + peerAuth("mesh", "ns", "{mtls: {mode: UNSET}}"),
      plaintext(), false, "istio-system/default");
  add("WorkloadPermissiveOverridesNamespaceStrict",
      peerAuth("mesh", "ns", "{mtls: {mode: STRICT}}") +
          peerAuth("mesh", "wl", "{selector: {matchLabels: {app: server}}, mtls: {mode: PERMISSIVE}}"),
      plaintext(), true, "");
  add("PortLevelPermissiveUnderStrict",
      peerAuth(
          "mesh", "wl",
          "{selector: {matchLabels: {app: server}}, mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: PERMISSIVE}}}"),
      plaintext(8080), true, "");
  add("PortLevelOtherPortStaysStrict",
      peerAuth(
          "mesh", "wl",
          "{selector: {matchLabels: {app: server}}, mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: PERMISSIVE}}}"),
      plaintext(9090), false, "mesh/wl");
  add("PortLevelStrictUnderPermissive",
      peerAuth("mesh", "wl", "{selector: {matchLabels: {app: server}}, portLevelMtls: {9090: {mode: STRICT}}}"),
      plaintext(9090), false, "mesh/wl");
  add("StrictThenAllowPolicyStillApplies",
      peerAuth("istio-system", "default", "{mtls: {mode: STRICT}}") + allowFromClient, fromFrontend(), false, "");
  add("BadMtlsModeFailsClosedAsStrict", peerAuth("mesh", "ns", "{mtls: {mode: STRIKT}}"), plaintext(), false,
      "mesh/ns");
  v.back().sourceError = true;

  return v;
}

INSTANTIATE_TEST_SUITE_P(Istio, AuthorizeTable, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// ---- beyond the verdict ----

TEST(Authorize, AuditMatchesAreReportedWithoutChangingTheVerdict) {
  auto st = load(policy("mesh", "audit", R"({action: AUDIT, rules: [{to: [{operation: {ports: ["8080"]}}]}]})") +
                 allowFromClient);
  const auto* w = st->findWorkload("mesh/server");
  ASSERT_NE(w, nullptr);
  auto d = authorize(*st, *w, facts(fromClient()));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.policy, "mesh/p");
  ASSERT_EQ(d.audits.size(), 1u);
  EXPECT_EQ(d.audits[0], "mesh/audit rules[0]");
  EXPECT_TRUE(authorize(*st, *w, facts(fromClient(9090))).audits.empty());
}

TEST(Authorize, DryRunReportsWhatItWouldHaveDecided) {
  auto st = load(policy("mesh", "d", "{action: DENY, rules: [{}]}", ", annotations: {istio.io/dry-run: \"true\"}"));
  const auto* w = st->findWorkload("mesh/server");
  ASSERT_NE(w, nullptr);
  auto d = authorize(*st, *w, facts(fromClient()));
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.dryRun.size(), 1u);
  EXPECT_EQ(d.dryRun[0], "would deny: denied by DENY policy mesh/d rules[0]");
}

TEST(Authorize, ConversionNotesSayWhatWasChanged) {
  std::vector<Error> notes;
  auto st = load(policy("mesh", "p", R"({rules: [{to: [{operation: {methods: ["GET"]}}]}]})") +
                     policy("mesh", "c", "{action: CUSTOM, provider: {name: ext}, rules: [{}]}"),
                 &notes);
  std::string all;
  for (const auto& n : notes) all += n.message + "\n";
  EXPECT_NE(all.find("mesh/p (case.yaml, line"), std::string::npos) << all;
  EXPECT_NE(all.find("uses L7 attributes (to.operation.methods): an ALLOW rule needing L7 never matches"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("mesh/c"), std::string::npos) << all;
  EXPECT_NE(all.find("CUSTOM"), std::string::npos) << all;
  ASSERT_EQ(st->policies().count("mesh/p"), 1u);
  EXPECT_FALSE(st->policies().at("mesh/p").conversionNotes.empty());
}

// A workload bound to a waypoint for its own traffic accepts only the waypoint:
// a plaintext client or another mesh identity would skip the waypoint's L7 policy.
TEST(Authorize, AWorkloadBoundToAWaypointAcceptsOnlyTheWaypoint) {
  const std::string waypoint = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: mesh, labels: {istio.io/waypoint-for: workload}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: wp-0, namespace: mesh, labels: {gateway.networking.k8s.io/gateway-name: wp}}
spec: {serviceAccountName: wp}
status: {podIP: 10.1.0.50}
)";
  source::Snapshot snap;
  std::string cluster = kCluster;
  cluster.replace(cluster.find("labels: {app: server}"), 21, "labels: {app: server, istio.io/use-waypoint: wp}");
  source::loadDocuments(cluster + "\n---\n" + waypoint, "case.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  auto st = state::stateFromSnapshot(snap, {});
  const auto* server = st->findWorkload("mesh/server");
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->waypoint, "mesh/wp.mesh.svc.cluster.local");

  auto fromWaypoint = facts({"cluster.local/ns/mesh/sa/wp", "10.1.0.50"});
  EXPECT_TRUE(authorize(*st, *server, fromWaypoint).allowed);
  for (const Conn& c : {fromClient(), fromFrontend(), plaintext()}) {
    auto d = authorize(*st, *server, facts(c));
    EXPECT_FALSE(d.allowed) << c.srcIp;
    EXPECT_EQ(d.policy, "mesh/wp.mesh.svc.cluster.local");
    EXPECT_NE(d.reason.find("bound to waypoint"), std::string::npos) << d.reason;
  }
  // mesh/api is not bound: anyone may still reach it.
  const auto* api = st->findWorkload("mesh/api");
  ASSERT_NE(api, nullptr);
  Conn toApi = fromClient();
  toApi.dstIp = "10.1.0.11";
  EXPECT_TRUE(authorize(*st, *api, facts(toApi)).allowed);
}

}  // namespace
}  // namespace warren::authz
