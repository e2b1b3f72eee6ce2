#include "ztunnel/proxy/access_log.h"

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
      {"dst_workload", rec.dstWorkload},
      {"bytes_sent", rec.bytesSent},
      {"bytes_received", rec.bytesReceived},
      {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(rec.duration).count()},
      {"end", rec.endReason},
  };
  if (!rec.via.empty()) j["via"] = rec.via;
  if (rec.status) j["hbone_status"] = rec.status;
  return j.dump();
}

void logConnection(const ConnectionRecord& rec) { spdlog::info("access {}", formatConnection(rec)); }

}  // namespace warren::proxy
