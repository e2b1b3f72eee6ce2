#include "tunnel/proxy/connection_metrics.h"

namespace warren::proxy {
namespace {
// "ns/name" -> {name, ns}; anything else stays unknown (rendered "unknown").
std::pair<std::string, std::string> split(const std::string& nsName) {
  auto slash = nsName.find('/');
  if (slash == std::string::npos) return {"", ""};
  return {nsName.substr(slash + 1), nsName.substr(0, slash)};
}
}  // namespace

telemetry::TcpLabels tcpLabels(const ConnectionRecord& rec) {
  telemetry::TcpLabels l;
  // Istio: the client side's proxy reports as "source", the server side's as
  // "destination".
  l.reporter = rec.direction == "outbound" ? "source" : "destination";
  std::tie(l.source_workload, l.source_workload_namespace) = split(rec.srcWorkload);
  std::tie(l.destination_workload, l.destination_workload_namespace) = split(rec.dstWorkload);
  l.source_principal = rec.srcIdentity;
  l.destination_principal = rec.dstIdentity;
  l.destination_service = rec.dstService;
  l.connection_security_policy = rec.security == "mutual_tls" ? "mutual_tls" : "none";
  l.response_flags = rec.responseFlags.empty() ? "-" : rec.responseFlags;
  return l;
}

}  // namespace warren::proxy
