#pragma once
// Admission of a new inbound HBONE connection (port 15008), the one step the
// tunnel's in-pod listeners and the waypoint share: take the connection's slot
// (io::ConnectionSlots, by source address) before any certificate is looked at or
// a handshake begins; a refusal is counted by cause and logged at debug (an attacker
// can cause many). The caller resets a refused connection.
//
// The slot is held by the returned lease: keep it with the connection (its close
// callback) so every way the connection ends, including a shutdown that drops the
// connection table first, gives the slot back.

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "io/connection_slots.h"

namespace warren::hbone {

// What the metrics export as *_hbone_inbound_over_{total,source}_limit_total.
struct InboundRefusals {
  std::atomic<uint64_t> overTotal{0}, overSource{0};
};

// The slot lease of a connection from `peer`, or nullptr when a cap refuses it
// (then counted in `refused`). `to` names the listener's side in the log line.
io::SlotLease admitInbound(const std::shared_ptr<io::ConnectionSlots>& slots, const sockaddr_storage& peer,
                           InboundRefusals& refused, std::string_view to);

}  // namespace warren::hbone
