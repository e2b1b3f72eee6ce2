#include "tunnel/drain/drain.h"

#include <algorithm>
#include <cstdlib>

namespace warren::tunnel {

std::chrono::seconds drainDeadline(std::optional<long> flagSeconds, const char* graceEnv, std::string* note) {
  if (flagSeconds) return std::chrono::seconds(*flagSeconds);
  if (!graceEnv || !*graceEnv) return kDefaultDrainDeadline;
  char* end = nullptr;
  const long grace = std::strtol(graceEnv, &end, 10);
  if (*end || grace < 0) {
    if (note) *note = std::string("TERMINATION_GRACE_PERIOD_SECONDS=") + graceEnv + " is not a number of seconds";
    return kDefaultDrainDeadline;
  }
  return std::chrono::seconds(std::max(grace > 10 ? grace - 5 : grace - 1, 1L));
}

DrainStep judgeDrain(const DrainProgress& p, const DrainLimits& limits) {
  if (p.elapsed >= limits.deadline) return DrainStep::Deadline;
  if (p.activeConnections > 0) return DrainStep::Wait;
  if (p.sinceLastNotice && *p.sinceLastNotice < limits.noticeQuiet) return DrainStep::Wait;
  return DrainStep::Done;
}

}  // namespace warren::tunnel
