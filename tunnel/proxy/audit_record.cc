#include "tunnel/proxy/audit_record.h"

#include "audit/chain.h"
#include "common/json_line.h"

namespace warren::proxy {

namespace {
struct Split {
  std::string_view first, second;
};
// "ns/name" -> {ns, name}; "" -> {"", ""}.
Split workloadParts(std::string_view w) {
  const size_t slash = w.find('/');
  if (slash == std::string_view::npos) return {"", w};
  return {w.substr(0, slash), w.substr(slash + 1)};
}
// "10.0.0.1:80" / "[fd00::1]:80" -> {address, port}; a name without a port as it is.
// An inbound HBONE record's src without a Forwarded header is the connection's
// label, "10.244.1.50:55768 -> payments/ledger": the address is its first word.
Split addressParts(std::string_view a) {
  a = a.substr(0, a.find(' '));
  const size_t colon = a.rfind(':');
  if (colon == std::string_view::npos || (a.find(':') != colon && (a.empty() || a.front() != '['))) return {a, ""};
  std::string_view host = a.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, a.substr(colon + 1)};
}
}  // namespace

std::string noTlsReason(const ConnectionRecord& rec) {
  if (rec.tlsVersion) return "";
  if (rec.protocol == "hbone") return "no TLS session: the HBONE connection failed before its handshake completed";
  if (rec.direction == "outbound") return "plaintext passthrough: the destination is outside the mesh";
  return "plaintext inbound: the client is outside the mesh";
}

std::string auditFields(const ConnectionRecord& rec, std::chrono::system_clock::time_point end) {
  const auto start = end - std::chrono::duration_cast<std::chrono::system_clock::duration>(rec.duration);
  const Split srcW = workloadParts(rec.srcWorkload), dstW = workloadParts(rec.dstWorkload);
  const Split srcA = addressParts(rec.src), dstA = addressParts(rec.dst);
  // Outbound, the destination's tunnel decides; it says "deny" with a 401.
  const std::string verdict = !rec.verdict.empty() ? rec.verdict : rec.responseFlags == "DENY" ? "deny" : "none";
  JsonLine j;
  j.field("direction", rec.direction)
      .field("protocol", rec.protocol)
      .field("security", rec.security)
      .field("tls_version", rec.tlsVersion ? rec.tlsVersion : "none")
      .field("tls_cipher", rec.tlsCipher ? rec.tlsCipher : "none");
  if (!rec.tlsVersion) j.field("tls_none_reason", noTlsReason(rec));
  j.field("src_identity", rec.srcIdentity)
      .field("dst_identity", rec.dstIdentity)
      .field("src_namespace", srcW.first)
      .field("src_workload", srcW.second)
      .field("dst_namespace", dstW.first)
      .field("dst_workload", dstW.second)
      .field("dst_service", rec.dstService)
      .field("src_addr", srcA.first)
      .field("src_port", srcA.second)
      .field("dst_addr", dstA.first)
      .field("dst_port", dstA.second)
      .field("verdict", verdict)
      .field("policy", rec.policy)
      .field("policy_sha256", rec.policySha256)
      .field("policy_reason", rec.policyReason)
      .field("start", audit::utcTimestamp(start))
      .field("end", audit::utcTimestamp(end))
      .field("bytes_sent", rec.bytesSent)
      .field("bytes_received", rec.bytesReceived)
      .field("end_reason", rec.endReason)
      .field("response_flags", rec.responseFlags)
      .field("pod", rec.pod);
  if (!rec.via.empty()) j.field("via", rec.via);
  if (!rec.waypoint.empty()) j.field("waypoint", rec.waypoint);
  std::string line = j.finish();
  return line.substr(1, line.size() - 2);
}

}  // namespace warren::proxy
