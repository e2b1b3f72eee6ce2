#include "hbone/liveness.h"

#include <algorithm>

namespace warren::hbone {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

LivenessStep nextLivenessStep(const LivenessOptions& options, const LivenessClock& clock, bool hasStreams,
                              std::chrono::steady_clock::time_point now) {
  using Kind = LivenessStep::Kind;
  if (options.interval.count() <= 0) return {Kind::Wait, milliseconds(0)};  // off: no timer
  // Anything received since the PING answers it.
  if (clock.pingSent && clock.lastReceived < *clock.pingSent) {
    auto waited = now - *clock.pingSent;
    if (waited >= options.timeout) return {Kind::Close, milliseconds(0)};
    return {Kind::Wait, std::max(milliseconds(1), duration_cast<milliseconds>(options.timeout - waited))};
  }
  auto silent = now - clock.lastReceived;
  if (hasStreams && silent >= options.interval) return {Kind::SendPing, options.timeout};
  if (!hasStreams) return {Kind::Wait, options.interval};
  return {Kind::Wait, std::max(milliseconds(1), duration_cast<milliseconds>(options.interval - silent))};
}

}  // namespace warren::hbone
