// The inbound side's answers and records, without sockets: what a CONNECT stream
// is answered, and what the access log says about it from start to end.

#include "tunnel/proxy/inbound_record.h"

#include <gtest/gtest.h>

#include "source/yaml_source.h"
#include "state/from_snapshot.h"

namespace warren::proxy {
namespace {

hbone::RequestVerdict verdict(int status, std::string reason = "", std::string forwardedFor = "") {
  hbone::RequestVerdict v;
  v.status = status;
  v.reason = std::move(reason);
  v.forwardedFor = std::move(forwardedFor);
  return v;
}

authz::Decision decision(bool allowed, std::string policy = "", std::string reason = "") {
  authz::Decision d;
  d.allowed = allowed;
  d.policy = std::move(policy);
  d.reason = std::move(reason);
  return d;
}

TEST(AnswerConnect, Table) {
  const authz::Decision allow = decision(true, "payments/read", "allowed by ALLOW policy payments/read rules[0]");
  const authz::Decision deny = decision(false, "payments/read", "denied: no ALLOW rule matches");
  struct Row {
    const char* name;
    hbone::RequestVerdict verdict;
    const authz::Decision* decision;
    int status;
    const char* endReason;
  } rows[] = {
      {"allowed", verdict(200), &allow, 200, ""},
      {"denied by policy", verdict(200), &deny, 401, "refused with 401: denied: no ALLOW rule matches"},
      {"bad request wins over any decision", verdict(400, "not CONNECT"), &allow, 400, "refused with 400: not CONNECT"},
      {"bad request, never authorized", verdict(400, "authority 10.0.0.9:80 is not this pod's"), nullptr, 400,
       "refused with 400: authority 10.0.0.9:80 is not this pod's"},
      {"no decision is no permission", verdict(200), nullptr, 401, "refused with 401: not authorized"},
  };
  for (const auto& r : rows) {
    const ConnectAnswer a = answerConnect(r.verdict, r.decision);
    EXPECT_EQ(a.status, r.status) << r.name;
    EXPECT_EQ(a.endReason, r.endReason) << r.name;
  }
}

TEST(InboundRecord, AConnectStreamNamesBothIdentitiesAndTheForwardedClient) {
  const hbone::Headers request = {{":method", "CONNECT"}, {":authority", "10.244.2.20:8080"}};
  const auto peer = identity::SpiffeId::parse("spiffe://cluster.local/ns/payments/sa/checkout");
  auto rec =
      inboundHboneRecord("payments/ledger", request, verdict(200, "", "10.244.1.10"),
                         "10.99.0.1:40000 -> payments/ledger", *peer, "spiffe://cluster.local/ns/payments/sa/ledger");
  EXPECT_EQ(rec.direction, "inbound");
  EXPECT_EQ(rec.protocol, "hbone");
  EXPECT_EQ(rec.security, "mutual_tls");
  EXPECT_EQ(rec.src, "10.244.1.10");
  EXPECT_EQ(rec.dst, "10.244.2.20:8080");
  EXPECT_EQ(rec.srcIdentity, "spiffe://cluster.local/ns/payments/sa/checkout");
  EXPECT_EQ(rec.dstIdentity, "spiffe://cluster.local/ns/payments/sa/ledger");
  // Without `forwarded`, the connection's own peer; without a peer identity, none.
  auto bare = inboundHboneRecord("payments/ledger", {}, verdict(400), "10.99.0.1:40000 -> payments/ledger",
                                 std::nullopt, "spiffe://x");
  EXPECT_EQ(bare.src, "10.99.0.1:40000 -> payments/ledger");
  EXPECT_EQ(bare.dst, "");
  EXPECT_EQ(bare.srcIdentity, "");

  auto plain = inboundPlaintextRecord("payments/ledger", "10.244.3.5:5000", "10.244.2.20:8080", "spiffe://y");
  EXPECT_EQ(plain.protocol, "tcp");
  EXPECT_EQ(plain.security, "none");
  EXPECT_EQ(plain.srcIdentity, "");
}

TEST(InboundRecord, AStreamsEndFillsBytesStatusAndWhy) {
  ConnectionRecord rec;
  hbone::StreamStats s;
  s.bytesFromPeer = 100;  // client -> app
  s.bytesToPeer = 2048;   // app -> client
  s.status = 200;
  s.endReason = "closed";
  recordStreamEnd(rec, s);
  EXPECT_EQ(rec.bytesSent, 100u);
  EXPECT_EQ(rec.bytesReceived, 2048u);
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(rec.endReason, "closed");
  EXPECT_EQ(rec.responseFlags, "-");

  ConnectionRecord unreachable;
  s = {};
  s.status = 503;
  recordStreamEnd(unreachable, s);
  EXPECT_EQ(unreachable.responseFlags, "CONNECT") << "the app could not be reached";

  ConnectionRecord refused;
  s = {};
  s.status = 401;
  s.endReason = "closed";
  recordStreamEnd(refused, s, "refused with 401: denied");
  EXPECT_EQ(refused.endReason, "refused with 401: denied");
  EXPECT_EQ(refused.status, 401);
}

TEST(InboundRecord, TheDecisionNamesWorkloadsServicePolicyAndDeny) {
  source::Snapshot snap;
  source::loadDocuments(R"(
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {warren.io/mode: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: checkout, namespace: payments, labels: {app: checkout}}
spec: {serviceAccountName: checkout}
status: {podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: ledger, namespace: payments, labels: {app: ledger}}
spec: {serviceAccountName: ledger}
status: {podIP: 10.244.2.20}
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: payments}
spec: {clusterIP: 10.96.0.20, selector: {app: ledger}, ports: [{port: 80, targetPort: 8080}]}
)",
                        "c.yaml", snap);
  auto st = state::stateFromSnapshot(snap, {});
  const state::Workload* ledger = st->findByIp("10.244.2.20");
  ASSERT_TRUE(ledger);
  authz::ConnectionFacts facts{"10.244.1.10", std::nullopt, "10.244.2.20", 8080};
  authz::Decision d = decision(false, "payments/only-checkout", "denied: no ALLOW rule matches");
  d.audits = {"payments/audit rules[0]"};
  ConnectionRecord rec;
  recordAuthorization(rec, *st, *ledger, "payments/ledger", facts, d);
  EXPECT_EQ(rec.srcWorkload, "payments/checkout");
  EXPECT_EQ(rec.dstWorkload, "payments/ledger");
  EXPECT_EQ(rec.dstService, "ledger.payments.svc.cluster.local");
  EXPECT_EQ(rec.verdict, "deny");
  EXPECT_EQ(rec.policy, "payments/only-checkout");
  EXPECT_EQ(rec.policyReason, "denied: no ALLOW rule matches");
  EXPECT_EQ(rec.audit, std::vector<std::string>{"payments/audit rules[0]"});
  EXPECT_EQ(rec.responseFlags, "DENY");

  ConnectionRecord allowed;
  facts.srcIp = "10.244.9.9";  // not a workload the state knows
  recordAuthorization(allowed, *st, *ledger, "payments/ledger", facts, decision(true, "payments/p", "ok"));
  EXPECT_EQ(allowed.srcWorkload, "");
  EXPECT_EQ(allowed.verdict, "allow");
  EXPECT_EQ(allowed.responseFlags, "-");
}

}  // namespace
}  // namespace warren::proxy
