#pragma once
// The tunnel's state as JSON, for the admin config dump and warrenctl: stable field
// names, the same for either source, so two dumps can be compared.

#include <nlohmann/json.hpp>

#include "ztunnel/state/cluster_state.h"

namespace warren::state {

nlohmann::json toJson(const Workload& w);
nlohmann::json toJson(const Service& s);
nlohmann::json toJson(const AuthorizationPolicy& p);
// {"workloads": [...], "services": [...], "policies": [...]}, each sorted by key.
nlohmann::json toJson(const ClusterState& st);

}  // namespace warren::state
