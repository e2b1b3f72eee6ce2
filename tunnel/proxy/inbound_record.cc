#include "tunnel/proxy/inbound_record.h"

#include "tunnel/proxy/decisions.h"

namespace warren::proxy {

ConnectAnswer answerConnect(const hbone::RequestVerdict& verdict, const authz::Decision* decision) {
  if (verdict.status != 200) return {400, "refused with 400: " + verdict.reason};
  if (!decision || !decision->allowed)
    return {401, "refused with 401: " + (decision ? decision->reason : std::string("not authorized"))};
  return {200, ""};
}

ConnectionRecord inboundHboneRecord(const std::string& pod, const hbone::Headers& request,
                                    const hbone::RequestVerdict& verdict, const std::string& peerLabel,
                                    const std::optional<identity::SpiffeId>& peerIdentity,
                                    const std::string& dstIdentity) {
  ConnectionRecord rec;
  rec.direction = "inbound";
  rec.protocol = "hbone";
  rec.security = "mutual_tls";
  rec.pod = pod;
  rec.src = verdict.forwardedFor.empty() ? peerLabel : verdict.forwardedFor;
  rec.dst = hbone::findHeader(request, ":authority").value_or("");
  rec.srcIdentity = peerIdentity ? peerIdentity->uri() : "";
  rec.dstIdentity = dstIdentity;
  return rec;
}

ConnectionRecord inboundPlaintextRecord(const std::string& pod, const std::string& src, const std::string& dst,
                                        const std::string& dstIdentity) {
  ConnectionRecord rec;
  rec.direction = "inbound";
  rec.protocol = "tcp";
  rec.security = "none";
  rec.pod = pod;
  rec.src = src;
  rec.dst = dst;
  rec.dstIdentity = dstIdentity;
  return rec;
}

void recordAuthorization(ConnectionRecord& rec, const state::ClusterState& st, const state::Workload& dst,
                         const std::string& podName, const authz::ConnectionFacts& facts, const authz::Decision& d) {
  if (const auto* src = st.findByIp(facts.srcIp)) rec.srcWorkload = src->ns + "/" + src->name;
  rec.dstWorkload = podName;
  rec.dstService = guessInboundService(st, dst, static_cast<uint16_t>(facts.dstPort));
  rec.verdict = d.allowed ? "allow" : "deny";
  rec.policy = d.policy;
  rec.policyReason = d.reason;
  rec.audit = d.audits;
  rec.dryRun = d.dryRun;
  if (!d.allowed) rec.responseFlags = "DENY";
}

void recordStreamEnd(ConnectionRecord& rec, const hbone::StreamStats& stats, const std::string& endReason) {
  if (stats.status == 503) rec.responseFlags = "CONNECT";
  rec.bytesSent = stats.bytesFromPeer;
  rec.bytesReceived = stats.bytesToPeer;
  rec.duration = stats.duration;
  rec.status = stats.status;
  rec.endReason = endReason.empty() ? stats.endReason : endReason;
  rec.tlsVersion = stats.tlsVersion;
  rec.tlsCipher = stats.tlsCipher;
}

}  // namespace warren::proxy
