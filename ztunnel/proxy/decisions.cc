#include "ztunnel/proxy/decisions.h"

#include <netinet/in.h>

#include "ztunnel/io/tcp.h"

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

OutboundRoute decideOutbound(const sockaddr_storage& origDst, const state::WorkloadState& state) {
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
  const state::Workload* w = state.findByIp(ip);
  r.target = origDst;
  if (!w) {
    r.kind = OutboundRoute::Kind::Passthrough;
    r.reason = "destination " + ip + " is not a known workload";
    return r;
  }
  r.destinationWorkload = w->ns + "/" + w->name;
  if (!w->captured) {
    r.kind = OutboundRoute::Kind::Passthrough;
    r.reason = "destination " + r.destinationWorkload + " is not in the mesh (" + w->captureReason + ")";
    return r;
  }
  r.kind = OutboundRoute::Kind::Hbone;
  r.authority = io::formatSockaddr(origDst);
  r.expectedIdentity = w->identity;
  r.target = io::withPort(origDst, WARREN_HBONE_PORT);
  r.reason = "destination " + r.destinationWorkload + " is in the mesh";
  return r;
}

Decision decideInbound(const sockaddr_storage& local) {
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return refuse("not an IP connection");
  uint16_t port = portOf(local);
  // Someone dialed the tunnel's own inbound/outbound port on the pod IP directly.
  if (isTunnelPort(port)) return refuse("destination port " + std::to_string(port) + " is the tunnel's own");
  return forward(local);
}

}  // namespace warren::proxy
