#include "tunnel/proxy/decisions.h"

#include <netinet/in.h>

#include <algorithm>
#include <optional>

#include "common/ip_literal.h"
#include "io/tcp.h"

#include "warren_abi.h"

namespace warren::proxy {

namespace {
using io::portOf;

Decision refuse(std::string reason) {
  Decision d;
  d.action = Decision::Action::Refuse;
  d.reason = std::move(reason);
  return d;
}

Decision forward(const sockaddr_storage& target) {
  Decision d;
  d.action = Decision::Action::Forward;
  d.target = target;
  return d;
}
}  // namespace

bool isTunnelPort(uint16_t port) {
  return port == WARREN_OUTBOUND_PORT || port == WARREN_INBOUND_PORT || port == WARREN_HBONE_PORT;
}

namespace {

// The destination is this workload, at `dst` (its IP and the port to reach).
OutboundRoute routeToWorkload(const state::Workload& w, const sockaddr_storage& dst, OutboundRoute r) {
  r.destinationWorkload = w.ns + "/" + w.name;
  r.target = dst;
  if (!w.captured) {
    r.kind = OutboundRoute::Kind::Passthrough;
    r.reason = "destination " + r.destinationWorkload + " is not in the mesh (" + w.captureReason + ")";
    return r;
  }
  r.kind = OutboundRoute::Kind::Hbone;
  r.authority = io::formatSockaddr(dst);
  r.expectedIdentity = w.identity;
  r.target = io::withPort(dst, WARREN_HBONE_PORT);
  r.reason = "destination " + r.destinationWorkload + " is in the mesh";
  return r;
}

// An address of `w` in the family the app used (a dual-stack VIP may front
// single-stack pods; then any address will do).
std::optional<sockaddr_storage> endpointAddress(const state::Workload& w, int family, uint16_t port) {
  std::optional<sockaddr_storage> any;
  for (const auto& text : w.ips) {
    auto ip = parseIpLiteral(text);
    if (!ip) continue;
    sockaddr_storage ss = toSockaddr(*ip, port);
    if (ss.ss_family == family) return ss;
    if (!any) any = ss;
  }
  return any;
}

// HBONE to an endpoint of `waypoint` carrying the original destination.
OutboundRoute viaWaypoint(const state::Service& waypoint, const sockaddr_storage& origDst,
                          const state::ClusterState& state, uint64_t pick, OutboundRoute r) {
  const std::string what = r.destinationService.empty() ? r.destinationWorkload : r.destinationService;
  r.waypoint = waypoint.key();
  std::vector<const state::Workload*> ready = state.readyEndpoints(waypoint);
  std::erase_if(ready, [](const state::Workload* w) { return w->ips.empty(); });
  if (ready.empty()) {
    r.kind = OutboundRoute::Kind::Refuse;
    r.reason = what + " uses waypoint " + waypoint.key() + ", which has no ready endpoint";
    return r;
  }
  const state::Workload* w = ready[pick % ready.size()];
  auto addr = endpointAddress(*w, origDst.ss_family, WARREN_HBONE_PORT);
  if (!addr) {
    r.kind = OutboundRoute::Kind::Refuse;
    r.reason = "waypoint endpoint " + w->ns + "/" + w->name + " has no usable address";
    return r;
  }
  r.kind = OutboundRoute::Kind::Hbone;
  r.authority = io::formatSockaddr(origDst);
  r.expectedIdentity = w->identity;
  r.target = *addr;
  r.reason = what + " uses waypoint " + waypoint.key() + " (endpoint " + w->ns + "/" + w->name + ")";
  return r;
}

OutboundRoute refuseMissingWaypoint(const std::string& what, const std::string& missing, OutboundRoute r) {
  r.kind = OutboundRoute::Kind::Refuse;
  r.waypoint = missing;
  r.reason = what + " uses waypoint " + missing + ", which is not known";
  return r;
}

OutboundRoute viaService(const state::Service& svc, const sockaddr_storage& origDst, const state::ClusterState& state,
                         uint64_t pick, const state::Workload* source, OutboundRoute r) {
  const uint16_t port = portOf(origDst);
  r.destinationService = svc.hostname;
  std::string missing;
  if (const state::Service* wp = state.waypointFor(svc, source, &missing))
    return viaWaypoint(*wp, origDst, state, pick, std::move(r));
  if (!missing.empty()) return refuseMissingWaypoint("service " + svc.hostname, missing, std::move(r));
  auto sp = std::find_if(svc.ports.begin(), svc.ports.end(), [&](const auto& p) { return p.servicePort == port; });
  if (sp == svc.ports.end()) {
    r.reason = "service " + svc.hostname + " has no port " + std::to_string(port);
    return r;
  }
  // Endpoints that serve this service port, with their own target port.
  std::vector<std::pair<const state::Workload*, uint32_t>> ready;
  for (const auto* w : state.readyEndpoints(svc))
    if (auto target = endpointTargetPort(w->services.at(svc.key()), *sp)) ready.emplace_back(w, *target);
  if (ready.empty()) {
    r.reason = "service " + svc.hostname + " has no ready endpoint for port " + std::to_string(port);
    return r;
  }
  const auto& [w, targetPort] = ready[pick % ready.size()];
  auto addr = endpointAddress(*w, origDst.ss_family, static_cast<uint16_t>(targetPort));
  if (!addr) {
    r.reason = "endpoint " + w->ns + "/" + w->name + " of " + svc.hostname + " has no usable address";
    return r;
  }
  // The endpoint's own waypoint still applies (as ztunnel checks the workload after
  // the service): a pod bound to a waypoint is never reached around it.
  std::string missingForPod;
  if (const state::Service* wp = state.waypointFor(*w, source, &missingForPod)) {
    r.destinationWorkload = w->ns + "/" + w->name;
    return viaWaypoint(*wp, *addr, state, pick, std::move(r));
  }
  if (!missingForPod.empty())
    return refuseMissingWaypoint("workload " + w->ns + "/" + w->name, missingForPod, std::move(r));
  r = routeToWorkload(*w, *addr, std::move(r));
  r.reason = "service " + svc.hostname + " -> " + r.reason;
  return r;
}

}  // namespace

std::optional<uint32_t> endpointTargetPort(const std::vector<state::ServicePort>& own, const state::ServicePort& sp) {
  if (own.empty()) return sp.targetPort;
  for (const auto& p : own)
    if (p.servicePort == sp.servicePort) return p.targetPort ? p.targetPort : sp.targetPort;
  return std::nullopt;
}

std::string guessInboundService(const state::ClusterState& state, const state::Workload& dst, uint16_t port) {
  for (const auto& [key, own] : dst.services) {
    auto svc = state.services().find(key);
    if (svc == state.services().end()) continue;
    for (const auto& sp : svc->second.ports) {
      auto target = endpointTargetPort(own, sp);  // as outbound routing picks it
      if (target && (*target ? *target : sp.servicePort) == port) return svc->second.hostname;
    }
  }
  return {};
}

OutboundRoute decideOutbound(const sockaddr_storage& origDst, const state::ClusterState& state, uint64_t pick,
                             const state::Workload* source) {
  OutboundRoute r;
  if (origDst.ss_family != AF_INET && origDst.ss_family != AF_INET6) {
    r.reason = "original destination is not IP";
    return r;
  }
  if (portOf(origDst) == 0) {
    r.reason = "original destination has port 0";
    return r;
  }
  const std::string ip = io::formatIp(origDst);
  if (const state::Service* svc = state.findServiceByVip(ip)) return viaService(*svc, origDst, state, pick, source, r);
  const state::Workload* w = state.findByIp(ip);
  if (!w) {
    r.target = origDst;
    r.kind = OutboundRoute::Kind::Passthrough;
    r.reason = "destination " + ip + " is not a known workload";
    return r;
  }
  std::string missing;
  if (const state::Service* wp = state.waypointFor(*w, source, &missing)) {
    r.destinationWorkload = w->ns + "/" + w->name;
    return viaWaypoint(*wp, origDst, state, pick, std::move(r));
  }
  if (!missing.empty()) return refuseMissingWaypoint("workload " + w->ns + "/" + w->name, missing, std::move(r));
  return routeToWorkload(*w, origDst, std::move(r));
}

Decision decideInbound(const sockaddr_storage& local) {
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return refuse("not an IP connection");
  uint16_t port = portOf(local);
  // Someone dialed the tunnel's own inbound/outbound port on the pod IP directly.
  if (isTunnelPort(port)) return refuse("destination port " + std::to_string(port) + " is the tunnel's own");
  return forward(local);
}

}  // namespace warren::proxy
