#pragma once
// Pure assembly of `warrenctl stats` and `pod show` from what the map readers
// returned: totals, per-pod rows and map fill levels.

#include <vector>

#include "tools/warrenctl/cli.h"
#include "tools/warrenctl/decode.h"
#include "tools/warrenctl/maps.h"

namespace warren::ctl {

// Maps whose fill level stats reports: those with an entry count (not the ring
// buffer, not socket storage).
Output statsOutput(const std::vector<PodView>& pods, const std::vector<MapInfoView>& maps);

// `pod show`: the pod as `pod list` has it, plus its counters per CPU and its
// sk_lookup link (nullptr: none pinned).
Output podShowOutput(const PodView& pod, const std::vector<warren_counters>& perCpu, const LinkView* skLookup);

}  // namespace warren::ctl
