#pragma once
// The SHA-256 (hex) of a deciding policy's source in its canonical form as the
// state holds it (state::toJson(policy).dump(): the converted policy, what is
// enforced), for the audit records' `policy_sha256`: the tunnel's (L4
// AuthorizationPolicies) and the waypoint's (those bound to it, L7) alike.
// Computed once per policy per state; "" for a key that names no policy (a
// PeerAuthentication, the waypoint rule, nothing). One thread's (a proxy loop's).

#include <map>
#include <string>

#include "state/cluster_state.h"

namespace warren::audit {

class PolicyDigests {
 public:
  // `decidedWith`: the state the decision was made against; `current`: the
  // state now (the cache follows it).
  std::string digest(const state::ClusterStatePtr& current, const state::ClusterState& decidedWith,
                     const std::string& policyKey);
  std::string digestL7(const state::ClusterStatePtr& current, const state::ClusterState& decidedWith,
                       const std::string& policyKey);

 private:
  template <typename Map>
  std::string cached(const state::ClusterStatePtr& current, const state::ClusterState& decidedWith, const Map& policies,
                     std::map<std::string, std::string>& cache, const std::string& policyKey);

  state::ClusterStatePtr state_;  // the state the caches are for
  std::map<std::string, std::string> l4_, l7_;
};

}  // namespace warren::audit
