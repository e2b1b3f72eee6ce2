#pragma once
// End-user authentication at the waypoint (Istio RequestAuthentication, Envoy's
// jwt_authn as istiod configures it): a pure function over the bound
// RequestAuthentications, the request's headers and path, the key sets at hand
// and the time. The session acts on the result; AuthorizationPolicy then sees the
// request principal and claims.
//
// Istio's semantics:
//  - no RequestAuthentication bound: nothing to do, no request principal;
//  - no token in any bound rule's locations: the request passes unauthenticated
//    (an AuthorizationPolicy requiring requestPrincipals then denies it, 403);
//  - a token whose issuer no bound rule names: 401 "Jwt issuer is not configured";
//  - a token that fails its rule (signature, kid, exp/nbf, audience): 401 with
//    Envoy's message for the failure;
//  - several tokens (different locations or issuers): every one must verify, and
//    the first found gives the principal (Istio leaves this case undefined; the
//    strict reading cannot be used to smuggle an unverified token past);
//  - a bound RequestAuthentication that failed validation: 401 for every request
//    (fail closed).
// Before forwarding, the token is removed from its header unless the rule says
// forwardOriginalToken, and the headers a rule writes (outputPayloadToHeader,
// outputClaimToHeaders) are always removed from what the client sent first, so a
// client cannot forge them by sending no token.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jwt/extract.h"
#include "jwt/verified_cache.h"
#include "jwt/verify.h"
#include "state/request_authn.h"

namespace warren::waypoint {

// The current key set of a jwksUri, or nullptr when none was fetched yet.
using JwksLookup = std::function<std::shared_ptr<const jwt::KeySet>(const std::string& uri)>;

struct AuthnResult {
  enum class Kind {
    None,      // no token (or nothing bound): unauthenticated, allowed to continue
    Verified,  // token(s) verified: `token` holds the principal and claims
    Failed,    // answer 401 with `body`
    NeedKeys,  // fetch `jwksUri` (its keys are missing or lack the token's kid), then judge again
  } kind = Kind::None;

  // Verified: the first token's (shared: plans are copied into request outcomes).
  std::shared_ptr<const jwt::VerifiedToken> token;
  std::string policy;                    // the RequestAuthentication ("ns/name") that decided
  std::string failure;                   // Failed: a metrics label (jwt::toString, or "issuer_not_configured",
                                         // "invalid_policy", "jwks_unavailable")
  std::string body;                      // Failed: Envoy's body
  int status = 401;                      // Failed: Envoy's status (403 for an audience not allowed)
  std::string reason;                    // one line for the access log and `explain`
  std::string jwksUri;                   // NeedKeys
  std::chrono::milliseconds timeout{0};  // NeedKeys: the rule's fetch timeout

  // What the forwarded request must change (None and Verified).
  std::vector<std::string> removeHeaders;  // lower-case names
  std::vector<std::pair<std::string, std::string>> addHeaders;
};

// `afterRefresh`: the keys were just fetched for this request; a kid still
// missing (or keys still absent) is then a failure, not another fetch.
// `verified`: where signatures already checked are remembered (nullptr: check
// every token); the answer is the same either way.
AuthnResult authenticate(const std::vector<const state::RequestAuthn*>& bound, const jwt::RequestView& request,
                         const JwksLookup& jwks, std::chrono::system_clock::time_point now, bool afterRefresh,
                         jwt::VerifiedTokenCache* verified = nullptr);

}  // namespace warren::waypoint
