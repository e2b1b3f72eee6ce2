#pragma once
// `warrenctl explain SRC DST:PORT`: what the data path would do with a connection,
// walked through the same pure functions it calls (decideOutbound, authorize) over
// the tunnel's current state, so the answer cannot drift from the behaviour.

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "state/cluster_state.h"
#include "tunnel/proxy/explain_request.h"

namespace warren::proxy {

// source: a workload as "ns/name" or an IP literal (an IP that is no workload is a
// client outside the cluster's view); destination: "IP:PORT" ("[v6]:PORT").
// The result's "verdict" is "allow", "deny" or, for a service whose endpoints are
// judged differently, "depends on the endpoint"; "paths" has one entry per endpoint.
// A path through a waypoint carries "waypoint" (its service key, the endpoint taking
// the connection, and the L7 policies it applies for this destination) and
// "onward" (the waypoint's own connection to the destination, which the
// destination's tunnel judges by the waypoint's identity). L7 rules are judged per
// request, which explain cannot see: when an allowed path meets any, the verdict is
// "depends on the request".
// With a probe, every waypoint on a path also judges that one request
// (waypoint.request, see explain_request.h).
Result<nlohmann::json> explainConnection(const state::ClusterState& state, const std::string& source,
                                         const std::string& destination, const RequestProbe* probe = nullptr);

}  // namespace warren::proxy
