#pragma once
// The default caps on inbound HBONE connections (port 15008), shared by the tunnel
// and the waypoint (io::ConnectionSlots does the counting). Anyone who can reach
// 15008 can open unauthenticated TCP connections to it; a real peer pools up to 100
// streams on each connection and needs few, so a per-source cap costs it nothing
// while one peer's idle connections (each in its handshake for up to 10 s) can no
// longer take the descriptors the others need.

#include <cstddef>

namespace warren::hbone {

inline constexpr size_t kDefaultMaxInboundPerSource = 256;
// The total's default is "half the file descriptor limit" (io::totalCap(0, limit)).

}  // namespace warren::hbone
