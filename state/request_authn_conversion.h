#pragma once
// RequestAuthentication as written (source/cluster_types.h), converted into the
// waypoint's form (request_authn.h):
//  - bound by targetRefs as AuthorizationPolicy is (a Gateway or a Service in its
//    own namespace); one with a selector is a sidecar's and no waypoint's: skipped,
//    with the reason (Warren has no sidecars, and the tunnel does not parse HTTP);
//  - an inline `jwks` is parsed once here; keys it cannot use are noted;
//  - neither `jwks` nor `jwksUri`: istiod would discover the JWKS from the
//    issuer's OpenID configuration; Warren does not, so the rule is invalid;
//  - anything invalid makes the whole object invalid: enforced fail closed.

#include <optional>
#include <string>

#include "source/cluster_types.h"
#include "state/request_authn.h"

namespace warren::state {

// nullopt when no waypoint enforces it; *skipReason says why.
std::optional<RequestAuthn> convertRequestAuthentication(const source::RequestAuthentication& in,
                                                         std::string* skipReason = nullptr);

// A protobuf Duration as YAML writes it ("5s", "0.5s"); nullopt when it is not one.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);

}  // namespace warren::state
