#pragma once
// Drives a drain (drain.h) to its end: ticks every 100 ms, each tick telling the
// HBONE peers not told yet and counting what is left, until judgeDrain says done,
// the deadline passes, or another signal asks to stop at once.

#include <functional>

#include "tunnel/drain/drain.h"

namespace warren::tunnel {

struct DrainTick {
  size_t activeConnections = 0;  // app connections still relayed
  size_t noticesSent = 0;        // HBONE connections told GOAWAY by this tick
};

struct DrainOutcome {
  DrainStep step = DrainStep::Done;  // Done, Deadline, or Wait when a signal cut it short
  std::chrono::milliseconds took{0};
  size_t leftOpen = 0;  // connections still open at the end (closed by the caller)
  int signal = 0;       // the signal that cut it short, if any
};

// tick: runs one round on the proxy's loop and reports. waitSignal: waits up to the
// given time for a signal, returning it (0: none); a non-zero one ends the drain.
DrainOutcome runDrain(const std::function<DrainTick()>& tick, const DrainLimits& limits,
                      const std::function<int(std::chrono::milliseconds)>& waitSignal);

}  // namespace warren::tunnel
