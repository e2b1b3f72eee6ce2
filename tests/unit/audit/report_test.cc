// The audit report's aggregation, pure: signed files built in memory from
// connection records like the tunnel's, then counted. Table tests: each case is
// records (on which node, in which direction) in, the report's numbers out.

#include "audit/report.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "audit/chain.h"
#include "audit/signing_key.h"

namespace warren::audit {
namespace {

using nlohmann::json;

struct Key {
  ossl::EvpPkeyPtr pkey{EVP_EC_gen("P-256")};
  SignFn signer() const {
    return [k = pkey.get()](std::string_view m) { return sign(k, m); };
  }
  VerifySignature verifier() const {
    return [k = pkey.get()](std::string_view m, std::string_view s) { return verify(k, m, s); };
  }
};

const std::string kA = "spiffe://cluster.local/ns/shop/sa/checkout";
const std::string kB = "spiffe://cluster.local/ns/legacy/sa/batch";
const std::string kP = "spiffe://cluster.local/ns/shop/sa/payments";

// t seconds after 2026-12-06T10:00:00Z.
std::string at(int t) { return formatUtcTimestamp(*parseUtcTimestamp("2026-12-06T10:00:00Z") + t * 1000LL); }

// A connection as the tunnel records it, both ends: the source's outbound HBONE
// record and the destination's inbound one (which decided).
json outbound(const std::string& srcNs, const std::string& src, const std::string& srcIp, const std::string& srcId,
              int start, int end, const std::string& verdict = "none") {
  return {{"direction", "outbound"},
          {"protocol", "hbone"},
          {"security", "mutual_tls"},
          {"tls_version", "TLSv1.3"},
          {"tls_cipher", "TLS_AES_256_GCM_SHA384"},
          {"src_identity", srcId},
          {"dst_identity", kP},
          {"src_namespace", srcNs},
          {"src_workload", src},
          {"dst_namespace", "shop"},
          {"dst_workload", "payments"},
          {"dst_service", ""},
          {"src_addr", srcIp},
          {"src_port", "40000"},
          {"dst_addr", "10.0.2.10"},
          {"dst_port", "8080"},
          {"verdict", verdict},
          {"policy", ""},
          {"policy_sha256", ""},
          {"start", at(start)},
          {"end", at(end)},
          {"via", "10.0.2.10:15008"}};
}
json inbound(const std::string& srcNs, const std::string& src, const std::string& srcIp, const std::string& srcId,
             int start, int end, bool allow, const std::string& hash = "aa") {
  return {{"direction", "inbound"},
          {"protocol", "hbone"},
          {"security", "mutual_tls"},
          {"tls_version", "TLSv1.3"},
          {"tls_cipher", "TLS_AES_256_GCM_SHA384"},
          {"src_identity", srcId},
          {"dst_identity", kP},
          {"src_namespace", srcNs},
          {"src_workload", src},
          {"dst_namespace", "shop"},
          {"dst_workload", "payments"},
          {"dst_service", "payments.shop.svc.cluster.local"},
          {"src_addr", srcIp},
          {"src_port", ""},
          {"dst_addr", "10.0.2.10"},
          {"dst_port", "8080"},
          {"verdict", allow ? "allow" : "deny"},
          {"policy", "shop/payments-allow"},
          {"policy_sha256", hash},
          {"start", at(start)},
          {"end", at(end)}};
}
// checkout -> an address outside the mesh, plaintext passthrough.
json passthrough(int start, int end) {
  return {{"direction", "outbound"},
          {"protocol", "tcp"},
          {"security", "none"},
          {"tls_version", "none"},
          {"tls_cipher", "none"},
          {"tls_none_reason", "plaintext passthrough: the destination is outside the mesh"},
          {"src_identity", kA},
          {"dst_identity", ""},
          {"src_namespace", "shop"},
          {"src_workload", "checkout"},
          {"dst_namespace", ""},
          {"dst_workload", ""},
          {"dst_service", ""},
          {"src_addr", "10.0.1.5"},
          {"src_port", "41000"},
          {"dst_addr", "192.0.2.7"},
          {"dst_port", "443"},
          {"verdict", "none"},
          {"policy", ""},
          {"policy_sha256", ""},
          {"start", at(start)},
          {"end", at(end)}};
}

std::string members(const json& j) {
  std::string s = j.dump();
  return s.substr(1, s.size() - 2);
}

// A node's closed, signed file of `records`.
AuditFileText file(const Key& key, const std::string& node, const std::vector<json>& records, bool close = true) {
  AuditFileText f{node + "-00000000.audit.jsonl", {}, true};
  ChainHead head = startChain(kNoPreviousFile);
  f.lines.push_back(chainLine(head, "header", headerFields(node, 0, "t")));
  for (const auto& r : records) f.lines.push_back(chainLine(head, "conn", members(r)));
  if (close) f.lines.push_back(*checkpointLine(head, checkpointFields(records.size(), true, "t"), key.signer()));
  return f;
}

VerifiedFiles verified(const Key& key, std::vector<AuditFileText> files) {
  VerifiedFiles g{std::move(files), {}};
  g.verification = verifyAuditFiles(g.files, key.verifier());
  return g;
}

// checkout (node1, 10.0.1.5) -> payments (node2) allowed; batch (node1, 10.0.1.6) denied.
struct Traffic {
  std::vector<json> node1, node2;
  void allowed(int start, int end, const std::string& hash = "aa") {
    node1.push_back(outbound("shop", "checkout", "10.0.1.5", kA, start, end));
    node2.push_back(inbound("shop", "checkout", "10.0.1.5", kA, start, end, true, hash));
  }
  void denied(int start) {
    node1.push_back(outbound("legacy", "batch", "10.0.1.6", kB, start, start + 1, "deny"));
    node2.push_back(inbound("legacy", "batch", "10.0.1.6", kB, start, start + 1, false));
  }
};

const Flow* findFlow(const Report& r, const std::string& source) {
  for (const auto& f : r.flows)
    if (f.key.source == source) return &f;
  return nullptr;
}

TEST(AuditReport, TimestampsParseAsTheTunnelWritesThem) {
  struct Case {
    std::string text;
    std::optional<Millis> want;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T00:00:01.250Z", 1250},
      {"2026-12-06T21:44:21.123Z", 1796593461123},
      {"2026-12-06 21:44:21Z", std::nullopt},
      {"2026-13-06T21:44:21Z", std::nullopt},
      {"2026-12-06T21:44:21", std::nullopt},
      {"2026-12-06T21:44:21.12Z", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parseUtcTimestamp(c.text), c.want) << c.text;
  EXPECT_EQ(formatUtcTimestamp(1796593461123), "2026-12-06T21:44:21.123Z");
}

TEST(AuditReport, EachConnectionCountsOnceFromEitherOrBothEnds) {
  Key key;
  Traffic t;
  t.allowed(0, 5);
  t.allowed(1, 2);
  t.allowed(3, 9);
  t.denied(4);
  t.denied(6);
  struct Case {
    std::string name;
    bool node1, node2;
    uint64_t records, paired;
  } cases[] = {
      {"both nodes", true, true, 10, 5},
      {"source node only", true, false, 5, 0},
      {"destination node only", false, true, 5, 0},
  };
  for (const auto& c : cases) {
    std::vector<VerifiedFiles> groups;
    if (c.node1) groups.push_back(verified(key, {file(key, "node1", t.node1)}));
    if (c.node2) groups.push_back(verified(key, {file(key, "node2", t.node2)}));
    Report r = buildReport(groups, {});
    EXPECT_EQ(r.connections, 5u) << c.name;
    EXPECT_EQ(r.mtls, 5u) << c.name;
    EXPECT_EQ(r.denied, 2u) << c.name;  // the source knows a denial from the 401
    EXPECT_EQ(r.records, c.records) << c.name;
    EXPECT_EQ(r.pairedRecords, c.paired) << c.name;
    ASSERT_EQ(r.flows.size(), 2u) << c.name;
    const Flow* checkout = findFlow(r, "shop/checkout");
    ASSERT_NE(checkout, nullptr) << c.name;
    EXPECT_EQ(checkout->connections, 3u);
    EXPECT_EQ(checkout->denied, 0u);
    EXPECT_EQ(checkout->key.port, "8080");
    // The destination's record names the service; the source's alone, the workload.
    EXPECT_EQ(checkout->key.destination, c.node2 ? "payments.shop.svc.cluster.local" : "shop/payments") << c.name;
    const Flow* batch = findFlow(r, "legacy/batch");
    ASSERT_NE(batch, nullptr);
    EXPECT_EQ(batch->connections, 2u);
    EXPECT_EQ(batch->denied, 2u);
    EXPECT_TRUE(r.plaintext.empty());
  }
}

TEST(AuditReport, AConnectionOnlyItsSourceSawIsCountedNotDropped) {
  Key key;
  Traffic t;
  t.allowed(0, 5);
  // A second connection that failed before the destination heard it: no inbound record.
  json failed = outbound("shop", "checkout", "10.0.1.5", kA, 10, 11);
  failed["tls_version"] = "none";
  failed["tls_none_reason"] = "no TLS session: the HBONE connection failed before its handshake completed";
  t.node1.push_back(failed);
  Report r =
      buildReport({verified(key, {file(key, "node1", t.node1)}), verified(key, {file(key, "node2", t.node2)})}, {});
  EXPECT_EQ(r.connections, 2u);
  EXPECT_EQ(r.mtls, 1u);
  ASSERT_EQ(r.plaintext.size(), 1u);
  EXPECT_EQ(r.plaintext[0].reason, "no TLS session: the HBONE connection failed before its handshake completed");
}

TEST(AuditReport, EveryFlowWithoutMutualTlsIsListedWithItsReason) {
  Key key;
  Traffic t;
  t.allowed(0, 5);
  t.node1.push_back(passthrough(1, 2));
  t.node1.push_back(passthrough(7, 8));
  Report r =
      buildReport({verified(key, {file(key, "node1", t.node1)}), verified(key, {file(key, "node2", t.node2)})}, {});
  EXPECT_EQ(r.connections, 3u);
  EXPECT_EQ(r.mtls, 1u);
  ASSERT_EQ(r.plaintext.size(), 1u);
  const auto& p = r.plaintext[0];
  EXPECT_EQ(p.key.source, "shop/checkout");
  EXPECT_EQ(p.key.destination, "192.0.2.7");
  EXPECT_EQ(p.key.port, "443");
  EXPECT_EQ(p.connections, 2u);
  EXPECT_EQ(p.reason, "plaintext passthrough: the destination is outside the mesh");
  EXPECT_EQ(formatUtcTimestamp(p.first), at(1));
  EXPECT_EQ(formatUtcTimestamp(p.last), at(8));
}

TEST(AuditReport, ATamperedFilesRecordsAreNotCountedAndTheFileSaysSo) {
  Key key;
  Traffic t;
  t.allowed(0, 5);
  t.allowed(6, 7);
  auto good = file(key, "node1", t.node1);
  auto edited = file(key, "node2", t.node2);
  auto& line = edited.lines[1];
  line.replace(line.find("\"allow\""), 7, "\"deny\"");
  auto unsignedTail = file(key, "node3", {passthrough(1, 2)}, /*close=*/false);
  Report r = buildReport({verified(key, {good}), verified(key, {edited}), verified(key, {unsignedTail})}, {});
  ASSERT_EQ(r.files.size(), 3u);
  EXPECT_EQ(r.files[0].verdict, FileVerdict::Verified);
  EXPECT_EQ(r.files[0].node, "node1");
  EXPECT_EQ(r.files[1].verdict, FileVerdict::Tampered);
  EXPECT_FALSE(r.files[1].counted);
  EXPECT_FALSE(r.files[1].findings.empty());
  EXPECT_EQ(r.files[2].verdict, FileVerdict::Unverifiable);
  EXPECT_TRUE(r.files[2].counted);
  EXPECT_EQ(r.excludedRecords, 2u);
  // node1's two outbound records (unpaired now) and node3's passthrough; no denial from the edit.
  EXPECT_EQ(r.connections, 3u);
  EXPECT_EQ(r.denied, 0u);
}

TEST(AuditReport, AWrongKeyMakesEveryFileUnverifiable) {
  Key key, other;
  Traffic t;
  t.allowed(0, 5);
  VerifiedFiles g{{file(key, "node1", t.node1)}, {}};
  g.verification = verifyAuditFiles(g.files, other.verifier());
  Report r = buildReport({g}, {});
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].verdict, FileVerdict::Unverifiable);
  EXPECT_EQ(r.connections, 1u);
}

TEST(AuditReport, TheWindowAndNamespaceSelectConnections) {
  Key key;
  Traffic t;
  t.allowed(0, 5);    // overlaps [4, 20)
  t.allowed(10, 12);  // inside
  t.denied(30);       // after
  t.node1.push_back(passthrough(11, 12));
  auto s = [](int sec) { return parseUtcTimestamp(at(sec)); };
  struct Case {
    std::string name;
    ReportOptions options;
    uint64_t connections, denied;
  } cases[] = {
      {"all", {}, 4, 1},
      {"since 4", {s(4), std::nullopt, ""}, 4, 1},
      {"since 6", {s(6), std::nullopt, ""}, 3, 1},
      {"4 to 20", {s(4), s(20), ""}, 3, 0},
      {"until 10", {std::nullopt, s(10), ""}, 1, 0},
      {"namespace legacy", {std::nullopt, std::nullopt, "legacy"}, 1, 1},
      {"namespace shop", {std::nullopt, std::nullopt, "shop"}, 4, 1},  // legacy -> shop too
      {"namespace other", {std::nullopt, std::nullopt, "other"}, 0, 0},
  };
  for (const auto& c : cases) {
    Report r = buildReport({verified(key, {file(key, "node1", t.node1)}), verified(key, {file(key, "node2", t.node2)})},
                           c.options);
    EXPECT_EQ(r.connections, c.connections) << c.name;
    EXPECT_EQ(r.denied, c.denied) << c.name;
  }
}

TEST(AuditReport, APolicyChangeIsANewHashWithItsOwnFirstAndLast) {
  Key key;
  Traffic t;
  t.allowed(0, 1, "aa");
  t.allowed(2, 3, "aa");
  t.allowed(10, 11, "bb");
  t.denied(12);  // decided under "aa"
  Report r = buildReport({verified(key, {file(key, "node2", t.node2)})}, {});
  ASSERT_EQ(r.policies.size(), 2u);
  EXPECT_EQ(r.policies[0].policy, "shop/payments-allow");
  EXPECT_EQ(r.policies[0].sha256, "aa");
  EXPECT_EQ(r.policies[0].decisions, 3u);
  EXPECT_EQ(r.policies[0].allowed, 2u);
  EXPECT_EQ(r.policies[0].denied, 1u);
  EXPECT_EQ(formatUtcTimestamp(r.policies[0].first), at(0));
  EXPECT_EQ(formatUtcTimestamp(r.policies[0].last), at(13));
  EXPECT_EQ(r.policies[1].sha256, "bb");
  EXPECT_EQ(formatUtcTimestamp(r.policies[1].first), at(10));
  EXPECT_EQ(formatUtcTimestamp(r.policies[1].last), at(11));
}

TEST(AuditReport, TheShareOverTimeBucketsConnectionsByStart) {
  Key key;
  Traffic t;
  t.allowed(0, 1);
  t.allowed(1, 2);
  t.node1.push_back(passthrough(2, 3));
  t.allowed(9, 10);
  ReportOptions o;
  o.since = parseUtcTimestamp(at(0));
  o.until = parseUtcTimestamp(at(10));
  o.shareBuckets = 2;
  Report r =
      buildReport({verified(key, {file(key, "node1", t.node1)}), verified(key, {file(key, "node2", t.node2)})}, o);
  ASSERT_EQ(r.share.size(), 2u);
  EXPECT_EQ(formatUtcTimestamp(r.share[0].start), at(0));
  EXPECT_EQ(formatUtcTimestamp(r.share[1].start), at(5));
  EXPECT_EQ(formatUtcTimestamp(r.share[1].end), at(10));
  EXPECT_EQ(r.share[0].connections, 3u);
  EXPECT_EQ(r.share[0].mtls, 2u);
  EXPECT_EQ(r.share[1].connections, 1u);
  EXPECT_EQ(r.share[1].mtls, 1u);
}

// A waypoint's request record, as warren-waypoint writes it.
json request(const std::string& srcNs, const std::string& src, const std::string& method, int start,
             const std::string& verdict, const std::string& policy, const std::string& hash) {
  return {{"method", method},
          {"path", "/balance/1"},
          {"authority", "payments.shop"},
          {"protocol", "HTTP/1.1"},
          {"response_code", verdict == "allow" ? 200 : 403},
          {"response_flags", "-"},
          {"security", "mutual_tls"},
          {"tls_version", "TLSv1.3"},
          {"tls_cipher", "TLS_AES_256_GCM_SHA384"},
          {"src_identity", kA},
          {"dst_identity", kP},
          {"request_principal", ""},
          {"src_namespace", srcNs},
          {"src_workload", src},
          {"src_addr", "10.0.1.5"},
          {"dst_namespace", "shop"},
          {"dst_workload", "payments"},
          {"dst_service", "payments.shop.svc.cluster.local"},
          {"dst_port", "80"},
          {"verdict", verdict},
          {"policy", policy},
          {"policy_sha256", hash},
          {"policy_reason", ""},
          {"start", at(start)},
          {"end", at(start + 1)},
          {"bytes_sent", 10},
          {"bytes_received", 20},
          {"waypoint", "shop/waypoint"}};
}

// A waypoint's closed, signed file of request records.
AuditFileText waypointFile(const Key& key, const std::vector<json>& records) {
  AuditFileText f{"waypoint-0-00000000.audit.jsonl", {}, true};
  ChainHead head = startChain(kNoPreviousFile);
  f.lines.push_back(chainLine(head, "header", headerFields("waypoint-0", 0, "t")));
  for (const auto& r : records) f.lines.push_back(chainLine(head, "request", members(r)));
  f.lines.push_back(*checkpointLine(head, checkpointFields(records.size(), true, "t"), key.signer()));
  return f;
}

TEST(AuditReport, RequestsCountBySourceDestinationAndMethodWithEveryDecidingPolicy) {
  Key key;
  const std::vector<json> recs = {
      request("shop", "checkout", "GET", 0, "allow", "shop/read", "h1"),
      request("shop", "checkout", "GET", 1, "allow", "shop/read", "h2"),  // the policy changed
      request("shop", "checkout", "GET", 2, "deny", "", ""),              // no ALLOW rule matched
      request("shop", "checkout", "POST", 3, "deny", "shop/no-writes", "h3"),
      request("legacy", "batch", "GET", 4, "deny", "shop/no-legacy", "h4"),
  };
  Traffic t;
  t.allowed(0, 5);  // connections and requests are counted apart
  Report r = buildReport(
      {verified(key, {file(key, "node1", t.node1), file(key, "node2", t.node2), waypointFile(key, recs)})}, {});
  EXPECT_EQ(r.connections, 1u);
  EXPECT_EQ(r.requests, 5u);
  EXPECT_EQ(r.requestsDenied, 3u);
  ASSERT_EQ(r.requestFlows.size(), 3u);
  const RequestFlow& get = r.requestFlows[0];  // most requests first
  EXPECT_EQ(get.key.source, "shop/checkout");
  EXPECT_EQ(get.key.destination, "payments.shop.svc.cluster.local");
  EXPECT_EQ(get.key.method, "GET");
  EXPECT_EQ(get.requests, 3u);
  EXPECT_EQ(get.denied, 1u);
  EXPECT_EQ(get.mtls, 3u);
  EXPECT_EQ(get.policies, (std::vector<DecidingPolicy>{{"shop/read", "h1"}, {"shop/read", "h2"}}));
  for (const auto& f : r.requestFlows) {
    if (f.key.method == "POST") {
      EXPECT_EQ(f.policies, (std::vector<DecidingPolicy>{{"shop/no-writes", "h3"}}));
    }
  }
  // The files table counts every record, requests too.
  for (const auto& f : r.files) {
    if (f.node == "waypoint-0") {
      EXPECT_EQ(f.records, 5u);
    }
  }

  // The window and the namespace select requests as they select connections.
  ReportOptions o;
  o.since = *parseUtcTimestamp(at(3));
  o.ns = "legacy";
  Report w = buildReport({verified(key, {waypointFile(key, recs)})}, o);
  EXPECT_EQ(w.requests, 1u);
  ASSERT_EQ(w.requestFlows.size(), 1u);
  EXPECT_EQ(w.requestFlows[0].key.source, "legacy/batch");
}

TEST(AuditReport, ATamperedWaypointFilesRequestsAreNotCounted) {
  Key key;
  AuditFileText f = waypointFile(key, {request("shop", "checkout", "GET", 0, "allow", "shop/read", "h1"),
                                       request("shop", "checkout", "GET", 1, "deny", "", "")});
  const size_t at = f.lines[2].find("\"deny\"");
  ASSERT_NE(at, std::string::npos);
  f.lines[2].replace(at, 6, "\"allow\"");  // a denial turned into an allow
  Report r = buildReport({verified(key, {f})}, {});
  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.excludedRecords, 2u);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].verdict, FileVerdict::Tampered);
}

TEST(AuditReport, WhatIsNotRecordedIsStatedAndTheControlsCiteRealSections) {
  Report r = buildReport(std::vector<VerifiedFiles>{}, {});
  EXPECT_EQ(r.connections, 0u);
  EXPECT_TRUE(r.share.empty());
  std::set<std::string> notRecorded;
  for (const auto& n : r.notRecorded) notRecorded.insert(n.section);
  EXPECT_EQ(notRecorded, (std::set<std::string>{"coverage"}));
  const std::set<std::string> sections = {"files",      "flows",    "non_mtls_flows", "policies",
                                          "mtls_share", "requests", "certificates",   "coverage"};
  std::set<std::string> controls;
  for (const auto& c : r.controls) {
    controls.insert(c.framework + " " + c.control);
    for (const auto& s : c.sections) EXPECT_TRUE(sections.count(s)) << c.control << " cites " << s;
  }
  EXPECT_EQ(controls, (std::set<std::string>{"PCI DSS 4.0 4.2.1", "PCI DSS 4.0 1.3 / 1.4", "PCI DSS 4.0 10.2",
                                             "SOC 2 CC6.1", "SOC 2 CC6.6", "SOC 2 CC6.7", "DORA Art. 9"}));
}

}  // namespace
}  // namespace warren::audit
