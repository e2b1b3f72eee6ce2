#pragma once
// One JWTRule of an Istio RequestAuthentication (security.istio.io/v1), as the
// waypoint applies it. The keys (jwks / jwksUri) are not here: they arrive as a
// KeySet of their own, fetched and refreshed apart from the rule.

#include <string>
#include <vector>

namespace warren::jwt {

// fromHeaders: the header name (any case; matched lower-cased) and the text the
// value must start with, e.g. {"Authorization", "Bearer "}; "" takes the whole value.
struct JwtHeaderLocation {
  std::string name;
  std::string prefix;
};

// outputClaimToHeaders: copy claim `claim` of a verified token into header `header`.
struct ClaimToHeader {
  std::string header;
  std::string claim;
};

struct JwtRule {
  std::string issuer;                  // must equal the token's "iss"
  std::vector<std::string> audiences;  // empty: any "aud" (or none) is accepted
  // Where the token is. When all three are empty: header Authorization with
  // prefix "Bearer ", then query parameter access_token (Istio's default).
  std::vector<JwtHeaderLocation> fromHeaders;
  std::vector<std::string> fromParams;
  std::vector<std::string> fromCookies;
  // What to do after verification; carried here, applied by the waypoint.
  bool forwardOriginalToken = false;  // false: the token is removed before forwarding
  std::string outputPayloadToHeader;  // "": no header with the base64url payload
  std::vector<ClaimToHeader> outputClaimToHeaders;
};

}  // namespace warren::jwt
