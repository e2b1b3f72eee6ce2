#include "tunnel/proxy/access_log.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace warren::proxy {

std::string formatConnection(const ConnectionRecord& rec) {
  nlohmann::json j = {
      {"direction", rec.direction},
      {"protocol", rec.protocol},
      {"security", rec.security},
      {"pod", rec.pod},
      {"src", rec.src},
      {"dst", rec.dst},
      {"src_identity", rec.srcIdentity},
      {"dst_identity", rec.dstIdentity},
      {"src_workload", rec.srcWorkload},
      {"dst_workload", rec.dstWorkload},
      {"dst_service", rec.dstService},
      {"bytes_sent", rec.bytesSent},
      {"bytes_received", rec.bytesReceived},
      {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(rec.duration).count()},
      {"end", rec.endReason},
      {"response_flags", rec.responseFlags},
  };
  if (!rec.verdict.empty()) {
    j["verdict"] = rec.verdict;
    j["policy"] = rec.policy;
    j["policy_reason"] = rec.policyReason;
  }
  if (!rec.audit.empty()) j["audit"] = rec.audit;
  if (!rec.dryRun.empty()) j["dry_run"] = rec.dryRun;
  if (!rec.via.empty()) j["via"] = rec.via;
  if (!rec.waypoint.empty()) j["waypoint"] = rec.waypoint;
  if (rec.status) j["hbone_status"] = rec.status;
  return j.dump();
}

void logConnection(const ConnectionRecord& rec) { spdlog::info("access {}", formatConnection(rec)); }

}  // namespace warren::proxy
