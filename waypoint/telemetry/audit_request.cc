#include "waypoint/telemetry/audit_request.h"

#include "audit/chain.h"
#include "common/json_line.h"

namespace warren::waypoint::telemetry {

std::string requestAuditFields(const RequestRecord& rec, std::string_view waypoint) {
  const auto end = rec.startTime + std::chrono::duration_cast<std::chrono::system_clock::duration>(rec.duration);
  JsonLine j;
  j.field("method", rec.method)
      .field("path", rec.path)
      .field("authority", rec.authority)
      .field("protocol", rec.httpVersion)
      .field("response_code", rec.responseCode)
      .field("response_flags", rec.responseFlags)
      .field("security", rec.connectionSecurityPolicy)
      .field("tls_version", rec.tlsVersion.empty() ? "none" : rec.tlsVersion)
      .field("tls_cipher", rec.tlsCipher.empty() ? "none" : rec.tlsCipher)
      .field("src_identity", rec.source.principal)
      .field("dst_identity", rec.destination.principal)
      .field("request_principal", rec.requestPrincipal)
      .field("src_namespace", rec.source.workloadNamespace)
      .field("src_workload", rec.source.workload)
      .field("src_addr", rec.sourceAddress)
      .field("dst_namespace", rec.destination.workloadNamespace)
      .field("dst_workload", rec.destination.workload)
      .field("dst_service", rec.destinationService)
      .field("dst_port", std::to_string(rec.destinationPort))
      .field("verdict", rec.verdict)
      .field("policy", rec.policy)
      .field("policy_sha256", rec.policySha256)
      .field("policy_reason", rec.policyReason)
      .field("start", audit::utcTimestamp(rec.startTime))
      .field("end", audit::utcTimestamp(end))
      .field("bytes_sent", rec.requestBytes)
      .field("bytes_received", rec.responseBytes)
      .field("waypoint", waypoint);
  std::string line = j.finish();
  return line.substr(1, line.size() - 2);
}

}  // namespace warren::waypoint::telemetry
