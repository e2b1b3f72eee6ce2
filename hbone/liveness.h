#pragma once
// HTTP/2 PING liveness of an HBONE connection, as a pure decision over a clock.
// A connection carrying streams that has received nothing for `interval` sends a
// PING; if nothing at all arrives within `timeout` after it (the ack, or any other
// frame: both prove the peer is there), the connection is dead and is closed, and its
// streams with it. This catches what TCP alone notices late or never: a peer whose
// node died or whose process hangs, with our side only reading (nothing unacked for
// TCP_USER_TIMEOUT to measure). ztunnel pings every 10 s and gives an ack 20 s
// (istio/ztunnel src/proxy/h2.rs, PING_INTERVAL / PING_TIMEOUT); so do we.
//
// A connection without streams is not pinged: the idle timeout closes it anyway.

#include <chrono>
#include <optional>

namespace warren::hbone {

struct LivenessOptions {
  std::chrono::milliseconds interval{10000};  // silence before a PING; 0 turns PINGs off
  std::chrono::milliseconds timeout{20000};   // the most a PING may wait for a sign of life
};

struct LivenessClock {
  std::chrono::steady_clock::time_point lastReceived;             // the last bytes from the peer
  std::optional<std::chrono::steady_clock::time_point> pingSent;  // the PING not yet answered
};

struct LivenessStep {
  enum class Kind { Wait, SendPing, Close } kind = Kind::Wait;
  std::chrono::milliseconds checkAgainIn{0};  // Wait and SendPing: when to decide again
};

LivenessStep nextLivenessStep(const LivenessOptions& options, const LivenessClock& clock, bool hasStreams,
                              std::chrono::steady_clock::time_point now);

}  // namespace warren::hbone
