#pragma once
// Which L4 AuthorizationPolicies can apply to a workload, found without looking
// at the others: authorize() runs for every inbound connection, and a scan of
// every policy in the mesh (O(P)) costs microseconds at a thousand policies.
//
// What applies is Istio's (ztunnel's) rule, unchanged: every Global policy (the
// root namespace's without a selector), every Namespace policy of the
// workload's namespace, and the WorkloadSelector policies the workload itself
// lists (Workload::policies, filled by the source that matched the selectors).
// The answer is in policy key order, as a scan of the key-ordered map gives it:
// which DENY or ALLOW policy is named as deciding depends on that order.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "state/policy_types.h"

namespace warren::state {

struct Workload;

class PolicyIndex {
 public:
  PolicyIndex() = default;
  // Points into `policies` (a key-ordered map of key -> policy), which must
  // outlive the index and not change.
  template <typename Map>
  explicit PolicyIndex(const Map& policies) {
    for (const auto& [key, p] : policies) add(key, p);
    mergeGlobal();
  }

  std::vector<const AuthorizationPolicy*> forWorkload(const Workload& w) const;

 private:
  void add(const std::string& key, const AuthorizationPolicy& p);  // called in key order
  void mergeGlobal();                                              // once every policy is added
  uint32_t nextRank_ = 0;
  // A policy and its rank in key order, so that lists merge without comparing keys.
  struct Ranked {
    uint32_t rank;
    const AuthorizationPolicy* policy;
  };
  std::vector<Ranked> global_;                                        // in rank order
  std::unordered_map<std::string, std::vector<Ranked>> byNamespace_;  // that namespace's and the global ones
  std::unordered_map<std::string, Ranked> selectorByKey_;             // WorkloadSelector policies only
};

}  // namespace warren::state
