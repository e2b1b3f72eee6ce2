#pragma once
// AuthorizationPolicy as operators write it, converted into the waypoint's L7 form
// (l7_policy.h) for the policies bound to a waypoint by targetRef(s):
//  - every from.source, to.operation and when field is kept (the waypoint judges
//    HTTP requests, so nothing needs dropping as in the tunnel's L4 form);
//  - targets of kind Gateway (gateway.networking.k8s.io) and Service (core) bind
//    the policy; other kinds, and other namespaces (Istio binds none across
//    namespaces), are noted and ignored;
//  - policies without targetRefs are the tunnel's, and CUSTOM (external
//    authorization) is not supported: skipped, with the reason;
//  - a policy that failed validation (an unknown field, an unsupported when key, a
//    bad CIDR or port) is enforced as deny-all for what it targets, so a typo
//    closes rather than opens.
// Every such change is recorded in L7Policy::conversionNotes.

#include <optional>
#include <string>

#include "source/cluster_types.h"
#include "state/l7_policy.h"

namespace warren::state {

// A targetRef a waypoint binds by (a Gateway or a Service in the policy's own
// namespace), or nullopt and *why. Shared with RequestAuthentication.
std::optional<L7Target> waypointTargetOf(const source::TargetRef& r, const std::string& policyNs, std::string* why);

// nullopt when the policy is not the waypoint's to enforce; *skipReason says why.
std::optional<L7Policy> convertWaypointPolicy(const source::AuthorizationPolicy& in, std::string* skipReason = nullptr);

}  // namespace warren::state
