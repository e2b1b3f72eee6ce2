#include "ztunnel/proxy/access_log.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace warren::proxy {

std::string formatConnection(const ConnectionRecord& rec) {
  nlohmann::json j = {
      {"direction", rec.direction},
      {"pod", rec.pod},
      {"src", rec.src},
      {"dst", rec.dst},
      {"bytes_sent", rec.bytesSent},
      {"bytes_received", rec.bytesReceived},
      {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(rec.duration).count()},
      {"end", rec.endReason},
  };
  return j.dump();
}

void logConnection(const ConnectionRecord& rec) { spdlog::info("access {}", formatConnection(rec)); }

}  // namespace warren::proxy
