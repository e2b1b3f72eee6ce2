// A request's JWT through the waypoint's RequestAuthentication
// (waypoint/proxy/authenticate.h: token extraction from headers, query and
// cookies, JWS parsing, signature, claims, outputs), with a fixed JWKS: an EC
// P-256 and an RSA key whose private halves signed the seed tokens and are not
// kept. Two rules: Istio's defaults (Authorization: Bearer, access_token), and
// one reading x-jwt / ?token / cookie session and writing claims to headers.
// Input: the request's path (first line), then "name: value" header lines.
// Invariants: a verified request has a principal "<iss>/<sub>" from the fixed
// issuers; a failed one names its failure and answers 401 or 403.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jwt/jwks.h"
#include "state/request_authn.h"
#include "tests/fuzz/fuzz_entries.h"
#include "waypoint/proxy/authenticate.h"

namespace warren::fuzz {
namespace {

constexpr std::string_view kJwks =
    R"json({"keys": [{"kty": "EC", "crv": "P-256", "kid": "fuzz-ec", "x": "F6fNYm0Kef1UGBnxd7pfLCU4xqWFvqxk4c4LmIvmbTI", "y": "zwr0ba_5eNNAPew6d7liBg80tkQOfCxjq-mIyk9dNPk"}, {"kty": "RSA", "kid": "fuzz-rsa", "alg": "RS256", "n": "rfDO_g7uw_xPgGNHBFpUU7JSxCOdyy61KkYbQX_uhX3FCzzY5qmtgrIyLNpViU8yXxVgiLnRkVvIMr1r9evn8JLbUjM8jjncWhTo_uBHSvywOjSYAnwhdJdGTOPYyjvzAQSVa_ZaoHFWig48PeCGvO485W1Bd7sSzwqV7uzVrkqOtLyl626ewJ3TagFyMwxpkqivjyQbeTKwmuIZadZyaAJTHUGgjFNibt0UYT9sscKcgpzdLF7m4bmeD_63Kavw0bycKuGzoqPL57K9zp560wv5n_KrWOuAComyhCsp-_L8q1FA4ujEeEpHfqJtYYIxV35q6D8-LCU1X62jZ-7Nrw", "e": "AQAB"}]})json";
constexpr std::string_view kIssuer = "https://issuer.example";
// The seed tokens are valid at this instant (iat 1699999990, exp +1 h).
constexpr int64_t kNow = 1'700'000'000;

const state::RequestAuthn& requestAuthn() {
  static const state::RequestAuthn ra = [] {
    auto keys = jwt::parseJwks(kJwks);
    FUZZ_CHECK(keys.ok() && keys->keys.size() == 2);
    auto shared = std::make_shared<const jwt::KeySet>(std::move(*keys));
    state::RequestAuthn r;
    r.name = "fuzz";
    r.ns = "default";
    state::JwtProvider defaults;
    defaults.rule.issuer = std::string(kIssuer);
    defaults.rule.audiences = {"api.example"};
    defaults.keys = shared;
    state::JwtProvider custom;
    custom.rule.issuer = "https://other.example";
    custom.rule.fromHeaders = {{"x-jwt", ""}};
    custom.rule.fromParams = {"token"};
    custom.rule.fromCookies = {"session"};
    custom.rule.outputPayloadToHeader = "x-jwt-payload";
    custom.rule.outputClaimToHeaders = {{"x-sub", "sub"}, {"x-group", "nested.a.b"}, {"x-groups", "groups"}};
    custom.keys = shared;
    r.providers = {defaults, custom};
    return r;
  }();
  return ra;
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
  const std::vector<const state::RequestAuthn*> bound = {&requestAuthn()};
  const jwt::RequestView request{headers, path};
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  const waypoint::JwksLookup noUris = [](const std::string&) { return nullptr; };
  const auto result = waypoint::authenticate(bound, request, noUris, now, false);
  switch (result.kind) {
    case waypoint::AuthnResult::Kind::Verified:
      FUZZ_CHECK(result.token != nullptr);
      FUZZ_CHECK(result.token->issuer == kIssuer || result.token->issuer == "https://other.example");
      if (!result.token->subject.empty())
        FUZZ_CHECK(result.token->principal == result.token->issuer + "/" + result.token->subject);
      break;
    case waypoint::AuthnResult::Kind::Failed:
      FUZZ_CHECK(result.status == 401 || result.status == 403);
      FUZZ_CHECK(!result.failure.empty() && !result.body.empty());
      break;
    case waypoint::AuthnResult::Kind::None:
      break;
    case waypoint::AuthnResult::Kind::NeedKeys:
      FUZZ_CHECK(false);  // inline keys only: there is nothing to fetch
  }
  return 0;
}

}  // namespace warren::fuzz
