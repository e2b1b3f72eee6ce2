// A connection's audit fields from its access-log record: pure, no sockets.

#include "tunnel/proxy/audit_record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/chain.h"

namespace warren::proxy {
namespace {

nlohmann::json fieldsOf(const ConnectionRecord& rec) {
  const auto end = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'765'000'000'250));
  return nlohmann::json::parse("{" + auditFields(rec, end) + "}");
}

ConnectionRecord inboundHbone() {
  ConnectionRecord r;
  r.direction = "inbound";
  r.protocol = "hbone";
  r.security = "mutual_tls";
  r.src = "10.244.1.31:40000";
  r.dst = "10.244.2.31:8080";
  r.srcIdentity = "spiffe://cluster.local/ns/mesh/sa/sa-client";
  r.dstIdentity = "spiffe://cluster.local/ns/mesh/sa/sa-server";
  r.srcWorkload = "mesh/client";
  r.dstWorkload = "mesh/server";
  r.verdict = "allow";
  r.policy = "mesh/only-client";
  r.policySha256 = std::string(64, 'a');
  r.tlsVersion = "TLSv1.3";
  r.tlsCipher = "TLS_AES_256_GCM_SHA384";
  r.duration = std::chrono::milliseconds(1250);
  r.bytesSent = 7;
  return r;
}

TEST(AuditRecord, AnHboneConnectionCarriesItsTlsIdentitiesAndTheSplitPartsOfItsAddresses) {
  auto j = fieldsOf(inboundHbone());
  EXPECT_EQ(j["tls_version"], "TLSv1.3");
  EXPECT_EQ(j["tls_cipher"], "TLS_AES_256_GCM_SHA384");
  EXPECT_FALSE(j.contains("tls_none_reason"));
  EXPECT_EQ(j["src_namespace"], "mesh");
  EXPECT_EQ(j["src_workload"], "client");
  EXPECT_EQ(j["dst_workload"], "server");
  EXPECT_EQ(j["src_addr"], "10.244.1.31");
  EXPECT_EQ(j["src_port"], "40000");
  EXPECT_EQ(j["dst_port"], "8080");
  EXPECT_EQ(j["verdict"], "allow");
  EXPECT_EQ(j["policy_sha256"], std::string(64, 'a'));
  EXPECT_EQ(j["start"], "2025-12-06T05:46:39.000Z");
  EXPECT_EQ(j["end"], "2025-12-06T05:46:40.250Z");
  EXPECT_EQ(j["bytes_sent"], 7);
}

TEST(AuditRecord, AnInboundSourceGivenAsTheConnectionsLabelSplitsToItsAddressAndPort) {
  // A peer that sent no Forwarded header (a waypoint) is recorded by its label.
  ConnectionRecord rec = inboundHbone();
  rec.src = "10.244.1.50:55768 -> payments/ledger";
  auto j = fieldsOf(rec);
  EXPECT_EQ(j["src_addr"], "10.244.1.50");
  EXPECT_EQ(j["src_port"], "55768");
}

TEST(AuditRecord, PlaintextSaysWhyThereWasNoTls) {
  ConnectionRecord out;
  out.direction = "outbound";
  out.protocol = "tcp";
  out.security = "none";
  out.dst = "[fd00::9]:443";
  auto j = fieldsOf(out);
  EXPECT_EQ(j["tls_version"], "none");
  EXPECT_EQ(j["tls_cipher"], "none");
  EXPECT_EQ(j["tls_none_reason"], "plaintext passthrough: the destination is outside the mesh");
  EXPECT_EQ(j["dst_addr"], "fd00::9");
  EXPECT_EQ(j["dst_port"], "443");
  EXPECT_EQ(j["verdict"], "none");  // outbound: the destination decides

  ConnectionRecord in;
  in.direction = "inbound";
  in.protocol = "tcp";
  EXPECT_EQ(noTlsReason(in), "plaintext inbound: the client is outside the mesh");

  ConnectionRecord failed = inboundHbone();
  failed.tlsVersion = failed.tlsCipher = nullptr;
  EXPECT_NE(noTlsReason(failed).find("before its handshake completed"), std::string::npos);
}

TEST(AuditRecord, AnOutboundConnectionTheDestinationRefusedIsADeny) {
  ConnectionRecord r = inboundHbone();
  r.direction = "outbound";
  r.verdict.clear();
  r.responseFlags = "DENY";
  EXPECT_EQ(fieldsOf(r)["verdict"], "deny");
}

}  // namespace
}  // namespace warren::proxy
