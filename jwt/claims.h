#pragma once
// A verified token's claims as text, for AuthorizationPolicy's
// request.auth.claims[...] and for outputClaimToHeaders.

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren::jwt {

// The member at `path` ({"realm_access", "roles"}) walking nested objects;
// nullptr when a step is missing or not an object. An empty path is the payload.
const nlohmann::json* findClaim(const nlohmann::json& payload, std::span<const std::string> path);

// The claim's values as strings, as Istio treats claims (a string or a list of
// strings), widened the way the tunnel's authorizer already reads them:
//   string        -> itself, never split: "read write" stays one value, so a
//                    space-separated OAuth "scope" matches only as a whole
//   number, bool  -> its JSON text ("42", "1.5", "true")
//   list          -> each element that is a string, number or bool, as above;
//                    nested lists and objects in it give nothing
//   object, null  -> nothing (an object's members need a longer path)
//   missing       -> nothing
std::vector<std::string> claimValues(const nlohmann::json& payload, std::span<const std::string> path);

}  // namespace warren::jwt
