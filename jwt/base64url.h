#pragma once
// base64url without padding (RFC 4648 §5, RFC 7515 §2): the encoding of every part
// of a compact JWS and of every number in a JWK.

#include <string>
#include <string_view>

#include "common/result.h"

namespace warren::jwt {

std::string base64urlEncode(std::string_view bytes);

// Strict: only the 64 URL-safe characters, no '=' padding, no whitespace, no
// length of 4n+1, and the unused low bits of the last character must be zero.
// One byte string has exactly one spelling, so two texts of one token never both
// pass (a cache or log keyed on the token text sees one token, not two).
Result<std::string> base64urlDecode(std::string_view text);

}  // namespace warren::jwt
