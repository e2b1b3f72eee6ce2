// RequestAuthentication at the waypoint without sockets: the YAML object parsed
// and converted, then authenticate() and planRequest() over real tokens minted
// with OpenSSL keys at test time (tests/support/jwt_mint.h).

#include "waypoint/proxy/authenticate.h"

#include <gtest/gtest.h>

#include <map>

#include "io/tcp.h"
#include "source/yaml_source.h"
#include "state/from_snapshot.h"
#include "tests/support/jwt_mint.h"
#include "waypoint/proxy/request_plan.h"

namespace warren::waypoint {
namespace {

using nlohmann::json;
namespace mint = jwt::mint;
using Kind = AuthnResult::Kind;

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
const int64_t kNowS = 1'800'000'000;

struct Keys {
  mint::SigningKey bank{mint::KeyKind::Rsa2048};
  mint::SigningKey partner{mint::KeyKind::EcP256};
  mint::SigningKey rotated{mint::KeyKind::EcP256};
  mint::SigningKey stranger{mint::KeyKind::Rsa2048};
};
const Keys& keys() {
  static Keys k;
  return k;
}

// The bank's IdP (RS256, inline JWKS) and a partner's (ES256, fetched from a
// jwksUri), both bound to the payments waypoint; the bank's rule forwards
// claims to headers.
std::string clusterYaml(const std::string& extra = "") {
  const std::string bankJwks = mint::jwks({keys().bank.publicJwk("bank-1", "RS256")}).dump();
  return R"(
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {warren.io/mode: enabled, istio.io/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: payments, labels: {istio.io/waypoint-for: all}}
spec: {gatewayClassName: istio-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: loans, namespace: payments}
spec: {clusterIP: 10.96.0.40, selector: {app: loans}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: loans, namespace: payments, labels: {app: loans}}
spec: {serviceAccountName: loans}
status: {podIP: 10.244.2.40}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: idp, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules:
  - issuer: https://idp.bank.example
    audiences: [loans]
    jwks: ')" +
         bankJwks + R"('
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - {header: x-user, claim: sub}
    - {header: x-realm-tier, claim: realm.tier}
    - {header: x-roles, claim: roles}
  - issuer: https://partner.example
    jwksUri: https://keys.partner.example/jwks.json
    timeout: 2s
    fromHeaders: [{name: x-partner-token, prefix: "Token "}]
    fromParams: [partner_token]
    fromCookies: [partner]
    forwardOriginalToken: true
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: customers, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules:
  - from: [{source: {requestPrincipals: ["https://idp.bank.example/*"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/api/loans/my/*"]}}]
  - from: [{source: {requestPrincipals: ["*"]}}]
    when: [{key: "request.auth.claims[realm_access][roles]", values: ["loan-officer"]}]
)" + extra;
}

state::ClusterStatePtr cluster(const std::string& extra = "") {
  source::Snapshot snap;
  source::loadDocuments(clusterYaml(extra), "cluster.yaml", snap);
  for (const auto& e : snap.errors) ADD_FAILURE() << e.message;
  std::vector<Error> notes;
  auto st = state::stateFromSnapshot(snap, {}, &notes);
  return st;
}

const Self& self() {
  static Self s = makeSelf("payments", "waypoint", "cluster.local");
  return s;
}

StreamFacts toLoans() {
  StreamFacts f;
  f.peerIp = "10.244.1.7";
  f.peerIdentity = identity::SpiffeId{"cluster.local", "shop", "checkout"};
  f.destination = *io::parseHostPort("10.96.0.40:80");
  return f;
}

json claims(std::string iss, std::string sub, json extra = json::object()) {
  json c = {{"iss", std::move(iss)}, {"sub", std::move(sub)}, {"aud", "loans"}, {"exp", kNowS + 600}};
  for (auto& [k, v] : extra.items()) c[k] = v;
  return c;
}
std::string bankToken(json extra = json::object(), std::string sub = "alice") {
  return mint::token(keys().bank, {{"alg", "RS256"}, {"kid", "bank-1"}},
                     claims("https://idp.bank.example", std::move(sub), std::move(extra)));
}
std::string partnerToken(const mint::SigningKey& key, std::string kid, json extra = json::object()) {
  return mint::token(key, {{"alg", "ES256"}, {"kid", std::move(kid)}},
                     claims("https://partner.example", "bob", std::move(extra)));
}

// The partner's JWKS as the fetching cache would hold it.
struct FakeJwks {
  std::map<std::string, std::shared_ptr<const jwt::KeySet>> sets;
  std::vector<std::string> asked;
  void publish(std::vector<json> jwks) {
    auto parsed = jwt::parseJwks(mint::jwks(std::move(jwks)).dump());
    EXPECT_TRUE(parsed) << parsed.error().message;
    sets["https://keys.partner.example/jwks.json"] = std::make_shared<const jwt::KeySet>(std::move(*parsed));
  }
  JwksLookup lookup() {
    return [this](const std::string& uri) -> std::shared_ptr<const jwt::KeySet> {
      asked.push_back(uri);
      auto it = sets.find(uri);
      return it == sets.end() ? nullptr : it->second;
    };
  }
};

struct Req {
  http1::HeaderList headers;
  std::string target = "/api/loans/my/1";
};

AuthnResult run(const state::ClusterState& st, const Req& r, FakeJwks& jwks, bool afterRefresh = false,
                std::chrono::system_clock::time_point now = kNow, jwt::VerifiedTokenCache* cache = nullptr) {
  return authenticate(requestAuthnsFor(st, self(), toLoans()), jwt::RequestView{r.headers, r.target}, jwks.lookup(),
                      now, afterRefresh, cache);
}

bool removes(const AuthnResult& a, const std::string& h) {
  return std::find(a.removeHeaders.begin(), a.removeHeaders.end(), h) != a.removeHeaders.end();
}
std::optional<std::string> added(const AuthnResult& a, const std::string& h) {
  for (const auto& [n, v] : a.addHeaders)
    if (n == h) return v;
  return std::nullopt;
}

// ---- the object as written -----------------------------------------------------------

TEST(RequestAuthenticationYaml, EveryJwtRuleFieldIsRead) {
  auto st = cluster();
  ASSERT_EQ(st->requestAuthns().size(), 1u);
  const auto& ra = st->requestAuthns().at("payments/idp");
  EXPECT_TRUE(ra.invalid.empty());
  ASSERT_EQ(ra.providers.size(), 2u);
  const auto& bank = ra.providers[0];
  EXPECT_EQ(bank.rule.issuer, "https://idp.bank.example");
  EXPECT_EQ(bank.rule.audiences, std::vector<std::string>{"loans"});
  ASSERT_TRUE(bank.keys);
  EXPECT_EQ(bank.keys->keys.size(), 1u);
  EXPECT_EQ(bank.rule.outputPayloadToHeader, "x-jwt-payload");
  ASSERT_EQ(bank.rule.outputClaimToHeaders.size(), 3u);
  const auto& partner = ra.providers[1];
  EXPECT_EQ(partner.jwksUri, "https://keys.partner.example/jwks.json");
  EXPECT_FALSE(partner.keys);
  EXPECT_EQ(partner.timeout, std::chrono::milliseconds(2000));
  ASSERT_EQ(partner.rule.fromHeaders.size(), 1u);
  EXPECT_EQ(partner.rule.fromHeaders[0].prefix, "Token ");
  EXPECT_EQ(partner.rule.fromParams, std::vector<std::string>{"partner_token"});
  EXPECT_EQ(partner.rule.fromCookies, std::vector<std::string>{"partner"});
  EXPECT_TRUE(partner.rule.forwardOriginalToken);
}

struct BadYaml {
  const char* name;
  const char* rules;     // the jwtRules block
  const char* expected;  // in the invalid list
};
class RequestAuthenticationInvalid : public ::testing::TestWithParam<BadYaml> {};

TEST_P(RequestAuthenticationInvalid, IsRecordedAndFailsClosed) {
  const std::string yaml = std::string(R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bad, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules:
)") + GetParam().rules;
  source::Snapshot snap;
  source::loadDocuments(yaml, "bad.yaml", snap);
  auto st = state::stateFromSnapshot(snap, {});
  ASSERT_EQ(st->requestAuthns().count("payments/bad"), 1u);
  const auto& ra = st->requestAuthns().at("payments/bad");
  ASSERT_FALSE(ra.invalid.empty());
  std::string all;
  for (const auto& i : ra.invalid) all += i + "\n";
  EXPECT_NE(all.find(GetParam().expected), std::string::npos) << all;
  // Fail closed: a request with no token at all is refused too.
  FakeJwks jwks;
  auto a = authenticate({&ra}, jwt::RequestView{{}, "/"}, jwks.lookup(), kNow, false);
  EXPECT_EQ(a.kind, Kind::Failed);
  EXPECT_EQ(a.failure, "invalid_policy");
}

INSTANTIATE_TEST_SUITE_P(
    Table, RequestAuthenticationInvalid,
    ::testing::Values(
        BadYaml{"MisspeltAudiences", "  - {issuer: a, jwksUri: 'https://k/j', audience: [x]}\n",
                "unknown field 'audience'"},
        BadYaml{"NoIssuer", "  - {jwksUri: 'https://k/j'}\n", "issuer is required"},
        BadYaml{"NoKeysAndAnIssuerThatIsNoUrl", "  - {issuer: a}\n",
                "neither jwks nor jwksUri, and issuer 'a' is not an http(s) URL"},
        BadYaml{"UriNotHttp", "  - {issuer: a, jwksUri: 'file:///etc/jwks'}\n", "is not an http(s) URL"},
        BadYaml{"BadTimeout", "  - {issuer: a, jwksUri: 'https://k/j', timeout: 5}\n", "is not a duration"},
        BadYaml{"InlineJwksNotJson", "  - {issuer: a, jwks: 'not json'}\n", "jwks:"},
        BadYaml{"HeaderWithoutName", "  - {issuer: a, jwksUri: 'https://k/j', fromHeaders: [{prefix: x}]}\n",
                "has no name"},
        BadYaml{"ForwardNotBool", "  - {issuer: a, jwksUri: 'https://k/j', forwardOriginalToken: yes-please}\n",
                "must be true or false"},
        BadYaml{"ClaimHeaderBadName",
                "  - {issuer: a, jwksUri: 'https://k/j', outputClaimToHeaders: [{header: 'x y', claim: sub}]}\n",
                "needs a header name"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RequestAuthenticationYaml, AnIssuerAloneFindsItsKeysByOpenIdDiscovery) {
  source::Snapshot snap;
  source::loadDocuments(R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: keycloak, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules: [{issuer: 'https://sso.bank.example/realms/bank/'}]
)",
                        "k.yaml", snap);
  auto st = state::stateFromSnapshot(snap, {});
  const auto& ra = st->requestAuthns().at("payments/keycloak");
  EXPECT_TRUE(ra.invalid.empty());
  ASSERT_EQ(ra.providers.size(), 1u);
  EXPECT_EQ(ra.providers[0].jwksUri, "https://sso.bank.example/realms/bank/.well-known/openid-configuration");
  EXPECT_FALSE(ra.providers[0].keys);
}

TEST(RequestAuthenticationYaml, ASelectorBoundObjectIsNoWaypointsAndSaysSo) {
  source::Snapshot snap;
  source::loadDocuments(R"(
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: {name: sidecar, namespace: payments}
spec:
  selector: {matchLabels: {app: loans}}
  jwtRules: [{issuer: a, jwksUri: 'https://k/j'}]
)",
                        "s.yaml", snap);
  std::vector<Error> notes;
  auto st = state::stateFromSnapshot(snap, {}, &notes);
  EXPECT_TRUE(st->requestAuthns().empty());
  bool said = false;
  for (const auto& n : notes) said |= n.message.find("RequestAuthentication payments/sidecar") != std::string::npos;
  EXPECT_TRUE(said);
}

// ---- authenticate(): one request ------------------------------------------------------

struct Case {
  const char* name;
  std::function<Req()> request;
  Kind kind;
  const char* failure = "";    // Failed: the metrics label
  const char* body = "";       // Failed: the 401 body
  const char* principal = "";  // Verified
};

class AuthenticateTable : public ::testing::TestWithParam<Case> {};

TEST_P(AuthenticateTable, Verdict) {
  auto st = cluster();
  FakeJwks jwks;
  jwks.publish({keys().partner.publicJwk("p-1", "ES256")});
  const Req request = GetParam().request();
  // Without the verified-token cache, then with it twice (a valid token is
  // remembered the first time and a hit the second): one verdict throughout.
  jwt::VerifiedTokenCache cache;
  for (jwt::VerifiedTokenCache* c : {static_cast<jwt::VerifiedTokenCache*>(nullptr), &cache, &cache}) {
    SCOPED_TRACE(c ? "with the cache" : "without a cache");
    auto a = run(*st, request, jwks, false, kNow, c);
    EXPECT_EQ(a.kind, GetParam().kind) << a.reason;
    EXPECT_EQ(a.failure, GetParam().failure) << a.reason;
    if (a.kind == Kind::Failed) {
      EXPECT_EQ(a.body, GetParam().body);
    }
    if (a.kind == Kind::Verified) {
      ASSERT_TRUE(a.token);
      EXPECT_EQ(a.token->principal, GetParam().principal);
    }
  }
  if (GetParam().kind == Kind::Verified) {
    EXPECT_GE(cache.stats().hits, 1u);
  }
}

Req bearer(std::string token) { return Req{{{"authorization", "Bearer " + token}}}; }

INSTANTIATE_TEST_SUITE_P(
    Table, AuthenticateTable,
    ::testing::Values(
        Case{"NoTokenPassesUnauthenticated", [] { return Req{}; }, Kind::None},
        Case{"BearerTokenVerified", [] { return bearer(bankToken()); }, Kind::Verified, "", "",
             "https://idp.bank.example/alice"},
        Case{"AccessTokenParamByDefault",
             [] {
               return Req{{}, "/api/loans/my/1?access_token=" + bankToken()};
             },
             Kind::Verified, "", "", "https://idp.bank.example/alice"},
        Case{"PartnerHeaderWithPrefix",
             [] {
               return Req{{{"x-partner-token", "Token " + partnerToken(keys().partner, "p-1")}}};
             },
             Kind::Verified, "", "", "https://partner.example/bob"},
        Case{"PartnerHeaderPrefixMismatchIsNoToken",
             [] {
               return Req{{{"x-partner-token", "Bearer " + partnerToken(keys().partner, "p-1")}}};
             },
             Kind::None},
        Case{"PartnerParam",
             [] {
               return Req{{}, "/x?partner_token=" + partnerToken(keys().partner, "p-1")};
             },
             Kind::Verified, "", "", "https://partner.example/bob"},
        Case{"PartnerCookie",
             [] {
               return Req{{{"cookie", "a=1; partner=" + partnerToken(keys().partner, "p-1")}}};
             },
             Kind::Verified, "", "", "https://partner.example/bob"},
        Case{"PartnerTokenInBearerIsNotItsLocation", [] { return bearer(partnerToken(keys().partner, "p-1")); },
             Kind::Failed, "issuer_not_configured", "Jwt issuer is not configured"},
        Case{"Expired",
             [] {
               return bearer(bankToken({{"exp", kNowS - 61}}));
             },
             Kind::Failed, "expired", "Jwt is expired"},
        Case{"ExpiredWithinSkewPasses",
             [] {
               return bearer(bankToken({{"exp", kNowS - 59}}));
             },
             Kind::Verified, "", "", "https://idp.bank.example/alice"},
        Case{"NotYetValid",
             [] {
               return bearer(bankToken({{"nbf", kNowS + 120}}));
             },
             Kind::Failed, "not_yet_valid", "Jwt not yet valid"},
        Case{"WrongAudience",
             [] {
               return bearer(bankToken({{"aud", "cards"}}));
             },
             Kind::Failed, "audience_mismatch", "Audiences in Jwt are not allowed"},
        Case{"UnknownIssuer",
             [] {
               return bearer(mint::token(keys().stranger, {{"alg", "RS256"}, {"kid", "bank-1"}},
                                         claims("https://evil.example", "mallory")));
             },
             Kind::Failed, "issuer_not_configured", "Jwt issuer is not configured"},
        Case{"SignedByAStrangerUnderTheBanksKid",
             [] {
               return bearer(mint::token(keys().stranger, {{"alg", "RS256"}, {"kid", "bank-1"}},
                                         claims("https://idp.bank.example", "mallory")));
             },
             Kind::Failed, "bad_signature", "Jwt verification fails"},
        Case{"AlgNone",
             [] {
               return bearer(mint::b64url(R"({"alg":"none"})") + "." +
                             mint::b64url(claims("https://idp.bank.example", "mallory").dump()) + ".");
             },
             Kind::Failed, "alg_none", "Jwt header [alg] is not supported"},
        Case{"Hs256WithThePublicKeyAsSecret",
             [] {
               auto s = mint::Signed{mint::b64url(R"({"alg":"HS256","kid":"bank-1"})"),
                                     mint::b64url(claims("https://idp.bank.example", "mallory").dump()), ""};
               s.signature = mint::hmacSha256(keys().bank.publicPem(), s.signingInput());
               return bearer(s.compact());
             },
             Kind::Failed, "key_algorithm_mismatch", "Jwks doesn't have key to match kid or alg from Jwt"},
        Case{"GarbageToken", [] { return bearer("not-a-token"); }, Kind::Failed, "malformed",
             "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
        Case{"EmptyBearer",
             [] {
               return Req{{{"authorization", "Bearer "}}};
             },
             Kind::Failed, "malformed",
             "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
        Case{"TwoValidTokensOfTwoIssuers",
             [] {
               Req r = bearer(bankToken());
               r.headers.emplace_back("x-partner-token", "Token " + partnerToken(keys().partner, "p-1"));
               return r;
             },
             Kind::Verified, "", "", "https://idp.bank.example/alice"},
        Case{"AValidAndAnExpiredTokenFail",
             [] {
               Req r = bearer(bankToken());
               r.target += "?partner_token=" + partnerToken(keys().partner, "p-1", {{"exp", kNowS - 3600}});
               return r;
             },
             Kind::Failed, "expired", "Jwt is expired"},
        Case{"NoSubVerifiesWithoutAPrincipal",
             [] {
               json c = claims("https://idp.bank.example", "x");
               c.erase("sub");
               return bearer(mint::token(keys().bank, {{"alg", "RS256"}, {"kid", "bank-1"}}, c));
             },
             Kind::Verified, "", "", ""}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- jwksUri: keys fetched, and a rotation ---------------------------------------------

TEST(AuthenticateJwksUri, NoKeysYetAsksForAFetchThenFailsIfStillNone) {
  auto st = cluster();
  FakeJwks jwks;
  Req r{{{"x-partner-token", "Token " + partnerToken(keys().partner, "p-1")}}};
  auto a = run(*st, r, jwks);
  ASSERT_EQ(a.kind, Kind::NeedKeys);
  EXPECT_EQ(a.jwksUri, "https://keys.partner.example/jwks.json");
  EXPECT_EQ(a.timeout, std::chrono::milliseconds(2000));
  auto b = run(*st, r, jwks, /*afterRefresh=*/true);
  EXPECT_EQ(b.kind, Kind::Failed);
  EXPECT_EQ(b.failure, "jwks_unavailable");
  EXPECT_EQ(b.body, "Jwks remote fetch is failed");
}

TEST(AuthenticateJwksUri, ANewKidWaitsForTheRefetchAndThenVerifies) {
  auto st = cluster();
  FakeJwks jwks;
  jwks.publish({keys().partner.publicJwk("p-1", "ES256")});
  Req r{{{"x-partner-token", "Token " + partnerToken(keys().rotated, "p-2")}}};
  EXPECT_EQ(run(*st, r, jwks).kind, Kind::NeedKeys);
  jwks.publish({keys().partner.publicJwk("p-1", "ES256"), keys().rotated.publicJwk("p-2", "ES256")});
  auto a = run(*st, r, jwks, true);
  EXPECT_EQ(a.kind, Kind::Verified) << a.reason;
}

TEST(AuthenticateJwksUri, AKidStillUnknownAfterTheRefetchIs401) {
  auto st = cluster();
  FakeJwks jwks;
  jwks.publish({keys().partner.publicJwk("p-1", "ES256")});
  Req r{{{"x-partner-token", "Token " + partnerToken(keys().rotated, "p-9")}}};
  auto a = run(*st, r, jwks, true);
  EXPECT_EQ(a.kind, Kind::Failed);
  EXPECT_EQ(a.failure, "unknown_kid");
}

// ---- what reaches the upstream ---------------------------------------------------------

TEST(AuthenticateForwarding, TheTokenIsRemovedAndTheRulesHeadersWritten) {
  auto st = cluster();
  FakeJwks jwks;
  const std::string token = bankToken({{"realm", {{"tier", "gold"}}}, {"roles", json::array({"a", "b"})}});
  Req r = bearer(token);
  r.headers.emplace_back("x-user", "forged-by-client");
  auto a = run(*st, r, jwks);
  ASSERT_EQ(a.kind, Kind::Verified) << a.reason;
  EXPECT_TRUE(removes(a, "authorization"));
  EXPECT_TRUE(removes(a, "x-user"));  // the client's copy goes
  EXPECT_EQ(added(a, "x-user"), "alice");
  EXPECT_EQ(added(a, "x-realm-tier"), "gold");
  EXPECT_FALSE(added(a, "x-roles"));  // a list is not written, as Envoy
  const size_t dot = token.find('.');
  EXPECT_EQ(added(a, "x-jwt-payload"), token.substr(dot + 1, token.find('.', dot + 1) - dot - 1));
}

TEST(AuthenticateForwarding, ForwardOriginalTokenKeepsIt) {
  auto st = cluster();
  FakeJwks jwks;
  jwks.publish({keys().partner.publicJwk("p-1", "ES256")});
  auto a = run(*st, Req{{{"x-partner-token", "Token " + partnerToken(keys().partner, "p-1")}}}, jwks);
  ASSERT_EQ(a.kind, Kind::Verified);
  EXPECT_FALSE(removes(a, "x-partner-token"));
}

TEST(AuthenticateForwarding, WithoutATokenClientCopiesOfOutputHeadersAreStillRemoved) {
  auto st = cluster();
  FakeJwks jwks;
  auto a = run(*st, Req{{{"x-user", "admin"}, {"x-jwt-payload", "e30"}}}, jwks);
  EXPECT_EQ(a.kind, Kind::None);
  EXPECT_TRUE(removes(a, "x-user"));
  EXPECT_TRUE(removes(a, "x-jwt-payload"));
}

TEST(AuthenticateForwarding, AnObjectBoundToAnotherServiceTouchesNothing) {
  // Bound to Service cards only: a request to loans meets no RequestAuthentication.
  source::Snapshot snap;
  source::loadDocuments(R"(
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: cards-only, namespace: payments}
spec:
  targetRefs: [{kind: Service, name: cards}]
  jwtRules: [{issuer: a, jwksUri: 'https://k/j', outputClaimToHeaders: [{header: x-user, claim: sub}]}]
)",
                        "c.yaml", snap);
  auto st = state::stateFromSnapshot(snap, {});
  ASSERT_EQ(st->requestAuthns().size(), 1u);
  FakeJwks jwks;
  Req r = bearer("garbage");
  r.headers.emplace_back("x-user", "kept");
  auto a = run(*st, r, jwks);
  EXPECT_EQ(a.kind, Kind::None);
  EXPECT_TRUE(a.removeHeaders.empty());
}

// ---- with AuthorizationPolicy: 401 before 403, principals and claims -------------------

http1::MessageHead get(const std::string& path, http1::HeaderList headers) {
  http1::MessageHead h;
  h.method = "GET";
  h.target = path;
  h.path = path.substr(0, path.find('?'));
  h.host = "loans.payments";
  h.headers = std::move(headers);
  return h;
}

RequestPlan plan(const state::ClusterState& st, const http1::MessageHead& h) {
  FakeJwks jwks;
  auto a = authenticate(requestAuthnsFor(st, self(), toLoans()), jwt::RequestView{h.headers, h.target}, jwks.lookup(),
                        kNow, false);
  return planRequest(st, self(), toLoans(), h, 0, std::move(a));
}

TEST(AuthenticatePlan, ACustomerReadsHisLoans) {
  auto st = cluster();
  auto p = plan(*st, get("/api/loans/my/1", {{"authorization", "Bearer " + bankToken()}}));
  EXPECT_EQ(p.action, RequestPlan::Action::Forward) << p.decision.reason;
  auto up = upstreamHead(get("/api/loans/my/1", {{"authorization", "Bearer " + bankToken()}}), p);
  for (const auto& [n, v] : up.headers) EXPECT_NE(n, "authorization");
}

TEST(AuthenticatePlan, NoTokenIs403NotA401) {
  auto st = cluster();
  auto p = plan(*st, get("/api/loans/my/1", {}));
  EXPECT_EQ(p.status, 403);
  EXPECT_EQ(p.body, "RBAC: access denied");
  EXPECT_TRUE(p.responseHeaders.empty()) << "an RBAC denial has no Bearer challenge";
}

TEST(AuthenticatePlan, AnInvalidTokenIs401WithABearerChallengeEvenWherePolicyWouldDeny) {
  auto st = cluster();
  auto p = plan(*st, get("/api/loans/all?page=2", {{"authorization", "Bearer " + bankToken({{"exp", 1}})}}));
  EXPECT_EQ(p.status, 401);
  EXPECT_EQ(p.body, "Jwt is expired");
  EXPECT_NE(p.decision.reason.find("payments/idp"), std::string::npos);
  // Envoy's challenge (RFC 6750), the query left out: a token may ride in it.
  EXPECT_EQ(p.responseHeaders, (http1::HeaderList{{"www-authenticate",
                                                   "Bearer realm=\"http://loans.payments/api/loans/all\", "
                                                   "error=\"invalid_token\""}}));
}

TEST(AuthenticatePlan, AnAudienceNotAllowedIs403AsEnvoyAnswersIt) {
  // Envoy's jwt_authn: JwtAudienceNotAllowed is Forbidden, every other failure
  // Unauthorized; the body and the challenge are the same kind.
  auto st = cluster();
  auto p = plan(*st, get("/api/loans/my/1", {{"authorization", "Bearer " + bankToken({{"aud", "x"}})}}));
  EXPECT_EQ(p.status, 403);
  EXPECT_EQ(p.body, "Audiences in Jwt are not allowed");
  EXPECT_EQ(p.authn.failure, "audience_mismatch");
  ASSERT_EQ(p.responseHeaders.size(), 1u);
  EXPECT_EQ(p.responseHeaders[0].first, "www-authenticate");
}

TEST(AuthenticatePlan, ACustomerCannotReadOthersLoans) {
  auto st = cluster();
  auto p = plan(*st, get("/api/loans/all", {{"authorization", "Bearer " + bankToken()}}));
  EXPECT_EQ(p.status, 403);
}

TEST(AuthenticatePlan, ALoanOfficerByANestedListClaimReadsEverything) {
  auto st = cluster();
  auto officer = bankToken({{"realm_access", {{"roles", json::array({"customer", "loan-officer"})}}}}, "carol");
  auto p = plan(*st, get("/api/loans/all", {{"authorization", "Bearer " + officer}}));
  EXPECT_EQ(p.action, RequestPlan::Action::Forward) << p.decision.reason;
  auto customer = bankToken({{"realm_access", {{"roles", json::array({"customer"})}}}}, "dave");
  EXPECT_EQ(plan(*st, get("/api/loans/all", {{"authorization", "Bearer " + customer}})).status, 403);
}

}  // namespace
}  // namespace warren::waypoint
