#pragma once
// Which rule judges a token, when a workload has several RequestAuthentication
// rules (one per issuer): the one whose issuer is the token's "iss", read before
// any verification, as Envoy picks among several jwt_authn providers. Reading an
// unverified claim is safe here because it only chooses the keys and rule that
// verify() then holds the token to; a lying iss meets keys that reject it.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "jwt/rule.h"

namespace warren::jwt {

// The token's "iss" if it parses as a JWS and iss is a string; unverified.
std::optional<std::string> peekIssuer(std::string_view token);

// The first rule whose issuer equals the token's iss; nullptr when none does or
// the token has no readable iss. Two rules with one issuer: the first wins.
const JwtRule* selectRule(std::span<const JwtRule> rules, std::string_view token);

}  // namespace warren::jwt
