#pragma once
// A compact JWS (RFC 7515 §7.1) taken apart: header and payload decoded as JSON
// objects, the signature as bytes. Nothing here is trusted yet; verify() decides.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace warren::jwt {

struct Jws {
  nlohmann::json header;           // a JSON object
  nlohmann::json payload;          // a JSON object: the claims
  std::string alg;                 // header "alg", a string (may name no algorithm we know)
  std::optional<std::string> kid;  // header "kid"
  std::string signingInput;        // "<header>.<payload>" as sent: what was signed
  std::string signature;           // decoded bytes; empty for "alg":"none" tokens
};

// Exactly three base64url parts with a JSON object in each of the first two; a
// five-part JWE (an encrypted token) is refused by name, as are tokens whose
// header carries "crit" (RFC 7515 §4.1.11: extensions we do not implement must
// not be ignored). Errors say which part failed.
Result<Jws> parseJws(std::string_view token);

}  // namespace warren::jwt
