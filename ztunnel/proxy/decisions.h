#pragma once
// Where a captured connection goes: pure functions over what the kernel told us,
// tested without sockets (ztunnel's build_request split). The I/O lives in
// outbound.cc / inbound.cc.

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace warren::proxy {

struct Decision {
  enum class Action { Forward, Refuse } action = Action::Refuse;
  sockaddr_storage target{};  // valid with Forward
  std::string reason;         // for the access log; why we refused
};

// A connection accepted on the pod's outbound listener, whose app dialed `origDst`.
// For now every destination is reached in plaintext from the pod's own netns
// (HBONE replaces this for mesh destinations).
Decision decideOutbound(const sockaddr_storage& origDst);

// A connection steered to the pod's inbound listener; `local` is the address the
// client dialed (sk_lookup does not rewrite it). The tunnel hands it to the app on
// that same address from inside the pod.
Decision decideInbound(const sockaddr_storage& local);

// Ports of the tunnel itself: forwarding to them would loop back into the tunnel.
bool isTunnelPort(uint16_t port);

}  // namespace warren::proxy
