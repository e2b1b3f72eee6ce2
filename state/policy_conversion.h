#pragma once
// AuthorizationPolicy and PeerAuthentication as operators write them, converted
// into the tunnel's L4 policy form the way istiod converts them for ztunnel:
//  - only L4 attributes are enforced here; a rule that needs L7 attributes
//    (methods, paths, hosts, request principals, headers, ...) is handled fail-safe:
//    in an ALLOW policy the rule is dropped (it can never match), in a DENY policy
//    only its L7 parts are dropped (it denies on its L4 part alone);
//  - CUSTOM and waypoint-targeted (targetRef) policies are not the tunnel's: skipped;
//  - an object that failed validation is enforced as deny-all for what it selects,
//    so a typo closes rather than opens.
// Every such change is recorded in AuthorizationPolicy::conversionNotes.

#include <optional>
#include <string>

#include "source/cluster_types.h"
#include "state/policy_types.h"

namespace warren::state {

// nullopt when the policy is not the tunnel's to enforce; *skipReason says why.
std::optional<AuthorizationPolicy> convertAuthorizationPolicy(const source::AuthorizationPolicy& in,
                                                              const std::string& rootNamespace,
                                                              std::string* skipReason = nullptr);

// The effective PeerAuthentication of one workload: the most specific of workload
// (selector, same namespace), namespace and mesh-wide (root namespace) policies,
// with UNSET inheriting from the level above; DISABLE is read as PERMISSIVE (the
// tunnel never turns mTLS off between mesh pods; it only decides whether plaintext
// is accepted).
MtlsPolicy resolvePeerAuthentication(const source::Snapshot& snapshot, const std::string& ns,
                                     const std::map<std::string, std::string>& labels,
                                     const std::string& rootNamespace);

}  // namespace warren::state
