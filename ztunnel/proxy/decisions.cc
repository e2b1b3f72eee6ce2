#include "ztunnel/proxy/decisions.h"

#include <netinet/in.h>

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

Decision decideOutbound(const sockaddr_storage& origDst) {
  if (origDst.ss_family != AF_INET && origDst.ss_family != AF_INET6) return refuse("original destination is not IP");
  if (portOf(origDst) == 0) return refuse("original destination has port 0");
  return forward(origDst);
}

Decision decideInbound(const sockaddr_storage& local) {
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return refuse("not an IP connection");
  uint16_t port = portOf(local);
  // Someone dialed the tunnel's own inbound/outbound port on the pod IP directly.
  if (isTunnelPort(port)) return refuse("destination port " + std::to_string(port) + " is the tunnel's own");
  return forward(local);
}

}  // namespace warren::proxy
