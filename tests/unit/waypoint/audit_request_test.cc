// A waypoint's audit record of one HTTP request: built from the RequestRecord
// its access log and metrics use (toRecord), pure, no sockets.

#include "waypoint/telemetry/audit_request.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "identity/identity.h"
#include "io/tcp.h"
#include "jwt/verify.h"
#include "waypoint/telemetry/waypoint_telemetry.h"

namespace warren::waypoint {
namespace {

using nlohmann::json;

const std::string kCheckout = "spiffe://cluster.local/ns/payments/sa/checkout";
const std::string kLedger = "spiffe://cluster.local/ns/payments/sa/ledger";

// 2025-12-06T05:46:40.250Z
const auto kStart = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'765'000'000'250));

telemetry::RequestRecord allowedGet() {
  telemetry::RequestRecord r;
  r.startTime = kStart;
  r.duration = std::chrono::milliseconds(1500);
  r.method = "GET";
  r.path = "/balance/1";
  r.authority = "ledger.payments";
  r.httpVersion = "HTTP/1.1";
  r.requestBytes = 120;
  r.responseBytes = 340;
  r.responseCode = 200;
  r.source.principal = kCheckout;
  r.source.workload = "checkout";
  r.source.workloadNamespace = "payments";
  r.destination.principal = kLedger;
  r.destination.workload = "ledger";
  r.destination.workloadNamespace = "payments";
  r.destinationService = "ledger.payments.svc.cluster.local";
  r.destinationPort = 80;
  r.requestPrincipal = "https://idp.bank.example/alice";
  r.policy = "payments/ledger-read";
  r.policyReason = "ALLOW payments/ledger-read rule 0 matched";
  r.verdict = "allow";
  r.sourceAddress = "10.244.1.10";
  r.tlsVersion = "TLSv1.3";
  r.tlsCipher = "TLS_AES_256_GCM_SHA384";
  r.policySha256 = std::string(64, 'a');
  return r;
}

json fieldsOf(const telemetry::RequestRecord& r) {
  return json::parse("{" + telemetry::requestAuditFields(r, "payments/waypoint") + "}");
}

TEST(RequestAudit, AnAllowedRequestCarriesBothIdentitiesItsTlsItsPolicyAndItsTimes) {
  const json j = fieldsOf(allowedGet());
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/balance/1");
  EXPECT_EQ(j["authority"], "ledger.payments");
  EXPECT_EQ(j["response_code"], 200);
  EXPECT_EQ(j["security"], "mutual_tls");
  EXPECT_EQ(j["tls_version"], "TLSv1.3");
  EXPECT_EQ(j["tls_cipher"], "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(j["src_identity"], kCheckout);
  EXPECT_EQ(j["dst_identity"], kLedger);
  EXPECT_EQ(j["request_principal"], "https://idp.bank.example/alice");
  EXPECT_EQ(j["src_namespace"], "payments");
  EXPECT_EQ(j["src_workload"], "checkout");
  EXPECT_EQ(j["src_addr"], "10.244.1.10");
  EXPECT_EQ(j["dst_service"], "ledger.payments.svc.cluster.local");
  EXPECT_EQ(j["dst_port"], "80");
  EXPECT_EQ(j["verdict"], "allow");
  EXPECT_EQ(j["policy"], "payments/ledger-read");
  EXPECT_EQ(j["policy_sha256"], std::string(64, 'a'));
  EXPECT_EQ(j["start"], "2025-12-06T05:46:40.250Z");
  EXPECT_EQ(j["end"], "2025-12-06T05:46:41.750Z");
  EXPECT_EQ(j["bytes_sent"], 120);  // client to destination, as the tunnel's records
  EXPECT_EQ(j["bytes_received"], 340);
  EXPECT_EQ(j["waypoint"], "payments/waypoint");
}

TEST(RequestAudit, FieldsComeInAFixedOrderAndEveryOneIsAlwaysPresent) {
  const std::vector<std::string> order = {
      "method",        "path",         "authority",      "protocol",      "response_code", "response_flags",
      "security",      "tls_version",  "tls_cipher",     "src_identity",  "dst_identity",  "request_principal",
      "src_namespace", "src_workload", "src_addr",       "dst_namespace", "dst_workload",  "dst_service",
      "dst_port",      "verdict",      "policy",         "policy_sha256", "policy_reason", "start",
      "end",           "bytes_sent",   "bytes_received", "waypoint"};
  telemetry::RequestRecord bare;  // nothing known
  for (const auto& r : {allowedGet(), bare}) {
    const std::string fields = telemetry::requestAuditFields(r, "payments/waypoint");
    size_t at = 0;
    for (const auto& k : order) {
      const size_t found = fields.find("\"" + k + "\":", at);
      ASSERT_NE(found, std::string::npos) << k << " missing or out of order in " << fields;
      at = found;
    }
  }
  const json j = fieldsOf(bare);
  EXPECT_EQ(j["tls_version"], "none");
  EXPECT_EQ(j["tls_cipher"], "none");
  EXPECT_EQ(j["verdict"], "none");
}

// What the waypoint knew of one request, as its session reports it.
RequestOutcome outcome(bool judged, bool allowed, int status) {
  RequestOutcome o;
  o.stream.peerIp = "10.244.1.10";
  o.stream.peerIdentity = identity::workloadIdentity("cluster.local", "payments", "checkout");
  o.stream.tlsVersion = "TLSv1.3";
  o.stream.tlsCipher = "TLS_AES_128_GCM_SHA256";
  o.method = "DELETE";
  o.path = "/balance/1";
  o.status = status;
  o.start = kStart;
  if (judged) {
    o.plan.decidedWith = state::ClusterState::Builder().finish();
    o.plan.decision.allowed = allowed;
    o.plan.decision.policy = allowed ? "payments/ledger-read" : "payments/ledger-no-delete";
    auto token = std::make_shared<jwt::VerifiedToken>();
    token->principal = "https://idp.bank.example/alice";
    o.plan.authn.kind = AuthnResult::Kind::Verified;
    o.plan.authn.token = token;
  }
  return o;
}

TEST(RequestAudit, TheVerdictIsTheWaypointsJudgementNotTheResponseCode) {
  auto st = state::ClusterState::Builder().finish();
  struct Case {
    bool judged, allowed;
    int status;
    std::string verdict;
  } cases[] = {
      {true, true, 200, "allow"},
      {true, true, 503, "allow"},  // allowed, then no upstream: the policy did not refuse it
      {true, false, 403, "deny"},
      {false, false, 400, "none"},  // never judged: the request did not parse
  };
  for (const auto& c : cases) {
    const json j = fieldsOf(toRecord(outcome(c.judged, c.allowed, c.status), *st));
    EXPECT_EQ(j["verdict"], c.verdict) << c.status;
    EXPECT_EQ(j["response_code"], c.status);
  }
}

TEST(RequestAudit, TheInboundHboneSessionAndItsPeerComeFromTheStream) {
  auto st = state::ClusterState::Builder().finish();
  const json j = fieldsOf(toRecord(outcome(true, false, 403), *st));
  EXPECT_EQ(j["src_identity"], kCheckout);
  EXPECT_EQ(j["src_addr"], "10.244.1.10");
  EXPECT_EQ(j["security"], "mutual_tls");
  EXPECT_EQ(j["tls_version"], "TLSv1.3");
  EXPECT_EQ(j["tls_cipher"], "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(j["request_principal"], "https://idp.bank.example/alice");
  EXPECT_EQ(j["policy"], "payments/ledger-no-delete");
  EXPECT_EQ(j["method"], "DELETE");
}

}  // namespace
}  // namespace warren::waypoint
