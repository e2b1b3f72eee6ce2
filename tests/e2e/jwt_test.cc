// JWT at the waypoint end to end (Istio RequestAuthentication): real curl in the
// checkout pod presents tokens minted here with OpenSSL keys (RSA and EC); the
// waypoint fetches the issuer's JWKS over HTTPS from a real server (openssl
// s_server) in an IdP pod outside the mesh, verified against the IdP's own CA.
//
//   idp/idp 10.244.1.60:8443 (node1, not in the mesh): GET /jwks.json
//   checkout --HBONE--> waypoint (RequestAuthentication, then AuthorizationPolicy)
//            --HBONE--> ledger's tunnel --> app

#include <filesystem>
#include <fstream>

#include "identity/local_ca.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/test_certs.h"
#include "tests/support/waypoint_fixture.h"

namespace warren::e2e {
namespace {

namespace mint = jwt::mint;
using nlohmann::json;

constexpr const char* kIdpIp = "10.244.1.60";
constexpr const char* kIssuer = "https://idp.bank.example";

std::string jwtYaml() {
  return std::string(R"(
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bank-idp, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules:
  - issuer: )") +
         kIssuer + R"(
    audiences: [ledger]
    jwksUri: https://)" +
         kIdpIp + R"(:8443/jwks.json
    outputClaimToHeaders: [{header: x-user, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: loans-customers, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules:
  - from: [{source: {requestPrincipals: [")" +
         kIssuer + R"(/*"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/loans/my/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: loans-officers, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules:
  - to: [{operation: {paths: ["/loans/*"]}}]
    when: [{key: "request.auth.claims[realm_access][roles]", values: ["loan-officer"]}]
)";
}

class JwtTest : public WaypointTest {
 protected:
  std::string clusterYaml() override { return std::string(kWaypointCluster) + jwtYaml(); }
  std::vector<std::string> waypointArgs() override {
    return {"--jwks-ca", pki_.file("ca") + "/root-cert.pem", "--jwks-refresh", "2"};
  }

  void beforeWaypoint() override {
    auto ca = identity::LocalCa::open(pki_.file("ca"), "bank.example");
    ASSERT_TRUE(ca) << ca.error().message;
    auto cert = testcerts::issueCert(pki_.file("ca"), {std::string("IP:") + kIdpIp}, pki_.path(), "idp");
    ASSERT_TRUE(cert) << cert.error().message;
    idpCert_ = *cert;
    std::filesystem::create_directories(pki_.file("www"));
    publish({rsa_.publicJwk("rsa-1", "RS256", "sig"), ec_.publicJwk("ec-1", "ES256", "sig")});
    node(0).writeNamespace("idp", {});
    idp_ = node(0).addPod("idp", "idp", kIdpIp);
    ASSERT_FALSE(isEnrolled(node(0).pinRoot(), idp_.netnsPath())) << "the IdP is outside the mesh";
    startIdp();
  }

  void startIdp() {
    // openssl s_server -WWW serves files of its working directory over TLS.
    auto p = Process::spawnWatched({"nsenter", "--net=" + idp_.netnsPath(), "sh", "-c",
                                    "cd '" + pki_.file("www") + "' && exec openssl s_server -WWW -accept 8443 -cert '" +
                                        idpCert_.chain + "' -key '" + idpCert_.key + "'"},
                                   node(0).runDir() + "/idp.log", "ACCEPT", 10s);
    ASSERT_TRUE(p) << p.error().message;
    idpServer_ = std::move(*p);
  }

  // The IdP's JWKS, replaced atomically as an IdP publishes a new one.
  void publish(std::vector<json> keys) {
    const std::string tmp = pki_.file("www/.jwks.tmp");
    std::ofstream(tmp) << mint::jwks(std::move(keys)).dump();
    std::filesystem::rename(tmp, pki_.file("www/jwks.json"));
  }

  std::string token(const mint::SigningKey& key, const std::string& alg, const std::string& kid, json claims = {}) {
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    json c = {{"iss", kIssuer}, {"sub", "alice"}, {"aud", "ledger"}, {"exp", now + 600}, {"iat", now}};
    for (auto& [k, v] : claims.items()) c[k] = v;
    return mint::token(key, {{"alg", alg}, {"kid", kid}, {"typ", "JWT"}}, c);
  }

  struct Reply {
    int status = 0;
    std::string body;
    std::string challenge;  // the www-authenticate header
  };
  Reply get(const std::string& path, const std::string& bearer = "", bool http2 = false) {
    std::vector<std::string> args = {"-o", "-", "-w", "\n%header{www-authenticate}\n%{http_code}"};
    if (http2) args.push_back("--http2-prior-knowledge");
    if (!bearer.empty()) args.insert(args.end(), {"-H", "Authorization: Bearer " + bearer});
    args.push_back(std::string("http://") + "10.96.0.20" + path);
    const std::string out = curl(args);
    Reply r;
    const size_t nl = out.rfind('\n');
    if (nl == std::string::npos) return r;
    r.status = std::atoi(out.c_str() + nl + 1);
    const size_t nl2 = out.rfind('\n', nl - 1);
    if (nl == 0 || nl2 == std::string::npos) return r;
    r.challenge = out.substr(nl2 + 1, nl - nl2 - 1);
    r.body = out.substr(0, nl2);
    return r;
  }

  json waypointDump() {
    auto r = httpRequest(waypoint_.netnsPath(), "GET", "/config_dump", 15000);
    return json::parse(r.body, nullptr, false);
  }

  // The samples of one metric family on the waypoint's metrics port whose line contains `with`.
  double metric(const std::string& name, const std::string& with) {
    auto r = httpRequest(waypoint_.netnsPath(), "GET", "/metrics", 15020);
    double sum = 0;
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(name + "{", 0) == 0 && line.find(with) != std::string::npos)
        sum += std::stod(line.substr(line.rfind(' ') + 1));
    return sum;
  }

  testcerts::TempDir pki_;
  testcerts::CertFiles idpCert_;
  Pod idp_;
  std::unique_ptr<Process> idpServer_;
  mint::SigningKey rsa_{mint::KeyKind::Rsa2048}, ec_{mint::KeyKind::EcP256}, ec2_{mint::KeyKind::EcP256},
      stranger_{mint::KeyKind::Rsa2048};
};

TEST_F(JwtTest, TokensAreJudgedAsIstioJudgesThem) {
  // A customer's RS256 token: 200, the token removed and the claim header written.
  auto ok = get("/loans/my/1", token(rsa_, "RS256", "rsa-1"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  ASSERT_FALSE(app_->seen().empty());
  EXPECT_EQ(app_->seen().back(), "GET /loans/my/1");
  bool sawUser = false;
  for (const auto& h : app_->headersSeen()) {
    EXPECT_NE(h.rfind("authorization:", 0), 0u) << "the token must not reach the app: " << h;
    sawUser |= h == "x-user: alice";
  }
  EXPECT_TRUE(sawUser) << "outputClaimToHeaders";
  // An ES256 token of the same issuer, over HTTP/2.
  EXPECT_EQ(get("/loans/my/2", token(ec_, "ES256", "ec-1"), true).status, 200);

  // No token: RequestAuthentication lets it pass, the policy wants a principal: 403.
  auto none = get("/loans/my/1");
  EXPECT_EQ(none.status, 403);
  EXPECT_EQ(none.body, "RBAC: access denied");
  // A customer reaching for everyone's loans: 403; a loan officer (a nested list claim): 200.
  EXPECT_EQ(get("/loans/all", token(rsa_, "RS256", "rsa-1")).status, 403);
  EXPECT_EQ(
      get("/loans/all", token(rsa_, "RS256", "rsa-1", {{"realm_access", {{"roles", {"customer", "loan-officer"}}}}}))
          .status,
      200);

  // Invalid tokens: 401 with Envoy's message and Bearer challenge, whatever the
  // policy would say; an audience not allowed is 403, as Envoy answers it.
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  struct Bad {
    std::string token, body;
    int status = 401;
  } bad[] = {
      {token(rsa_, "RS256", "rsa-1", {{"exp", now - 3600}}), "Jwt is expired"},
      {token(stranger_, "RS256", "rsa-1"), "Jwt verification fails"},
      {token(rsa_, "RS256", "rsa-1", {{"aud", "cards"}}), "Audiences in Jwt are not allowed", 403},
      {token(rsa_, "RS256", "rsa-1", {{"iss", "https://evil.example"}}), "Jwt issuer is not configured"},
      {"garbage", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
  };
  for (const auto& b : bad) {
    auto r = get("/loans/my/1", b.token);
    EXPECT_EQ(r.status, b.status) << b.body;
    EXPECT_EQ(r.body, b.body);
    EXPECT_EQ(r.challenge, "Bearer realm=\"http://10.96.0.20/loans/my/1\", error=\"invalid_token\"") << b.body;
  }
  EXPECT_EQ(get("/loans/my/1", token(stranger_, "RS256", "rsa-1"), true).challenge,
            "Bearer realm=\"http://10.96.0.20/loans/my/1\", error=\"invalid_token\"")
      << "over HTTP/2 too";
  EXPECT_EQ(none.challenge, "") << "no token: an RBAC 403, no challenge";
  EXPECT_EQ(app_->seen().size(), 3u) << "nothing refused reached the app";

  // Metrics: 401 and 403 apart, the failures by reason; the access log has both.
  ASSERT_TRUE(eventually([&] { return metric("istio_requests_total", "response_code=\"401\"") == 5; }, 5s));
  EXPECT_EQ(metric("istio_requests_total", "response_code=\"403\""), 3);
  EXPECT_EQ(metric("warren_waypoint_jwt_failures_total", "reason=\"expired\""), 1);
  EXPECT_EQ(metric("warren_waypoint_jwt_failures_total", "reason=\"bad_signature\""), 2);  // HTTP/1.1 and h2
  EXPECT_EQ(metric("warren_waypoint_jwt_failures_total", "reason=\"issuer_not_configured\""), 1);
  // The access log is written in blocks at least once a second: wait for the lines.
  bool principalLogged = false, failureLogged = false;
  eventually(
      [&] {
        for (const auto& e : waypointAccessLog()) {
          principalLogged |= e.value("request_principal", "") == std::string(kIssuer) + "/alice";
          failureLogged |= e.value("response_code_details", "") == "jwt_authn_access_denied{Jwt_is_expired}";
        }
        return principalLogged && failureLogged;
      },
      5s);
  EXPECT_TRUE(principalLogged);
  EXPECT_TRUE(failureLogged);

  // "Why was this denied?": warrenctl explain with the request and the token.
  const std::string file = pki_.file("customer.jwt");
  std::ofstream(file) << "Bearer " << token(rsa_, "RS256", "rsa-1") << "\n";
  std::string out;
  ASSERT_EQ(
      node(0).warrenctl(
          {"-j", "explain", "payments/checkout", "10.96.0.20:80", "--request", "GET /loans/all", "--jwt", file}, &out),
      0)
      << out;
  auto j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  const json& r = j["paths"][0]["waypoint"]["request"];
  EXPECT_EQ(r["status"], 403) << r.dump(2);
  EXPECT_EQ(r["authentication"]["rule"], "payments/bank-idp jwtRules[0]");
  EXPECT_EQ(r["authentication"]["principal"], std::string(kIssuer) + "/alice");
  ASSERT_EQ(node(0).warrenctl(
                {"explain", "payments/checkout", "10.96.0.20:80", "--request", "GET /loans/my/7", "--jwt", file}, &out),
            0);
  EXPECT_NE(out.find("payments/loans-customers"), std::string::npos) << out;
  EXPECT_NE(out.find("200"), std::string::npos) << out;
}

TEST_F(JwtTest, AKeyRotationMidTrafficFailsNoRequest) {
  const std::string before = token(rsa_, "RS256", "rsa-1");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get("/loans/my/1", before).status, 200);
  // The IdP adds a key and signs with it at once: the waypoint has never seen
  // kid ec-2, refetches the JWKS for that request, and the request passes.
  publish({rsa_.publicJwk("rsa-1", "RS256", "sig"), ec_.publicJwk("ec-1", "ES256", "sig"),
           ec2_.publicJwk("ec-2", "ES256", "sig")});
  const std::string after = token(ec2_, "ES256", "ec-2");
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(get("/loans/my/1", after).status, 200) << i;
    EXPECT_EQ(get("/loans/my/1", before).status, 200) << i;
  }
  auto dump = waypointDump();
  ASSERT_TRUE(dump.contains("jwks")) << dump.dump();
  ASSERT_EQ(dump["jwks"].size(), 1u);
  EXPECT_EQ(dump["jwks"][0]["kids"], json({"rsa-1", "ec-1", "ec-2"}));
  EXPECT_EQ(dump["jwks"][0]["last_error"], "");
  // The operator's view, from inside the waypoint's pod.
  std::string out;
  ASSERT_EQ(
      runCommand({"nsenter", "--net=" + waypoint_.netnsPath(), node(0).binPath("warrenctl"), "waypoint", "jwks"}, &out),
      0)
      << out;
  EXPECT_NE(out.find(std::string("https://") + kIdpIp + ":8443/jwks.json  3     rsa-1,ec-1,ec-2"), std::string::npos)
      << out;
}

TEST_F(JwtTest, AnIdpOutageKeepsTheLastGoodKeys) {
  ASSERT_EQ(get("/loans/my/1", token(rsa_, "RS256", "rsa-1")).status, 200);
  idpServer_->stop(SIGTERM);
  idpServer_.reset();
  // Refreshed every 2 s: wait for a failed attempt, then the old keys still verify.
  ASSERT_TRUE(eventually(
      [&] {
        auto d = waypointDump();
        return d.contains("jwks") && d["jwks"].size() == 1 && d["jwks"][0].value("failures", 0) >= 1;
      },
      15s))
      << waypointDump().dump();
  EXPECT_EQ(get("/loans/my/1", token(rsa_, "RS256", "rsa-1")).status, 200);
  // A kid it has never seen cannot be fetched now: 401, not a wait forever.
  auto r = get("/loans/my/1", token(ec2_, "ES256", "ec-9"));
  EXPECT_EQ(r.status, 401);
}

// A partner's IdP named only by its issuer (no jwks, no jwksUri): the waypoint
// finds the keys by OpenID discovery, from the same IdP pod.
class JwtDiscoveryTest : public JwtTest {
 protected:
  static std::string partnerIssuer() { return std::string("https://") + kIdpIp + ":8443/realms/partner"; }
  std::string clusterYaml() override {
    return JwtTest::clusterYaml() + R"(
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: partner-idp, namespace: payments}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules:
  - issuer: )" +
           partnerIssuer() + "\n";
  }
  void beforeWaypoint() override {
    std::filesystem::create_directories(pki_.file("www/realms/partner/.well-known"));
    std::ofstream(pki_.file("www/realms/partner/.well-known/openid-configuration"))
        << json{{"issuer", partnerIssuer()}, {"jwks_uri", std::string("https://") + kIdpIp + ":8443/jwks.json"}}.dump();
    JwtTest::beforeWaypoint();
  }
};

TEST_F(JwtDiscoveryTest, AnIssuerAloneIsEnoughTheKeysAreDiscovered) {
  json officer = {{"iss", partnerIssuer()}, {"realm_access", {{"roles", {"loan-officer"}}}}};
  auto ok = get("/loans/all", token(ec_, "ES256", "ec-1", officer));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(get("/loans/all", token(stranger_, "RS256", "rsa-1", officer)).status, 401) << "a forgery still fails";
  auto dump = waypointDump();
  bool discovered = false;
  for (const auto& j : dump["jwks"])
    discovered |= j.value("uri", "") == partnerIssuer() + "/.well-known/openid-configuration" &&
                  j.value("discovered_jwks_uri", "") == std::string("https://") + kIdpIp + ":8443/jwks.json" &&
                  j.value("have_keys", false);
  EXPECT_TRUE(discovered) << dump["jwks"].dump();
}

}  // namespace
}  // namespace warren::e2e
