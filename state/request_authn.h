#pragma once
// The waypoint's form of Istio RequestAuthentication: the JWT rules bound to a
// waypoint by targetRefs (its Gateway, or a Service that uses it), with inline
// key sets already parsed into OpenSSL keys so no request pays for parsing.
//
// Istio's semantics, which the waypoint applies (waypoint/proxy/authenticate.h):
// a request without a token passes and simply has no request principal; a request
// whose token fails verification is answered 401; a verified token gives
// request.auth.principal "<iss>/<sub>" and its claims to AuthorizationPolicy.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "jwt/jwks.h"
#include "jwt/rule.h"
#include "state/l7_policy.h"

namespace warren::state {

// One jwtRules entry.
struct JwtProvider {
  jwt::JwtRule rule;                        // issuer, audiences, token locations, outputs
  std::shared_ptr<const jwt::KeySet> keys;  // the inline `jwks`, parsed; nullptr with jwksUri
  std::string jwksUri;                      // "" with inline jwks
  std::chrono::milliseconds timeout{5000};  // JWTRule.timeout: how long a JWKS fetch may take
  std::string where;                        // "jwtRules[i] (line N)"
};

struct RequestAuthn {
  std::string name, ns, where;
  std::vector<L7Target> targets;
  std::vector<JwtProvider> providers;
  // Non-empty: the object failed validation. Enforced fail closed: every request
  // to its targets is answered 401, because what it meant to check is unknown (a
  // misspelt `audiences` must not accept every audience).
  std::vector<std::string> invalid;
  // What the conversion changed (a target ignored, a key skipped); shown in the
  // config dump and `warrenctl waypoint show`.
  std::vector<std::string> conversionNotes;

  std::string key() const { return ns + "/" + name; }
};

}  // namespace warren::state
