// A request's JWT as the waypoint's RequestAuthentication judges it, through the
// jwt/ library's entry points in the order the waypoint calls them (token
// extraction from headers, query and cookies; rule selection by issuer; JWS
// parsing, signature, claims), with a fixed JWKS: an EC P-256 and an RSA key
// whose private halves signed the seed tokens and were not kept. Two rules:
// Istio's defaults (Authorization: Bearer, access_token), and one reading x-jwt /
// ?token / cookie session and writing claims to headers. (The waypoint's
// authenticate() around these pulls in the whole waypoint; this target stays
// cheap enough for the CI stage.)
// Input: the request's path (first line), then "name: value" header lines.
// Invariants: verify() is exactly verifySignature() then judgeClaims(); a
// verified token has the rule's issuer and principal "<iss>/<sub>"; a failure
// answers 401 or 403.
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jwt/claims.h"
#include "jwt/extract.h"
#include "jwt/jwks.h"
#include "jwt/select.h"
#include "jwt/verify.h"
#include "tests/fuzz/fuzz_entries.h"

namespace warren::fuzz {
namespace {

constexpr std::string_view kJwks =
    R"json({"keys": [{"kty": "EC", "crv": "P-256", "kid": "fuzz-ec", "x": "F6fNYm0Kef1UGBnxd7pfLCU4xqWFvqxk4c4LmIvmbTI", "y": "zwr0ba_5eNNAPew6d7liBg80tkQOfCxjq-mIyk9dNPk"}, {"kty": "RSA", "kid": "fuzz-rsa", "alg": "RS256", "n": "rfDO_g7uw_xPgGNHBFpUU7JSxCOdyy61KkYbQX_uhX3FCzzY5qmtgrIyLNpViU8yXxVgiLnRkVvIMr1r9evn8JLbUjM8jjncWhTo_uBHSvywOjSYAnwhdJdGTOPYyjvzAQSVa_ZaoHFWig48PeCGvO485W1Bd7sSzwqV7uzVrkqOtLyl626ewJ3TagFyMwxpkqivjyQbeTKwmuIZadZyaAJTHUGgjFNibt0UYT9sscKcgpzdLF7m4bmeD_63Kavw0bycKuGzoqPL57K9zp560wv5n_KrWOuAComyhCsp-_L8q1FA4ujEeEpHfqJtYYIxV35q6D8-LCU1X62jZ-7Nrw", "e": "AQAB"}]})json";
// The seed tokens are valid at this instant (iat 1699999990, exp +1 h).
constexpr int64_t kNow = 1'700'000'000;

const jwt::KeySet& keys() {
  static const jwt::KeySet k = [] {
    auto parsed = jwt::parseJwks(kJwks);
    FUZZ_CHECK(parsed.ok() && parsed->keys.size() == 2);
    return std::move(*parsed);
  }();
  return k;
}

const std::array<jwt::JwtRule, 2>& rules() {
  static const std::array<jwt::JwtRule, 2> r = [] {
    jwt::JwtRule defaults;
    defaults.issuer = "https://issuer.example";
    defaults.audiences = {"api.example"};
    jwt::JwtRule custom;
    custom.issuer = "https://other.example";
    custom.fromHeaders = {{"x-jwt", ""}};
    custom.fromParams = {"token"};
    custom.fromCookies = {"session"};
    custom.outputPayloadToHeader = "x-jwt-payload";
    custom.outputClaimToHeaders = {{"x-sub", "sub"}, {"x-group", "nested.a.b"}, {"x-groups", "groups"}};
    return std::array<jwt::JwtRule, 2>{defaults, custom};
  }();
  return r;
}

std::vector<std::string> claimPath(const std::string& dotted) {
  std::vector<std::string> path;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    path.push_back(dotted.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) return path;
    start = dot + 1;
  }
}

void judge(const jwt::JwtRule& rule, const std::string& token, std::chrono::system_clock::time_point now) {
  const auto full = jwt::verify(rule, keys(), token, now);
  auto split = jwt::verifySignature(rule, keys(), token);
  std::optional<jwt::JwtError> claims;
  if (split) claims = jwt::judgeClaims(rule, split.value(), now);
  FUZZ_CHECK(full.ok() == (split.ok() && !claims));
  if (!full) {
    const auto& e = split ? *claims : split.error();
    FUZZ_CHECK(full.error().reason == e.reason);
    const int status = jwt::httpStatus(full.error().reason);
    FUZZ_CHECK(status == 401 || status == 403);
    FUZZ_CHECK(!jwt::envoyMessage(full.error().reason).empty());
    return;
  }
  FUZZ_CHECK(full->issuer == rule.issuer);
  if (!full->subject.empty()) FUZZ_CHECK(full->principal == full->issuer + "/" + full->subject);
  FUZZ_CHECK(full->claims.is_object());
  for (const auto& out : rule.outputClaimToHeaders) (void)jwt::claimValues(full->claims, claimPath(out.claim));
}

}  // namespace

int jwtEntry(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t eol = input.find('\n');
  const std::string path(input.substr(0, eol));
  std::vector<std::pair<std::string, std::string>> headers;
  while (eol != std::string_view::npos) {
    const size_t start = eol + 1;
    eol = input.find('\n', start);
    const std::string_view line = input.substr(start, eol == std::string_view::npos ? eol : eol - start);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  const jwt::RequestView request{headers, path};
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  for (const auto& rule : rules()) {
    for (const auto& found : jwt::extractTokens(rule, request)) {
      (void)jwt::peekIssuer(found.token);
      // As the waypoint: the rule whose issuer the token names; else the location's own rule.
      const jwt::JwtRule* chosen = jwt::selectRule(rules(), found.token);
      judge(chosen ? *chosen : rule, found.token, now);
    }
  }
  return 0;
}

}  // namespace warren::fuzz
