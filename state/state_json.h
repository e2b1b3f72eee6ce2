#pragma once
// The tunnel's state as JSON, for the admin config dump and warrenctl: stable field
// names, the same for either source, so two dumps can be compared.

#include <nlohmann/json.hpp>

#include "state/cluster_state.h"

namespace warren::state {

nlohmann::json toJson(const Workload& w);
nlohmann::json toJson(const Service& s);
nlohmann::json toJson(const AuthorizationPolicy& p);
// A waypoint's (L7) policy: its targets, rules in Istio's field names (only the
// fields set), and what the conversion changed.
nlohmann::json toJson(const L7Policy& p);
nlohmann::json toJson(const RequestAuthn& r);
// {"workloads": [...], "services": [...], "policies": [...] (the tunnel's L4 form),
// "waypoint_policies": [...] (the waypoints' L7 form)}, each sorted by key.
// Workloads and services carry "waypoint", the key of the waypoint their traffic
// must pass ("" for none); a service that is a waypoint (YAML source only: istiod
// never says so) carries "waypoint_for".
nlohmann::json toJson(const ClusterState& st);

}  // namespace warren::state
