// The report's section of HTTP requests waypoints decided (README "Audit
// evidence", `request` records).
#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "audit/report.h"

namespace warren::audit {

namespace {
std::string field(const nlohmann::json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
}
// "ns/name" when both are known, else `fallback`.
std::string workloadOrElse(const nlohmann::json& j, const char* ns, const char* name, const std::string& fallback) {
  const std::string n = field(j, name);
  return n.empty() ? fallback : field(j, ns) + "/" + n;
}
}  // namespace

std::optional<DecidedRequest> decidedRequest(const nlohmann::json& j, const ReportOptions& options) {
  auto start = parseUtcTimestamp(field(j, "start")), end = parseUtcTimestamp(field(j, "end"));
  if (!start || !end) return std::nullopt;
  if (options.since && *end < *options.since) return std::nullopt;
  if (options.until && *start >= *options.until) return std::nullopt;
  if (!options.ns.empty() && field(j, "src_namespace") != options.ns && field(j, "dst_namespace") != options.ns)
    return std::nullopt;
  DecidedRequest r;
  r.flow.source = workloadOrElse(j, "src_namespace", "src_workload", field(j, "src_addr"));
  r.flow.destination = field(j, "dst_service");
  if (r.flow.destination.empty())
    r.flow.destination = workloadOrElse(j, "dst_namespace", "dst_workload", field(j, "authority"));
  r.flow.method = field(j, "method");
  r.verdict = field(j, "verdict");
  r.policy = {field(j, "policy"), field(j, "policy_sha256")};
  const std::string tls = field(j, "tls_version");
  r.mtls = field(j, "security") == "mutual_tls" && !tls.empty() && tls != "none";
  r.start = *start;
  r.end = *end;
  return r;
}

std::vector<RequestFlow> requestFlows(const std::vector<DecidedRequest>& requests) {
  std::map<RequestFlowKey, RequestFlow> flows;
  std::map<RequestFlowKey, std::set<DecidingPolicy>> policies;
  for (const auto& q : requests) {
    RequestFlow& f = flows[q.flow];
    f.key = q.flow;
    f.requests++;
    f.denied += q.verdict == "deny";
    f.mtls += q.mtls;
    if (!q.policy.policy.empty()) policies[q.flow].insert(q.policy);
  }
  std::vector<RequestFlow> out;
  for (auto& [key, f] : flows) {
    const auto& p = policies[key];
    f.policies.assign(p.begin(), p.end());
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const RequestFlow& a, const RequestFlow& b) { return a.requests > b.requests; });
  return out;
}

}  // namespace warren::audit
