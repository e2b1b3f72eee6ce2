// `warrenctl explain --request --jwt`'s engine: one request judged as the
// waypoint would, over a state from YAML, with tokens minted at test time.

#include "tunnel/proxy/explain.h"

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tests/support/jwt_mint.h"

namespace warren::proxy {
namespace {

namespace mint = jwt::mint;
using nlohmann::json;

const int64_t kNowS =
    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

mint::SigningKey& bankKey() {
  static mint::SigningKey k(mint::KeyKind::EcP256);
  return k;
}

state::ClusterStatePtr cluster() {
  const std::string yaml = R"(
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: payments}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: payments, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
status: {podIP: 10.244.1.50}
---
apiVersion: v1
kind: Service
metadata: {name: loans, namespace: payments}
spec: {clusterIP: 10.96.0.40, selector: {app: loans}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: loans-0, namespace: payments, labels: {app: loans}}
spec: {serviceAccountName: loans}
status: {podIP: 10.244.2.40}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: payments}
spec: {serviceAccountName: web}
status: {podIP: 10.244.1.10}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: idp, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules:
  - issuer: https://bank
    audiences: [loans]
    jwks: ')" + mint::jwks({bankKey().publicJwk("k1", "ES256")}).dump() +
                           R"('
  - issuer: https://partner
    jwksUri: https://partner/keys
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: loans, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules:
  - from: [{source: {requestPrincipals: ["https://bank/*"]}}]
    to: [{operation: {paths: ["/loans/my/*"]}}]
  - when: [{key: "request.auth.claims[groups]", values: ["officers"]}]
)";
  source::Snapshot snap;
  source::loadDocuments(yaml, "c.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  return state::stateFromSnapshot(snap, {});
}

json request(const std::string& method, const std::string& path, const std::string& token) {
  RequestProbe probe{method, path, token};
  auto j = explainConnection(*cluster(), "payments/web", "10.96.0.40:80", &probe);
  EXPECT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["paths"].size(), 1u);
  return (*j)["paths"][0]["waypoint"]["request"];
}

std::string token(const std::string& iss, json extra = json::object()) {
  json c = {{"iss", iss}, {"sub", "alice"}, {"aud", "loans"}, {"exp", kNowS + 600}};
  for (auto& [k, v] : extra.items()) c[k] = v;
  return mint::token(bankKey(), {{"alg", "ES256"}, {"kid", "k1"}}, c);
}

TEST(ExplainRequest, NoTokenIsA403AndSaysWhy) {
  auto r = request("GET", "/loans/my/1", "");
  EXPECT_EQ(r["status"], 403);
  EXPECT_EQ(r["authentication"]["token"], "none");
  EXPECT_FALSE(r["decision"]["allowed"].get<bool>());
}

TEST(ExplainRequest, AVerifiedTokenShowsItsRulePrincipalAndTheMatchedRule) {
  auto r = request("GET", "/loans/my/1", token("https://bank"));
  EXPECT_EQ(r["status"], 200) << r.dump(2);
  EXPECT_EQ(r["authentication"]["rule"], "payments/idp jwtRules[0]");
  EXPECT_EQ(r["authentication"]["verified"], true);
  EXPECT_EQ(r["authentication"]["principal"], "https://bank/alice");
  EXPECT_EQ(r["decision"]["policy"], "payments/loans");
  EXPECT_EQ(r["decision"]["rule"], 0);
  EXPECT_NE(r["matched_rule"].dump().find("request_principals"), std::string::npos) << r["matched_rule"].dump();
}

TEST(ExplainRequest, AClaimRuleIsTheOneThatMatches) {
  auto r = request("DELETE", "/loans/all", token("https://bank", {{"groups", {"staff", "officers"}}}));
  EXPECT_EQ(r["status"], 200) << r.dump(2);
  EXPECT_EQ(r["decision"]["rule"], 1);
  EXPECT_NE(r["matched_rule"].dump().find("request.auth.claims[groups]"), std::string::npos);
}

TEST(ExplainRequest, AnExpiredTokenIs401WithEnvoysMessage) {
  auto r = request("GET", "/loans/my/1", token("https://bank", {{"exp", kNowS - 3600}}));
  EXPECT_EQ(r["status"], 401);
  EXPECT_EQ(r["authentication"]["failure"], "expired");
  EXPECT_NE(r["decision"]["reason"].get<std::string>().find("Jwt is expired"), std::string::npos);
}

TEST(ExplainRequest, AnAudienceNotAllowedIs403AsAtTheWaypoint) {
  auto r = request("GET", "/loans/my/1", token("https://bank", {{"aud", "cards"}}));
  EXPECT_EQ(r["status"], 403);
  EXPECT_EQ(r["authentication"]["failure"], "audience_mismatch");
}

TEST(ExplainRequest, AnUnknownIssuerIs401) {
  auto r = request("GET", "/loans/my/1", token("https://evil"));
  EXPECT_EQ(r["status"], 401);
  EXPECT_EQ(r["authentication"]["failure"], "issuer_not_configured");
}

TEST(ExplainRequest, AJwksUriTokenIsReadUnverifiedAndSaysSo) {
  auto r = request("GET", "/loans/all", token("https://partner", {{"groups", "officers"}}));
  EXPECT_EQ(r["authentication"]["verified"], false);
  EXPECT_NE(r["authentication"]["note"].get<std::string>().find("not checked here"), std::string::npos);
  EXPECT_EQ(r["authentication"]["principal"], "https://partner/alice");
  EXPECT_EQ(r["status"], 200);
}

}  // namespace
}  // namespace warren::proxy
