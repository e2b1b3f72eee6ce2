#include "ztunnel/proxy/explain.h"


#include "common/ip_literal.h"
#include "ztunnel/authz/authorize.h"
#include "ztunnel/io/tcp.h"
#include "ztunnel/proxy/decisions.h"

namespace warren::proxy {
namespace {

const state::Workload* findByName(const state::ClusterState& st, const std::string& nsName) {
  for (const auto& [uid, w] : st.workloads())
    if (w.ns + "/" + w.name == nsName) return &w;
  return nullptr;
}

nlohmann::json decisionJson(const authz::Decision& d, const char* evaluatedBy) {
  return {{"evaluated_by", evaluatedBy}, {"allowed", d.allowed}, {"policy", d.policy}, {"rule", d.rule},
          {"reason", d.reason},         {"audit", d.audits},    {"dry_run", d.dryRun}};
}

// One way the connection can go: the source tunnel's route, then what the
// destination's tunnel decides.
nlohmann::json explainRoute(const state::ClusterState& st, const OutboundRoute& r, const std::string& srcIp,
                            const identity::SpiffeId& srcId) {
  nlohmann::json p = {{"reason", r.reason}, {"destination_workload", r.destinationWorkload}};
  if (!r.destinationService.empty()) p["service"] = r.destinationService;
  switch (r.kind) {
    case OutboundRoute::Kind::Refuse:
      p["route"] = "refuse";
      p["allowed"] = false;
      return p;
    case OutboundRoute::Kind::Passthrough:
      p["route"] = "passthrough";
      p["target"] = io::formatSockaddr(r.target);
      p["allowed"] = true;  // no Warren tunnel judges it at the destination
      return p;
    case OutboundRoute::Kind::Hbone: break;
  }
  p["route"] = "hbone";
  p["authority"] = r.authority;
  p["via"] = io::formatSockaddr(r.target);
  p["expected_identity"] = r.expectedIdentity.uri();
  auto target = io::parseHostPort(r.authority);
  const std::string dstIp = target ? io::formatIp(*target) : "";
  const state::Workload* dst = st.findByIp(dstIp);
  if (!dst) {
    p["allowed"] = false;
    p["reason"] = r.reason + "; but " + dstIp + " is no workload of the state";
    return p;
  }
  auto d = authz::authorize(st, *dst, {srcIp, srcId, dstIp, target ? io::portOf(*target) : 0u});
  p["authorization"] = decisionJson(d, "destination tunnel, HBONE (mutual TLS)");
  p["allowed"] = d.allowed;
  return p;
}

}  // namespace

Result<nlohmann::json> explainConnection(const state::ClusterState& st, const std::string& source,
                                         const std::string& destination) {
  auto dst = io::parseHostPort(destination);
  if (!dst) return makeError("destination '" + destination + "' is not IP:PORT");
  const state::Workload* src = isIpLiteral(source) ? st.findByIp(source) : findByName(st, source);
  if (!src && !isIpLiteral(source)) return makeError("no workload '" + source + "' in the tunnel's state");
  const std::string srcIp = src ? (src->ips.empty() ? "" : src->ips.front()) : source;

  nlohmann::json out = {{"destination", io::formatSockaddr(*dst)}, {"paths", nlohmann::json::array()}};
  out["source"] = src ? nlohmann::json{{"workload", src->ns + "/" + src->name},
                                       {"ip", srcIp},
                                       {"identity", src->identity.uri()},
                                       {"captured", src->captured},
                                       {"capture_reason", src->captureReason}}
                      : nlohmann::json{{"workload", ""}, {"ip", srcIp}, {"captured", false},
                                       {"capture_reason", "not a workload of the state"}};

  if (src && src->captured) {
    // Every endpoint a service VIP can pick, else the one route.
    const state::Service* svc = st.findServiceByVip(io::formatIp(*dst));
    const size_t n = svc ? std::max<size_t>(1, st.readyEndpoints(*svc).size()) : 1;
    for (size_t pick = 0; pick < n; ++pick)
      out["paths"].push_back(explainRoute(st, decideOutbound(*dst, st, pick), srcIp, src->identity));
  } else {
    // No tunnel at the source: the packets go as the app sent them. A mesh
    // destination's tunnel captures them inbound and judges a plaintext client.
    nlohmann::json p = {{"route", "direct"}};
    const state::Workload* dw = st.findByIp(io::formatIp(*dst));
    if (st.findServiceByVip(io::formatIp(*dst))) {
      p["reason"] = "source not in the mesh: the service VIP is resolved outside Warren (kube-proxy)";
      p["allowed"] = true;
    } else if (dw && dw->captured) {
      p["reason"] = "source not in the mesh; destination " + dw->ns + "/" + dw->name +
                    " is: its tunnel captures the plaintext connection inbound";
      p["destination_workload"] = dw->ns + "/" + dw->name;
      auto d = authz::authorize(st, *dw, {srcIp, std::nullopt, io::formatIp(*dst), io::portOf(*dst)});
      p["authorization"] = decisionJson(d, "destination tunnel, plaintext inbound (no identity)");
      p["allowed"] = d.allowed;
    } else {
      p["reason"] = "neither end is in the mesh: Warren does not see this connection";
      p["allowed"] = true;
    }
    out["paths"].push_back(p);
  }
  size_t allowed = 0;
  for (const auto& p : out["paths"]) allowed += p["allowed"].get<bool>();
  out["verdict"] = allowed == out["paths"].size() ? "allow" : allowed == 0 ? "deny" : "depends on the endpoint";
  return out;
}

}  // namespace warren::proxy
