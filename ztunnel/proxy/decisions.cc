#include "ztunnel/proxy/decisions.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ztunnel/io/tcp.h"

#include "warren_abi.h"

namespace warren::proxy {

namespace {
uint16_t portOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

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
  char ip[INET6_ADDRSTRLEN] = {};
  if (origDst.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(origDst).sin_addr, ip, sizeof(ip));
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(origDst).sin6_addr, ip, sizeof(ip));
  const state::Workload* w = state.findByIp(ip);
  r.target = origDst;
  if (!w) {
    r.kind = OutboundRoute::Kind::Passthrough;
    r.reason = std::string("destination ") + ip + " is not a known workload";
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
  if (r.target.ss_family == AF_INET)
    reinterpret_cast<sockaddr_in&>(r.target).sin_port = htons(WARREN_HBONE_PORT);
  else
    reinterpret_cast<sockaddr_in6&>(r.target).sin6_port = htons(WARREN_HBONE_PORT);
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
