// The waypoint's L7 authorization, table-driven: each case is an AuthorizationPolicy
// bound to the waypoint (targetRefs) exactly as an operator writes it, loaded
// through the standalone source and converted into the waypoint's form, then one
// HTTP request judged by the pure decision function.

#include "authz/authorize_http.h"

#include <functional>

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/l7_policy_conversion.h"

namespace warren::authz {
namespace {

using Mod = std::function<void(HttpRequestFacts&)>;

constexpr const char* kClient = "cluster.local/ns/other/sa/client";

// The request every case starts from: other/client (at 10.2.0.5, no proxy in front)
// sends GET /api/items to api.example.com, the service at 10.1.0.10:8080, in HBONE
// (no SNI), without a token.
HttpRequestFacts baseRequest() {
  HttpRequestFacts r;
  r.sourceIp = "10.2.0.5";
  r.sourceIdentity = *identity::SpiffeId::parse(std::string("spiffe://") + kClient);
  r.remoteIp = "10.2.0.5";
  r.destinationIp = "10.1.0.10";
  r.destinationPort = 8080;
  r.method = "GET";
  r.path = "/api/items";
  r.authority = "api.example.com";
  r.headers = {{"user-agent", "curl/8"}};
  return r;
}

Mod path(std::string v) {
  return [v](HttpRequestFacts& r) { r.path = v; };
}
Mod method(std::string v) {
  return [v](HttpRequestFacts& r) { r.method = v; };
}
Mod authority(std::string v) {
  return [v](HttpRequestFacts& r) { r.authority = v; };
}
Mod port(uint32_t v) {
  return [v](HttpRequestFacts& r) { r.destinationPort = v; };
}
Mod sni(std::string v) {
  return [v](HttpRequestFacts& r) { r.sni = v; };
}
Mod header(std::string n, std::string v) {
  return [n, v](HttpRequestFacts& r) { r.headers.emplace_back(n, v); };
}
Mod plaintext() {
  return [](HttpRequestFacts& r) {
    r.sourceIdentity.reset();
    r.sourceIp = r.remoteIp = "10.9.0.1";
  };
}
Mod from(std::string principal) {
  return [principal](HttpRequestFacts& r) { r.sourceIdentity = *identity::SpiffeId::parse("spiffe://" + principal); };
}
Mod sourceIp(std::string v) {
  return [v](HttpRequestFacts& r) { r.sourceIp = r.remoteIp = v; };
}
// Behind a proxy: the peer stays 10.2.0.5, x-forwarded-for names the client.
Mod forwardedFor(std::string v) {
  return [v](HttpRequestFacts& r) { r.remoteIp = v; };
}
// A verified JWT: request principal "<iss>/<sub>" and the payload.
Mod jwt(std::string claims) {
  return [claims](HttpRequestFacts& r) {
    r.claims = nlohmann::json::parse(claims);
    r.requestPrincipal = r.claims.value("iss", "") + "/" + r.claims.value("sub", "");
  };
}
const char* kAlice = R"({"iss": "https://idp.example", "sub": "alice", "aud": "api", "azp": "web-app",
  "group": "admin", "email_verified": true, "level": 3,
  "realm_access": {"roles": ["user", "admin"]}})";
const char* kBob = R"({"iss": "https://idp.example", "sub": "bob", "aud": ["web", "mobile"],
  "realm_access": {"roles": ["user"]}})";

struct Case {
  std::string name;
  std::string policies;  // YAML documents
  std::vector<Mod> request;
  bool allowed;
  std::string decidedBy;  // expected HttpDecision::policy ("" = none)
  std::string reasonHas;
  std::string noteHas = "";    // in a conversion note, a skip reason or the source's invalid list
  std::string auditHas = "";   // in HttpDecision::audits
  std::string dryRunHas = "";  // in HttpDecision::dryRun
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

struct Loaded {
  std::vector<state::L7Policy> policies;
  std::string notes;  // every note, skip reason and invalid entry, one a line
};

Loaded load(const std::string& yaml) {
  source::Snapshot snap;
  source::loadDocuments(yaml, "case.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << "source: " << e.message;
  Loaded out;
  for (const auto& [key, in] : snap.authorizationPolicies) {
    for (const auto& i : in.invalid) out.notes += key + " invalid: " + i + "\n";
    std::string why;
    auto p = state::convertWaypointPolicy(in, &why);
    if (!p) {
      out.notes += key + " skipped: " + why + "\n";
      continue;
    }
    for (const auto& n : p->conversionNotes) out.notes += key + ": " + n + "\n";
    out.policies.push_back(std::move(*p));
  }
  return out;
}

HttpDecision judge(const Loaded& l, const std::vector<Mod>& mods) {
  HttpRequestFacts r = baseRequest();
  for (const auto& m : mods) m(r);
  std::vector<const state::L7Policy*> ptrs;
  for (const auto& p : l.policies) ptrs.push_back(&p);
  return authorizeRequest(ptrs, r);
}

const char* kWaypoint = "targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]";

// A waypoint policy in `mesh`; `spec` is the rest of a flow mapping after targetRefs.
std::string wp(const std::string& name, const std::string& spec, const std::string& extraMetadata = "") {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: mesh" +
         extraMetadata + "}\nspec: {" + kWaypoint + (spec.empty() ? "" : ", " + spec) + "}\n---\n";
}
std::string allow(const std::string& rules) { return wp("p", "action: ALLOW, rules: " + rules); }
std::string deny(const std::string& rules) { return wp("d", "action: DENY, rules: " + rules); }
std::string source(const std::string& fields) { return "[{from: [{source: {" + fields + "}}]}]"; }
std::string operation(const std::string& fields) { return "[{to: [{operation: {" + fields + "}}]}]"; }
std::string when(const std::string& key, const std::string& valuesAndNot) {
  return "[{when: [{key: \"" + key + "\", " + valuesAndNot + "}]}]";
}
const char* kDryRun = ", annotations: {istio.io/dry-run: \"true\"}";

class AuthorizeHttpTable : public ::testing::TestWithParam<Case> {};

TEST_P(AuthorizeHttpTable, Verdict) {
  const Case& c = GetParam();
  Loaded l = load(c.policies);
  HttpDecision d = judge(l, c.request);
  EXPECT_EQ(d.allowed, c.allowed) << d.reason << "\n" << l.notes;
  EXPECT_EQ(d.policy, c.decidedBy) << d.reason;
  EXPECT_NE(d.reason.find(c.reasonHas), std::string::npos) << d.reason;
  EXPECT_NE(l.notes.find(c.noteHas), std::string::npos) << l.notes;
  if (c.noteHas.empty()) {
    EXPECT_EQ(l.notes, "");
  }
  std::string audits, dryRun;
  for (const auto& a : d.audits) audits += a + "\n";
  for (const auto& a : d.dryRun) dryRun += a + "\n";
  if (c.auditHas.empty()) {
    EXPECT_EQ(audits, "");
  } else {
    EXPECT_NE(audits.find(c.auditHas), std::string::npos) << audits;
  }
  if (c.dryRunHas.empty()) {
    EXPECT_EQ(dryRun, "");
  } else {
    EXPECT_NE(dryRun.find(c.dryRunHas), std::string::npos) << dryRun;
  }
}

std::vector<Case> cases() {
  std::vector<Case> v;
  auto add = [&](const char* name, std::string yaml, std::vector<Mod> req, bool allowed, const char* by,
                 const char* has = "") {
    v.push_back({name, std::move(yaml), std::move(req), allowed, by, has});
  };
  const char* noRule = "no rule of the ALLOW policies that apply (mesh/p) matches";

  // --- no policies ---
  add("NoPoliciesAllow", "", {}, true, "", "allowed: no ALLOW policy applies");

  // --- paths: Istio's glob, case-sensitive, without the query string ---
  add("PathExact", allow(operation(R"(paths: ["/api/items"])")), {}, true, "mesh/p",
      "allowed by ALLOW policy mesh/p rules[0]");
  add("PathExactOther", allow(operation(R"(paths: ["/api"])")), {}, false, "", noRule);
  add("PathPrefix", allow(operation(R"(paths: ["/api/*"])")), {}, true, "mesh/p");
  add("PathPrefixOther", allow(operation(R"(paths: ["/admin/*"])")), {}, false, "");
  add("PathSuffix", allow(operation(R"(paths: ["*.png"])")), {path("/img/logo.png")}, true, "mesh/p");
  add("PathSuffixOther", allow(operation(R"(paths: ["*.png"])")), {path("/img/logo.jpg")}, false, "");
  add("PathAnyNonEmpty", allow(operation(R"(paths: ["*"])")), {}, true, "mesh/p");
  add("PathIsCaseSensitive", allow(operation(R"(paths: ["/API/items"])")), {}, false, "");
  // GET /img/logo.png?v=2: the facts carry the path without its query, so a
  // suffix still matches and a pattern naming the query never does.
  add("PathSuffixIgnoresQuery", allow(operation(R"(paths: ["*.png"])")), {path("/img/logo.png")}, true, "mesh/p");
  add("PathWithQueryNeverMatches", allow(operation(R"(paths: ["/api/items?debug=1"])")), {}, false, "");
  add("NotPathsExcludes", allow(operation(R"(notPaths: ["/admin/*"])")), {path("/admin/users")}, false, "");
  add("NotPathsAdmitsOthers", allow(operation(R"(notPaths: ["/admin/*"])")), {}, true, "mesh/p");

  // --- methods: exact, case-sensitive ---
  add("MethodMatches", allow(operation(R"(methods: ["GET", "HEAD"])")), {}, true, "mesh/p");
  add("MethodOther", allow(operation(R"(methods: ["POST"])")), {}, false, "");
  add("MethodIsCaseSensitive", allow(operation(R"(methods: ["get"])")), {}, false, "");
  add("NotMethodsExcludes", allow(operation(R"(notMethods: ["DELETE"])")), {method("DELETE")}, false, "");
  add("NotMethodsAdmitsOthers", allow(operation(R"(notMethods: ["DELETE"])")), {}, true, "mesh/p");

  // --- hosts: case-insensitive, a host without a port matches any port ---
  add("HostExact", allow(operation(R"(hosts: ["api.example.com"])")), {}, true, "mesh/p");
  add("HostWithoutPortMatchesAuthorityWithPort", allow(operation(R"(hosts: ["api.example.com"])")),
      {authority("api.example.com:8080")}, true, "mesh/p");
  add("HostIsCaseInsensitive", allow(operation(R"(hosts: ["API.Example.COM"])")), {authority("api.EXAMPLE.com:8080")},
      true, "mesh/p");
  add("HostWithPortMatchesThatPort", allow(operation(R"(hosts: ["api.example.com:8080"])")),
      {authority("api.example.com:8080")}, true, "mesh/p");
  add("HostWithPortNeedsThatPort", allow(operation(R"(hosts: ["api.example.com:9090"])")),
      {authority("api.example.com:8080")}, false, "");
  add("HostWildcardSuffixWithPort", allow(operation(R"(hosts: ["*.example.com"])")),
      {authority("api.example.com:8080")}, true, "mesh/p");
  add("HostOther", allow(operation(R"(hosts: ["web.example.com"])")), {}, false, "");
  add("NotHostsExcludesWithPort", allow(operation(R"(notHosts: ["api.example.com"])")),
      {authority("API.example.com:8080")}, false, "");
  add("NotHostsAdmitsOthers", allow(operation(R"(notHosts: ["web.example.com"])")), {}, true, "mesh/p");

  // --- ports: the destination port ---
  add("PortMatches", allow(operation(R"(ports: ["8080"])")), {}, true, "mesh/p");
  add("PortOther", allow(operation(R"(ports: ["8080"])")), {port(9090)}, false, "");
  add("NotPortsExcludes", allow(operation(R"(notPorts: ["9090"])")), {port(9090)}, false, "");
  add("NotPortsAdmitsOthers", allow(operation(R"(notPorts: ["9090"])")), {}, true, "mesh/p");

  // --- principals, service accounts, namespaces: the HBONE peer's identity ---
  add("PrincipalExact", allow(source(R"(principals: ["cluster.local/ns/other/sa/client"])")), {}, true, "mesh/p");
  add("PrincipalPrefix", allow(source(R"(principals: ["cluster.local/ns/other/*"])")), {}, true, "mesh/p");
  add("PrincipalOther", allow(source(R"(principals: ["cluster.local/ns/other/sa/client"])")),
      {from("cluster.local/ns/mesh/sa/web")}, false, "");
  add("PrincipalAnyNeedsMtls", allow(source(R"(principals: ["*"])")), {plaintext()}, false, "");
  add("NotPrincipalsExcludes", allow(source(R"(notPrincipals: ["*/sa/client"])")), {}, false, "");
  add("NotPrincipalsMatchPlaintext", allow(source(R"(notPrincipals: ["*/sa/client"])")), {plaintext()}, true, "mesh/p");
  add("ServiceAccounts", allow(source(R"(serviceAccounts: ["other/client"])")), {}, true, "mesh/p");
  add("ServiceAccountsOther", allow(source(R"(serviceAccounts: ["mesh/client"])")), {}, false, "");
  add("NotServiceAccountsExcludes", allow(source(R"(notServiceAccounts: ["other/client"])")), {}, false, "");
  add("ServiceAccountsBareNameIsThePolicysNamespace", allow(source(R"(serviceAccounts: ["web"])")),
      {from("cluster.local/ns/mesh/sa/web")}, true, "mesh/p");
  add("ServiceAccountsWildcardFailsClosed", allow(source(R"(serviceAccounts: ["other/*"])")), {}, false, "mesh/p");
  v.back().noteHas = "'other/*' has a wildcard, which serviceAccounts does not allow";
  add("ServiceAccountsWithPrincipalsFailsClosed",
      allow(source(R"(serviceAccounts: ["mesh/web"], principals: ["cluster.local/ns/other/sa/client"])")), {}, false,
      "mesh/p");
  v.back().noteHas = "rules[0].from.source: cannot set serviceAccounts with namespaces or principals";
  add("NotServiceAccountsWithNotNamespacesFailsClosed",
      allow(source(R"(notServiceAccounts: ["mesh/web"], notNamespaces: ["mesh"])")), {}, false, "mesh/p");
  v.back().noteHas = "cannot set serviceAccounts with namespaces or principals";
  add("NamespacesMatch", allow(source(R"(namespaces: ["other"])")), {}, true, "mesh/p");
  add("NamespacesOther", allow(source(R"(namespaces: ["mesh"])")), {}, false, "");
  add("NamespacesNeedMtls", allow(source(R"(namespaces: ["*"])")), {plaintext()}, false, "");
  add("NotNamespacesExcludes", allow(source(R"(notNamespaces: ["other"])")), {}, false, "");
  add("NotNamespacesMatchPlaintext", allow(source(R"(notNamespaces: ["other"])")), {plaintext()}, true, "mesh/p");

  // --- ipBlocks (the peer) vs remoteIpBlocks (x-forwarded-for) ---
  add("IpBlocksMatchThePeer", allow(source(R"(ipBlocks: ["10.2.0.0/16"])")), {}, true, "mesh/p");
  add("IpBlocksIgnoreForwardedFor", allow(source(R"(ipBlocks: ["203.0.113.0/24"])")), {forwardedFor("203.0.113.7")},
      false, "");
  add("RemoteIpBlocksUseForwardedFor", allow(source(R"(remoteIpBlocks: ["203.0.113.0/24"])")),
      {forwardedFor("203.0.113.7")}, true, "mesh/p");
  add("RemoteIpBlocksIgnoreThePeer", allow(source(R"(remoteIpBlocks: ["10.2.0.0/16"])")), {forwardedFor("203.0.113.7")},
      false, "");
  add("NotIpBlocksExcludes", allow(source(R"(notIpBlocks: ["10.2.0.5"])")), {}, false, "");
  add("NotRemoteIpBlocksExcludes", allow(source(R"(notRemoteIpBlocks: ["203.0.113.0/24"])")),
      {forwardedFor("203.0.113.7")}, false, "");
  add("NotRemoteIpBlocksAdmitsOthers", allow(source(R"(notRemoteIpBlocks: ["203.0.113.0/24"])")), {}, true, "mesh/p");
  add("IpBlocksIpv6", allow(source(R"(ipBlocks: ["fd00:2::/64"])")), {sourceIp("fd00:2::5")}, true, "mesh/p");

  // --- requestPrincipals: the verified JWT's "<iss>/<sub>" ---
  add("RequestPrincipalMatches", allow(source(R"(requestPrincipals: ["https://idp.example/alice"])")), {jwt(kAlice)},
      true, "mesh/p");
  add("RequestPrincipalOther", allow(source(R"(requestPrincipals: ["https://idp.example/alice"])")), {jwt(kBob)}, false,
      "");
  add("RequestPrincipalAnyNeedsAToken", allow(source(R"(requestPrincipals: ["*"])")), {}, false, "");
  add("RequestPrincipalAnyWithAToken", allow(source(R"(requestPrincipals: ["*"])")), {jwt(kBob)}, true, "mesh/p");
  add("NotRequestPrincipalsDeniesNoToken", deny(source(R"(notRequestPrincipals: ["*"])")), {}, false, "mesh/d",
      "denied by DENY policy mesh/d rules[0]");
  add("NotRequestPrincipalsPassesAToken", deny(source(R"(notRequestPrincipals: ["*"])")), {jwt(kAlice)}, true, "",
      "no ALLOW policy applies");

  // --- when: request headers ---
  add("WhenHeader", allow(when("request.headers[x-user]", "values: [alice]")), {header("x-user", "alice")}, true,
      "mesh/p");
  add("WhenHeaderNameIsCaseInsensitive", allow(when("request.headers[X-User]", "values: [alice]")),
      {header("x-user", "alice")}, true, "mesh/p");
  add("WhenHeaderValueIsCaseSensitive", allow(when("request.headers[x-user]", "values: [Alice]")),
      {header("x-user", "alice")}, false, "");
  add("WhenHeaderGlob", allow(when("request.headers[x-user]", "values: [\"ali*\"]")), {header("x-user", "alice")}, true,
      "mesh/p");
  add("WhenHeaderAnyOfItsValues", allow(when("request.headers[x-user]", "values: [alice]")),
      {header("x-user", "bob"), header("x-user", "alice")}, true, "mesh/p");
  add("WhenHeaderAbsentValuesFail", allow(when("request.headers[x-user]", "values: [\"*\"]")), {}, false, "");
  add("WhenHeaderAbsentNotValuesHold", allow(when("request.headers[x-user]", "notValues: [bob]")), {}, true, "mesh/p");
  add("WhenHeaderNotValuesExclude", allow(when("request.headers[x-user]", "notValues: [bob]")),
      {header("x-user", "bob")}, false, "");
  add("WhenValuesAndNotValuesBothHold",
      allow(when("request.headers[x-user]", "values: [\"ali*\"], notValues: [alice]")), {header("x-user", "alice")},
      false, "");

  // --- when: the JWT ---
  add("WhenClaim", allow(when("request.auth.claims[group]", "values: [admin]")), {jwt(kAlice)}, true, "mesh/p");
  add("WhenNestedListClaim", allow(when("request.auth.claims[realm_access][roles]", "values: [admin]")), {jwt(kAlice)},
      true, "mesh/p");
  add("WhenNestedListClaimOther", allow(when("request.auth.claims[realm_access][roles]", "values: [admin]")),
      {jwt(kBob)}, false, "");
  add("WhenClaimWithoutToken", allow(when("request.auth.claims[group]", "values: [\"*\"]")), {}, false, "");
  add("WhenClaimAbsentNotValuesHold", allow(when("request.auth.claims[group]", "notValues: [admin]")), {jwt(kBob)},
      true, "mesh/p");
  add("WhenBooleanClaim", allow(when("request.auth.claims[email_verified]", "values: [\"true\"]")), {jwt(kAlice)}, true,
      "mesh/p");
  add("WhenNumberClaim", allow(when("request.auth.claims[level]", "values: [\"3\"]")), {jwt(kAlice)}, true, "mesh/p");
  add("WhenAuthPrincipal", allow(when("request.auth.principal", "values: [\"https://idp.example/*\"]")), {jwt(kAlice)},
      true, "mesh/p");
  add("WhenAuthPrincipalWithoutToken",
      allow(when("request.auth.principal", "notValues: [\"https://idp.example/bob\"]")), {}, true, "mesh/p");
  add("WhenAudiencesString", allow(when("request.auth.audiences", "values: [api]")), {jwt(kAlice)}, true, "mesh/p");
  add("WhenAudiencesList", allow(when("request.auth.audiences", "values: [mobile]")), {jwt(kBob)}, true, "mesh/p");
  add("WhenAudiencesListOther", allow(when("request.auth.audiences", "values: [api]")), {jwt(kBob)}, false, "");
  add("WhenPresenter", allow(when("request.auth.presenter", "values: [web-app]")), {jwt(kAlice)}, true, "mesh/p");
  add("WhenPresenterAbsent", allow(when("request.auth.presenter", "values: [web-app]")), {jwt(kBob)}, false, "");

  // --- when: connection attributes ---
  add("WhenSourceIp", allow(when("source.ip", "values: [10.2.0.0/16]")), {}, true, "mesh/p");
  add("WhenSourceIpIgnoresForwardedFor", allow(when("source.ip", "values: [203.0.113.0/24]")),
      {forwardedFor("203.0.113.7")}, false, "");
  add("WhenRemoteIp", allow(when("remote.ip", "values: [203.0.113.0/24]")), {forwardedFor("203.0.113.7")}, true,
      "mesh/p");
  add("WhenSourceNamespace", allow(when("source.namespace", "values: [other]")), {}, true, "mesh/p");
  add("WhenSourceNamespacePlaintext", allow(when("source.namespace", "notValues: [other]")), {plaintext()}, true,
      "mesh/p");
  add("WhenSourcePrincipalNotValues", allow(when("source.principal", "notValues: [\"cluster.local/ns/other/*\"]")), {},
      false, "");
  add("WhenDestinationIp", allow(when("destination.ip", "values: [10.1.0.0/24]")), {}, true, "mesh/p");
  add("WhenDestinationPort", allow(when("destination.port", "values: [\"8080\"]")), {}, true, "mesh/p");
  add("WhenDestinationPortNotValues", allow(when("destination.port", "notValues: [\"8080\"]")), {}, false, "");
  add("WhenSniInsideHboneIsAbsent", allow(when("connection.sni", "values: [api.example.com]")), {}, false, "");
  add("WhenSni", allow(when("connection.sni", "values: [\"*.example.com\"]")), {sni("api.example.com")}, true,
      "mesh/p");

  // --- combining: fields AND'd, from/to entries and rules OR'd ---
  add("FieldsAreAnded", allow(R"([{from: [{source: {namespaces: [other]}}], to: [{operation: {methods: [POST]}}]}])"),
      {}, false, "");
  add("FromEntriesAreOred", allow(R"([{from: [{source: {namespaces: [nope]}}, {source: {ipBlocks: [10.2.0.5]}}]}])"),
      {}, true, "mesh/p");
  add("RulesAreOred", allow(R"([{to: [{operation: {methods: [POST]}}]}, {to: [{operation: {paths: ["/api/*"]}}]}])"),
      {}, true, "mesh/p", "rules[1]");
  add("TwoAllowPoliciesAreNamed",
      wp("a", R"(rules: [{to: [{operation: {methods: [POST]}}]}])") +
          wp("b", R"(rules: [{to: [{operation: {ports: ["1"]}}]}])"),
      {}, false, "", "no rule of the ALLOW policies that apply (mesh/a, mesh/b) matches");

  // --- empty rules ---
  add("AllowWithoutRulesDenies", wp("p", "action: ALLOW"), {}, false, "", noRule);
  add("AllowWithAnEmptyRulesListDenies", allow("[]"), {}, false, "", noRule);
  add("AllowWithAnEmptyRuleAllowsAll", allow("[{}]"), {plaintext()}, true, "mesh/p");
  add("DenyWithoutRulesNeverMatches", wp("d", "action: DENY"), {}, true, "");
  add("DenyWithAnEmptyRuleDeniesAll", deny("[{}]"), {}, false, "mesh/d");

  // --- DENY before ALLOW; AUDIT and dry-run only report ---
  add("DenyBeatsAllow", allow("[{}]") + deny(operation(R"(paths: ["/api/*"])")), {}, false, "mesh/d",
      "denied by DENY policy mesh/d rules[0]");
  add("DenyNotMatchingLeavesAllow", allow("[{}]") + deny(operation(R"(paths: ["/admin/*"])")), {}, true, "mesh/p");
  add("AuditIsReportedVerdictUnchanged",
      wp("a", "action: AUDIT, rules: [{to: [{operation: {methods: [GET]}}]}]") + allow(operation("methods: [POST]")),
      {}, false, "", noRule);
  v.back().auditHas = "mesh/a rules[0]";
  add("AuditAloneAllows", wp("a", "action: AUDIT, rules: [{}]"), {}, true, "", "no ALLOW policy applies");
  v.back().auditHas = "mesh/a rules[0]";
  add("DryRunDenyOnlyReports", wp("d", "action: DENY, rules: [{}]", kDryRun), {}, true, "", "no ALLOW policy applies");
  v.back().dryRunHas = "would deny: denied by DENY policy mesh/d rules[0]";
  add("DryRunAllowOnlyReports", wp("p", "action: ALLOW, rules: [{to: [{operation: {methods: [POST]}}]}]", kDryRun), {},
      true, "");
  v.back().dryRunHas = "would deny: denied: no rule of the ALLOW policies that apply (mesh/p) matches";
  add("DryRunBesideEnforced", wp("p", "action: ALLOW, rules: [{}]", kDryRun) + deny(operation("methods: [GET]")), {},
      false, "mesh/d");
  v.back().dryRunHas = "would allow: allowed by ALLOW policy mesh/p rules[0]";

  // --- what cannot be enforced as written fails closed (deny-all) ---
  add("UnknownWhenKeyFailsClosed", allow(when("request.header[x-user]", "values: [alice]")),
      {header("x-user", "alice")}, false, "mesh/p", "denied by DENY policy mesh/p rules[0]");
  v.back().noteHas = "'request.header[x-user]': key is not supported";
  add("ExperimentalWhenKeyFailsClosed",
      allow(when("experimental.envoy.filters.network.mysql_proxy[db.table]", "values: [x]")), {}, false, "mesh/p");
  v.back().noteHas = "enforced as deny-all until fixed";
  add("WhenWithoutValuesFailsClosed", allow("[{when: [{key: source.ip}]}]"), {}, false, "mesh/p");
  v.back().noteHas = "needs values or notValues";
  add("BadCidrFailsClosed", allow(source(R"(ipBlocks: ["10.2.0.0/33"])")), {}, false, "mesh/p");
  v.back().noteHas = "rules[0].from.source.ipBlocks: '10.2.0.0/33' is not an IP address or CIDR block";
  add("BadWhenIpFailsClosed", deny(when("remote.ip", "values: [nope]")), {}, false, "mesh/d");
  v.back().noteHas = "is not an IP address";
  add("BadPortFailsClosed", allow(operation(R"(ports: ["http"])")), {}, false, "mesh/p");
  v.back().noteHas = "'http' is not a port number";
  add("PathTemplateFailsClosed", allow(operation(R"(paths: ["/api/{*}/items"])")), {}, false, "mesh/p");
  v.back().noteHas = "path template";
  add("UnknownSourceFieldFailsClosed", allow(source(R"(principal: ["x"])")), {}, false, "mesh/p");
  v.back().noteHas = "rules[0].from.source: unknown field 'principal' (line 4)";
  add("FailClosedIgnoresDryRun", wp("p", "action: ALLOW, rules: [{to: [{operation: {ports: [http]}}]}]", kDryRun), {},
      false, "mesh/p");
  v.back().noteHas = "enforced as deny-all";
  // `to:` one level too far out (under spec): dropped, the rule would allow everyone.
  add("ToUnderSpecFailsClosed", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: mesh}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {namespaces: [other]}}]
  to: [{operation: {methods: [POST]}}]
)",
      {}, false, "mesh/p", "denied by DENY policy mesh/p");
  v.back().noteHas = "mesh/p invalid: spec: unknown field 'to' (line 9)";
  add("MisspeltRuleKeyFailsClosed", allow("[{too: [{operation: {methods: [POST]}}]}]"), {}, false, "mesh/p");
  v.back().noteHas = "rules[0]: unknown field 'too' (line 4)";

  // --- binding: targetRef(s) ---
  add("TargetRefSingular",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: d, namespace: mesh}\n"
      "spec: {targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}, action: DENY, rules: "
      "[{}]}\n",
      {}, false, "mesh/d");
  add("ServiceTargetRef",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: d, namespace: mesh}\n"
      "spec: {targetRefs: [{kind: Service, group: \"\", name: api}], action: DENY, rules: [{}]}\n",
      {}, false, "mesh/d");
  add("NoTargetRefIsTheTunnels",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: d, namespace: mesh}\n"
      "spec: {action: DENY, rules: [{}]}\n",
      {}, true, "");
  v.back().noteHas = "mesh/d skipped: it has no targetRef(s)";
  add("OtherTargetKindIsSkipped",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: d, namespace: mesh}\n"
      "spec: {targetRefs: [{kind: Deployment, group: apps, name: api}], action: DENY, rules: [{}]}\n",
      {}, true, "");
  v.back().noteHas = "mesh/d skipped: none of its targetRefs";
  add("CrossNamespaceTargetIsSkipped",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: d, namespace: mesh}\n"
      "spec: {targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint, namespace: other}], "
      "action: DENY, rules: [{}]}\n",
      {}, true, "");
  v.back().noteHas = "another namespace";
  add("CustomIsSkipped", wp("c", "action: CUSTOM, provider: {name: ext-authz}, rules: [{}]"), {}, true, "");
  v.back().noteHas = "mesh/c skipped: CUSTOM (external authorization) is not supported";
  return v;
}

INSTANTIATE_TEST_SUITE_P(Istio, AuthorizeHttpTable, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// ---- beyond the verdict ----

TEST(AuthorizeHttp, TableHasAtLeastSeventyCases) { EXPECT_GE(cases().size(), 70u); }

TEST(AuthorizeHttp, TargetsKeepKindNamespaceAndName) {
  Loaded l = load(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: mesh}\n"
      "spec:\n  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}\n"
      "  - {kind: Service, group: core, name: api}\n  - {kind: ServiceEntry, group: networking.istio.io, name: ext}\n");
  ASSERT_EQ(l.policies.size(), 1u);
  const auto& p = l.policies[0];
  ASSERT_EQ(p.targets.size(), 2u);
  EXPECT_EQ(p.targets[0].kind, state::L7Target::Kind::Gateway);
  EXPECT_EQ(p.targets[0].ns, "mesh");
  EXPECT_EQ(p.targets[0].name, "waypoint");
  EXPECT_EQ(p.targets[1].kind, state::L7Target::Kind::Service);
  EXPECT_EQ(p.targets[1].name, "api");
  ASSERT_EQ(p.conversionNotes.size(), 1u);
  EXPECT_NE(
      p.conversionNotes[0].find("ServiceEntry mesh/ext (group 'networking.istio.io') is not a Gateway or a Service"),
      std::string::npos)
      << p.conversionNotes[0];
  EXPECT_EQ(p.where, "case.yaml, line 1");
}

TEST(AuthorizeHttp, EveryFieldIsConverted) {
  Loaded l = load(wp("p", R"(rules: [{from: [{source: {principals: [a], notPrincipals: [b], requestPrincipals: [c],
    notRequestPrincipals: [d], namespaces: [e], notNamespaces: [f], ipBlocks: [10.0.0.0/8], notIpBlocks: [10.1.0.0/16],
    remoteIpBlocks: [192.0.2.0/24], notRemoteIpBlocks: [192.0.2.1]}}, {source: {serviceAccounts: [ns/sa, sb],
    notServiceAccounts: [ns/x]}}],
    to: [{operation: {hosts: [Web.Example], notHosts: [x], ports: ["80"], notPorts: ["81"], methods: [GET], notMethods: [PUT],
    paths: ["/a*"], notPaths: ["*.b"]}}], when: [{key: "request.headers[X-A]", values: [v], notValues: [w]}]}])"));
  ASSERT_EQ(l.policies.size(), 1u) << l.notes;
  EXPECT_EQ(l.notes, "");
  const auto& r = l.policies[0].rules.at(0);
  const auto& s = r.from.at(0);
  ASSERT_EQ(s.principals.size(), 1u);
  EXPECT_EQ(s.principals[0].text(), "a");
  ASSERT_EQ(s.notPrincipals.size(), 1u);
  // serviceAccounts are principal suffixes; a bare name is in the policy's namespace.
  const auto& accounts = r.from.at(1);
  ASSERT_EQ(accounts.principals.size(), 2u);
  EXPECT_EQ(accounts.principals[0].text(), "*/ns/ns/sa/sa");
  EXPECT_EQ(accounts.principals[1].text(), "*/ns/" + l.policies[0].ns + "/sa/sb");
  ASSERT_EQ(accounts.notPrincipals.size(), 1u);
  EXPECT_EQ(accounts.notPrincipals[0].text(), "*/ns/ns/sa/x");
  EXPECT_EQ(s.requestPrincipals.at(0).text(), "c");
  EXPECT_EQ(s.notRequestPrincipals.at(0).text(), "d");
  EXPECT_EQ(s.namespaces.at(0).text(), "e");
  EXPECT_EQ(s.notNamespaces.at(0).text(), "f");
  EXPECT_EQ(s.ipBlocks.at(0).text(), "10.0.0.0/8");
  EXPECT_EQ(s.notIpBlocks.at(0).text(), "10.1.0.0/16");
  EXPECT_EQ(s.remoteIpBlocks.at(0).text(), "192.0.2.0/24");
  EXPECT_EQ(s.notRemoteIpBlocks.at(0).text(), "192.0.2.1/32");
  const auto& o = r.to.at(0);
  EXPECT_EQ(o.hosts.at(0).text(), "web.example");  // stored lower-case
  EXPECT_EQ(o.notHosts.at(0).text(), "x");
  EXPECT_EQ(o.ports, std::vector<uint32_t>{80});
  EXPECT_EQ(o.notPorts, std::vector<uint32_t>{81});
  EXPECT_EQ(o.methods.at(0).text(), "GET");
  EXPECT_EQ(o.notMethods.at(0).text(), "PUT");
  EXPECT_EQ(o.paths.at(0).text(), "/a*");
  EXPECT_EQ(o.notPaths.at(0).text(), "*.b");
  ASSERT_EQ(r.when.size(), 1u);
  EXPECT_EQ(r.when[0].key, "request.headers[X-A]");
  EXPECT_EQ(r.when[0].values, std::vector<std::string>{"v"});
  EXPECT_EQ(r.when[0].notValues, std::vector<std::string>{"w"});
}

TEST(AuthorizeHttp, SupportedConditionKeys) {
  for (const char* k :
       {"request.headers[x]", "request.auth.claims[a]", "request.auth.claims[a][b][c]", "request.auth.claims[a.b]",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "source.ip", "remote.ip",
        "source.namespace", "source.principal", "destination.ip", "destination.port", "connection.sni"})
    EXPECT_TRUE(isSupportedConditionKey(k)) << k;
  for (const char* k : {"request.headers", "request.headers[]", "request.headers[a][b]", "request.headers[x",
                        "request.headers[x]y", "request.auth.claims", "request.auth.claims[]", "request.header[x]",
                        "source.user", "destination.name", "experimental.envoy.filters.x[y]", ""})
    EXPECT_FALSE(isSupportedConditionKey(k)) << k;
}

TEST(AuthorizeHttp, FirstMatchingRule) {
  Loaded l = load(allow(R"([{to: [{operation: {methods: [POST]}}]}, {}, {to: [{operation: {methods: [GET]}}]}])"));
  ASSERT_EQ(l.policies.size(), 1u);
  EXPECT_EQ(firstMatchingRule(l.policies[0], baseRequest()), 1);
  Loaded none = load(allow(R"([{to: [{operation: {methods: [POST]}}]}])"));
  EXPECT_EQ(firstMatchingRule(none.policies[0], baseRequest()), -1);
}

}  // namespace
}  // namespace warren::authz
