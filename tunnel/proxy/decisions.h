#pragma once
// Where a captured connection goes: pure functions over what the kernel told us,
// tested without sockets (ztunnel's build_request split). The I/O lives in
// outbound.cc / inbound.cc.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "identity/identity.h"
#include "state/cluster_state.h"

namespace warren::proxy {

struct Decision {
  enum class Action { Forward, Refuse } action = Action::Refuse;
  sockaddr_storage target{};  // valid with Forward
  std::string reason;         // for the access log; why we refused
};

// Where a captured outbound connection goes (ztunnel's build_request).
struct OutboundRoute {
  enum class Kind { Hbone, Passthrough, Refuse } kind = Kind::Refuse;
  // Hbone: the destination pod's HBONE server (<pod IP>:15008).
  // Passthrough: the original destination itself, in plaintext from the pod.
  sockaddr_storage target{};
  std::string authority;                // Hbone: the original destination, "ip:port"
  identity::SpiffeId expectedIdentity;  // Hbone: what the server must prove
  std::string destinationWorkload;      // "ns/name" when the destination is known
  std::string destinationService;       // the service hostname when a VIP was dialed
  // Hbone through a waypoint: its Service key; target and expectedIdentity are
  // then the waypoint endpoint's, authority still the original destination.
  std::string waypoint;
  std::string reason;  // why this route (logs, CLI)
};

// The app dialed `origDst`. A service VIP resolves to one of the service's ready
// endpoints (the `pick`-th modulo their number, so a per-service counter spreads
// connections evenly) on its target port; a known workload that is in the mesh is
// then reached over HBONE at its own IP; anything else (not enrolled, or not a
// workload at all) is passed through in plaintext, as ztunnel does.
// A service or workload bound to a waypoint is reached through it instead: HBONE to
// one of the waypoint's ready endpoints (the `pick`-th), with :authority the
// original destination, unless `source` is that waypoint itself. A named waypoint
// that is missing or has no ready endpoint refuses: never a way around it.
OutboundRoute decideOutbound(const sockaddr_storage& origDst, const state::ClusterState& state, uint64_t pick = 0,
                             const state::Workload* source = nullptr);

// A connection steered to the pod's inbound listener; `local` is the address the
// client dialed (sk_lookup does not rewrite it). The tunnel hands it to the app on
// that same address from inside the pod.
Decision decideInbound(const sockaddr_storage& local);

// The service an inbound connection to `dst` on `port` most likely came through,
// guessed as ztunnel does (the request names the endpoint, not the service): the
// first of dst's services, by key, whose target port for dst is `port`. Empty when
// none matches: the client dialed the pod itself, or the service is unknown here.
std::string guessInboundService(const state::ClusterState& state, const state::Workload& dst, uint16_t port);

// The target port of service port `sp` on an endpoint whose own list (Istio's
// Workload.services) is `own`: the service's target when the list is empty (0: the
// service port itself), the endpoint's override when it has one; none when the
// endpoint does not serve sp.
std::optional<uint32_t> endpointTargetPort(const std::vector<state::ServicePort>& own, const state::ServicePort& sp);

// Ports of the tunnel itself: forwarding to them would loop back into the tunnel.
bool isTunnelPort(uint16_t port);

}  // namespace warren::proxy
