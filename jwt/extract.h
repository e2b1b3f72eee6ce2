#pragma once
// Finding a rule's token in a request (Istio JWTRule fromHeaders / fromParams /
// fromCookies), pure over a view of the request so the waypoint's HTTP/1 and
// HTTP/2 sessions share it.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jwt/rule.h"

namespace warren::jwt {

struct RequestView {
  std::span<const std::pair<std::string, std::string>> headers;  // lower-case names, in order received
  std::string_view path;                                         // with its query string
};

enum class TokenSource { Header, QueryParam, Cookie };

// A token and where it was, so the waypoint can remove it before forwarding when
// the rule's forwardOriginalToken is false.
struct ExtractedToken {
  std::string token;
  TokenSource source = TokenSource::Header;
  std::string name;  // the header (lower-case), query parameter or cookie name
};

// Every token the rule's locations hold, in this order: the rule's headers in
// its order (each header in request order), its query parameters, its cookies.
// When the rule names no location, the defaults are header Authorization with
// prefix "Bearer " and query parameter access_token.
//  - header with a prefix: the value must start with the prefix (case-sensitive,
//    as Envoy compares it); otherwise that header holds no token. The rest, less
//    surrounding spaces and tabs, is the token. (Envoy searches for the prefix
//    anywhere in the value; only its start is accepted here.)
//  - header without a prefix: the whole value, less surrounding spaces and tabs.
//  - query parameter: the first with that name, percent-decoded ('+' stays '+').
//  - cookie: the first with that name over every cookie header, quotes removed.
// A location that is present but empty ("Bearer ", "access_token=") yields an
// empty token: the request did try to present one, and verify() fails it.
std::vector<ExtractedToken> extractTokens(const JwtRule& rule, const RequestView& request);

// The first of extractTokens. Istio leaves requests with tokens in several
// locations undefined; the waypoint may refuse them by checking for more.
std::optional<ExtractedToken> extractToken(const JwtRule& rule, const RequestView& request);

}  // namespace warren::jwt
