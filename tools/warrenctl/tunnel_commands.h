#pragma once
// warrenctl's tunnel-side objects: what warren-tunnel holds (workloads, services,
// policies, certificates, connections) read from its admin endpoint, plus
// `explain`, which asks the tunnel to walk its own decision functions.

#include <vector>

#include "tools/warrenctl/cli.h"

namespace warren::ctl {

std::vector<Object> tunnelObjects();

// `explain`'s rendering of the tunnel's /explain answer: the answer as the JSON, a
// summary table, the paths, and for paths through a waypoint its L7 policies.
Output explainOutput(const Json& answer);

// `conn list --tunnel`: the tunnel's HBONE connections and streams.
Result<Output> tunnelConnList(const Context& ctx);

}  // namespace warren::ctl
