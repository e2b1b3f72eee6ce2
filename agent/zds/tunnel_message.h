#pragma once
// What the agent makes of one message a tunnel sent on the ZDS socket, without the
// socket: pure, so it is table-tested and fuzzed (tests/fuzz/zds_ack_entry.cc).
// The protocol is the agent's: a tunnel says hello (version 1) once, then answers
// each request the agent sent with exactly one ack. Anything else drops the
// connection; the tunnel reconnects and is replayed every pod, so a confused peer
// costs a replay, never a pod's status.

#include <cstddef>
#include <string>

namespace warren::zds {

struct TunnelMessage {
  enum class Kind { Hello, Ack, Drop } kind = Kind::Drop;
  // Ack: the tunnel's refusal of the request ("" = done). Drop: why, for the log.
  std::string detail;
};

// `bytes`: one message's payload; `fdCount`: descriptors it carried; `helloed`:
// the tunnel said hello before; `requestInFlight`: a request awaits its ack.
TunnelMessage judgeTunnelMessage(const std::string& bytes, size_t fdCount, bool helloed, bool requestInFlight);

}  // namespace warren::zds
