#include "tunnel/proxy/explain.h"

#include <algorithm>

#include "authz/authorize.h"
#include "common/ip_literal.h"
#include "io/tcp.h"
#include "tunnel/proxy/decisions.h"

namespace warren::proxy {
namespace {

// The waypoint `w` is an endpoint of, if any: a service named as a waypoint by
// some service or workload, or marked as one (YAML source). Its traffic is walked
// as the data path routes it, though no tunnel captures it: it speaks HBONE itself.
std::string waypointServed(const state::ClusterState& st, const state::Workload& w) {
  for (const auto& [key, ports] : w.services) {
    const state::Service* s = st.findService(key);
    if (!s) continue;
    if (!s->waypointFor.empty()) return key;
    for (const auto& [k, other] : st.services())
      if (other.waypoint == key) return key;
    for (const auto& [uid, other] : st.workloads())
      if (other.waypoint == key) return key;
  }
  return "";
}

const state::Workload* findByName(const state::ClusterState& st, const std::string& nsName) {
  for (const auto& [uid, w] : st.workloads())
    if (w.ns + "/" + w.name == nsName) return &w;
  return nullptr;
}

nlohmann::json decisionJson(const authz::Decision& d, const char* evaluatedBy) {
  return {{"evaluated_by", evaluatedBy}, {"allowed", d.allowed}, {"policy", d.policy}, {"rule", d.rule},
          {"reason", d.reason},          {"audit", d.audits},    {"dry_run", d.dryRun}};
}

const char* kPerRequest =
    "L7 rules are judged per request at the waypoint: add --request \"METHOD /path\" (and --jwt FILE) to judge one";

std::string targetsText(const state::L7Policy& p) {
  std::string out;
  for (const auto& t : p.targets)
    out += (out.empty() ? "" : ", ") + std::string(t.kind == state::L7Target::Kind::Gateway ? "Gateway " : "Service ") +
           t.ns + "/" + t.name;
  return out;
}

// The waypoint's part of a path: which of its endpoints takes the connection, and
// the L7 policies it applies to requests for this destination.
nlohmann::json waypointJson(const state::ClusterState& st, const OutboundRoute& r, const sockaddr_storage& dialed,
                            const state::Workload* endpoint, const std::string& srcIp, const identity::SpiffeId& srcId,
                            const RequestProbe* probe) {
  nlohmann::json j = {{"service", r.waypoint}, {"policies", nlohmann::json::array()}};
  const state::Service* wp = st.findService(r.waypoint);
  j["known"] = wp != nullptr;
  if (!wp) return j;
  if (endpoint) {
    j["endpoint"] = endpoint->ns + "/" + endpoint->name;
    j["via"] = io::formatSockaddr(r.target);
    j["identity"] = endpoint->identity.uri();
  }
  // A service's VIP was dialed: policies on that Service apply too.
  for (const auto* p : st.l7PoliciesFor(*wp, st.findServiceByVip(io::formatIp(dialed))))
    j["policies"].push_back({{"policy", p->key()},
                             {"action", state::actionName(p->action)},
                             {"dry_run", p->dryRun},
                             {"targets", targetsText(*p)},
                             {"rules", p->rules.size()},
                             {"notes", p->conversionNotes}});
  j["note"] = kPerRequest;
  if (probe)
    j["request"] = explainRequest(st, *wp, st.findServiceByVip(io::formatIp(dialed)), srcIp, srcId,
                                  io::formatIp(dialed), io::portOf(dialed), *probe, std::chrono::system_clock::now());
  return j;
}

// The endpoint of `waypoint` that `r` goes to.
const state::Workload* waypointEndpoint(const state::ClusterState& st, const OutboundRoute& r) {
  const state::Service* wp = st.findService(r.waypoint);
  if (!wp) return nullptr;
  const std::string ip = io::formatIp(r.target);
  for (const auto* w : st.readyEndpoints(*wp))
    if (std::find(w->ips.begin(), w->ips.end(), ip) != w->ips.end()) return w;
  return nullptr;
}

// Through a waypoint: the waypoint's own connection onward (the route the data
// path gives its traffic, which never goes back to it) and what the destination's
// tunnel decides for it. The destination sees the waypoint's identity.
void explainOnward(const state::ClusterState& st, const sockaddr_storage& dialed, uint64_t pick,
                   const state::Workload* wpEndpoint, nlohmann::json& p) {
  if (!wpEndpoint) {
    p["allowed"] = false;
    p["reason"] = p["reason"].get<std::string>() + "; but the waypoint endpoint is no workload of the state";
    return;
  }
  const OutboundRoute on = decideOutbound(dialed, st, pick, wpEndpoint);
  nlohmann::json onward = {{"reason", on.reason}};
  if (!on.destinationWorkload.empty()) p["destination_workload"] = on.destinationWorkload;
  switch (on.kind) {
    case OutboundRoute::Kind::Refuse:
      onward["route"] = "refuse";
      p["onward"] = onward;
      p["allowed"] = false;
      return;
    case OutboundRoute::Kind::Passthrough:
      onward["route"] = "passthrough";
      onward["target"] = io::formatSockaddr(on.target);
      p["onward"] = onward;
      p["allowed"] = true;  // no Warren tunnel judges it at the destination
      return;
    case OutboundRoute::Kind::Hbone: break;
  }
  onward["route"] = "hbone";
  onward["authority"] = on.authority;
  onward["via"] = io::formatSockaddr(on.target);
  onward["expected_identity"] = on.expectedIdentity.uri();
  p["onward"] = onward;
  auto target = io::parseHostPort(on.authority);
  const std::string dstIp = target ? io::formatIp(*target) : "";
  const state::Workload* dst = st.findByIp(dstIp);
  if (!dst) {
    p["allowed"] = false;
    p["reason"] = p["reason"].get<std::string>() + "; but " + dstIp + " is no workload of the state";
    return;
  }
  const std::string wpIp = wpEndpoint->ips.empty() ? "" : wpEndpoint->ips.front();
  auto d = authz::authorize(st, *dst, {wpIp, wpEndpoint->identity, dstIp, target ? io::portOf(*target) : 0u});
  p["authorization"] = decisionJson(d, "destination tunnel, HBONE from the waypoint (its identity)");
  p["allowed"] = d.allowed;
}

// One way the connection can go: the source tunnel's route, then what the
// destination's tunnel decides (after the waypoint, when there is one).
nlohmann::json explainRoute(const state::ClusterState& st, const OutboundRoute& r, const sockaddr_storage& dialed,
                            uint64_t pick, const std::string& srcIp, const identity::SpiffeId& srcId,
                            const RequestProbe* probe) {
  nlohmann::json p = {{"reason", r.reason}, {"destination_workload", r.destinationWorkload}};
  if (!r.destinationService.empty()) p["service"] = r.destinationService;
  const state::Workload* wpEndpoint =
      !r.waypoint.empty() && r.kind == OutboundRoute::Kind::Hbone ? waypointEndpoint(st, r) : nullptr;
  if (!r.waypoint.empty()) p["waypoint"] = waypointJson(st, r, dialed, wpEndpoint, srcIp, srcId, probe);
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
  if (!r.waypoint.empty()) {
    explainOnward(st, dialed, pick, wpEndpoint, p);
    return p;
  }
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
                                         const std::string& destination, const RequestProbe* probe) {
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
                      : nlohmann::json{{"workload", ""},
                                       {"ip", srcIp},
                                       {"captured", false},
                                       {"capture_reason", "not a workload of the state"}};
  const std::string servesWaypoint = src && !src->captured ? waypointServed(st, *src) : "";
  if (!servesWaypoint.empty()) out["source"]["waypoint"] = servesWaypoint;

  if (src && (src->captured || !servesWaypoint.empty())) {
    // Every endpoint a service VIP can pick, else the one route.
    const state::Service* svc = st.findServiceByVip(io::formatIp(*dst));
    const size_t n = svc ? std::max<size_t>(1, st.readyEndpoints(*svc).size()) : 1;
    // The source matters: a waypoint's own traffic is never sent back to it.
    for (size_t pick = 0; pick < n; ++pick)
      out["paths"].push_back(
          explainRoute(st, decideOutbound(*dst, st, pick, src), *dst, pick, srcIp, src->identity, probe));
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
  bool l7 = false;  // an allowed path meets L7 policies at a waypoint
  for (const auto& p : out["paths"]) {
    allowed += p["allowed"].get<bool>();
    l7 = l7 || (p["allowed"].get<bool>() && p.contains("waypoint") && !p["waypoint"]["policies"].empty());
  }
  out["verdict"] = allowed == 0                     ? "deny"
                   : allowed != out["paths"].size() ? "depends on the endpoint"
                   : l7                             ? "depends on the request"
                                                    : "allow";
  return out;
}

}  // namespace warren::proxy
