#include "tunnel/proxy/access_log.h"

#include <spdlog/spdlog.h>

#include "common/json_line.h"

namespace warren::proxy {

std::string formatConnection(const ConnectionRecord& rec) {
  JsonLine j;
  j.field("direction", rec.direction)
      .field("protocol", rec.protocol)
      .field("security", rec.security)
      .field("pod", rec.pod)
      .field("src", rec.src)
      .field("dst", rec.dst)
      .field("src_identity", rec.srcIdentity)
      .field("dst_identity", rec.dstIdentity)
      .field("src_workload", rec.srcWorkload)
      .field("dst_workload", rec.dstWorkload)
      .field("dst_service", rec.dstService)
      .field("bytes_sent", rec.bytesSent)
      .field("bytes_received", rec.bytesReceived)
      .field("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(rec.duration).count())
      .field("end", rec.endReason)
      .field("response_flags", rec.responseFlags);
  if (!rec.verdict.empty()) {
    j.field("verdict", rec.verdict).field("policy", rec.policy).field("policy_reason", rec.policyReason);
  }
  if (!rec.audit.empty()) j.field("audit", rec.audit);
  if (!rec.dryRun.empty()) j.field("dry_run", rec.dryRun);
  if (!rec.via.empty()) j.field("via", rec.via);
  if (!rec.waypoint.empty()) j.field("waypoint", rec.waypoint);
  if (rec.status) j.field("hbone_status", rec.status);
  return j.finish();
}

void logConnection(const ConnectionRecord& rec) { spdlog::info("access {}", formatConnection(rec)); }

}  // namespace warren::proxy
