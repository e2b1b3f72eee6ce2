#include "audit/policy_digests.h"

#include "audit/chain.h"
#include "state/state_json.h"

namespace warren::audit {

template <typename Map>
std::string PolicyDigests::cached(const state::ClusterStatePtr& current, const state::ClusterState& decidedWith,
                                  const Map& policies, std::map<std::string, std::string>& cache,
                                  const std::string& policyKey) {
  auto it = policies.find(policyKey);
  if (it == policies.end()) return "";
  // Cached for the current state only; a decision against an older one (a race
  // with an update) is hashed on its own.
  if (current.get() != &decidedWith) return sha256Hex(state::toJson(it->second).dump());
  if (state_ != current) {
    state_ = current;
    l4_.clear();
    l7_.clear();
  }
  auto [d, fresh] = cache.try_emplace(policyKey);
  if (fresh) d->second = sha256Hex(state::toJson(it->second).dump());
  return d->second;
}

std::string PolicyDigests::digest(const state::ClusterStatePtr& current, const state::ClusterState& decidedWith,
                                  const std::string& policyKey) {
  return cached(current, decidedWith, decidedWith.policies(), l4_, policyKey);
}

std::string PolicyDigests::digestL7(const state::ClusterStatePtr& current, const state::ClusterState& decidedWith,
                                    const std::string& policyKey) {
  return cached(current, decidedWith, decidedWith.l7Policies(), l7_, policyKey);
}

}  // namespace warren::audit
