// The report's certificates section: the `cert` records of the tunnels' and
// waypoints' identity managers (README "Audit evidence").
#include <nlohmann/json.hpp>

#include "audit/report.h"

namespace warren::audit {

namespace {
std::string certField(const nlohmann::json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
}
// "spiffe://td/ns/NS/sa/SA" -> "NS" ("" for anything else).
std::string namespaceOf(const std::string& spiffeId) {
  const size_t at = spiffeId.find("/ns/");
  if (at == std::string::npos) return "";
  const size_t from = at + 4, to = spiffeId.find('/', from);
  return spiffeId.substr(from, to == std::string::npos ? std::string::npos : to - from);
}
}  // namespace

std::optional<CertEventRow> certEventRow(const nlohmann::json& j, const std::string& node,
                                         const ReportOptions& options) {
  auto at = parseUtcTimestamp(certField(j, "time"));
  if (!at) return std::nullopt;
  if (options.since && *at < *options.since) return std::nullopt;
  if (options.until && *at >= *options.until) return std::nullopt;
  CertEventRow r;
  r.spiffeId = certField(j, "spiffe_id");
  if (!options.ns.empty() && namespaceOf(r.spiffeId) != options.ns) return std::nullopt;
  r.node = node;
  r.event = certField(j, "event");
  r.serial = certField(j, "serial");
  r.issuer = certField(j, "issuer");
  r.notBefore = certField(j, "not_before");
  r.notAfter = certField(j, "not_after");
  r.previousSerial = certField(j, "previous_serial");
  r.reason = certField(j, "reason");
  r.time = *at;
  return r;
}

}  // namespace warren::audit
