#pragma once
// `warrenctl waypoint list|show`: the waypoints in warren-tunnel's state, read from
// its config dump. A waypoint is a service that something points at (a service's
// or workload's "waypoint") or that says it is one ("waypoint_for", YAML source
// only: istiod never says so). A name pointed at that is no service is listed too,
// as missing: the traffic bound to it is refused.

#include <string>

#include "tools/warrenctl/cli.h"

namespace warren::ctl {

// Over the dump's "state" object (workloads, services, waypoint_policies): pure,
// so tests feed it the tunnel's own JSON.
Result<Output> waypointList(const Json& state);
Result<Output> waypointShow(const Json& state, const std::string& word);
// From a waypoint's own config dump (its "jwks" section).
Result<Output> waypointJwks(const Json& dump);

Object waypointObject();

}  // namespace warren::ctl
