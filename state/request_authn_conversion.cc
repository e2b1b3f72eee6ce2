#include "state/request_authn_conversion.h"

#include <charconv>
#include <cmath>

#include "common/text.h"
#include "jwt/openid_discovery.h"
#include "state/l7_policy_conversion.h"

namespace warren::state {

std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
  if (text.size() < 2 || text.back() != 's') return std::nullopt;
  double seconds = 0;
  const char* end = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc() || ptr != end || !std::isfinite(seconds) || seconds < 0 || seconds > 3600) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
}

namespace {

JwtProvider convertRule(const source::JwtRuleSpec& in, std::vector<std::string>& invalid,
                        std::vector<std::string>& notes) {
  JwtProvider p;
  p.where = in.where;
  p.rule.issuer = in.issuer;
  p.rule.audiences = in.audiences;
  for (const auto& h : in.fromHeaders) p.rule.fromHeaders.push_back({h.name, h.prefix});
  p.rule.fromParams = in.fromParams;
  p.rule.fromCookies = in.fromCookies;
  p.rule.forwardOriginalToken = in.forwardOriginalToken;
  p.rule.outputPayloadToHeader = in.outputPayloadToHeader;
  for (const auto& c : in.outputClaimToHeaders) p.rule.outputClaimToHeaders.push_back({c.header, c.claim});
  if (!in.timeout.empty()) {
    if (auto d = parseDuration(in.timeout))
      p.timeout = *d;
    else
      invalid.push_back(in.where + ": timeout '" + in.timeout + "' is not a duration such as \"5s\"");
  }
  if (!in.jwks.empty()) {
    // Istio lets an inline jwks win over jwksUri when both are written.
    if (!in.jwksUri.empty()) notes.push_back(in.where + ": both jwks and jwksUri; the inline jwks is used");
    auto keys = jwt::parseJwks(in.jwks);
    if (!keys) {
      invalid.push_back(in.where + ": jwks: " + keys.error().message);
    } else {
      for (const auto& k : keys->skipped)
        notes.push_back(in.where + ": jwks key " + std::to_string(k.index) +
                        (k.kid.empty() ? "" : " (kid " + k.kid + ")") + " skipped: " + k.reason);
      if (keys->keys.empty()) invalid.push_back(in.where + ": jwks holds no usable key");
      p.keys = std::make_shared<const jwt::KeySet>(std::move(*keys));
    }
  } else if (!in.jwksUri.empty()) {
    p.jwksUri = in.jwksUri;
  } else if (auto discovery = jwt::discoveryUrl(in.issuer); discovery) {
    // Neither: the keys are found from the issuer, by OpenID discovery, as istiod does.
    p.jwksUri = *discovery;
  } else if (!in.issuer.empty()) {
    invalid.push_back(in.where + ": neither jwks nor jwksUri, and " + discovery.error().message);
  }
  return p;
}

}  // namespace

std::optional<RequestAuthn> convertRequestAuthentication(const source::RequestAuthentication& in,
                                                         std::string* skipReason) {
  auto skip = [&](std::string why) -> std::optional<RequestAuthn> {
    if (skipReason) *skipReason = std::move(why);
    return std::nullopt;
  };
  if (!in.hasTargetRef)
    return skip("it has no targetRef(s): a selector binds sidecars, and Warren's waypoints bind by targetRefs");
  RequestAuthn out;
  out.name = in.name;
  out.ns = in.ns;
  out.where = in.where;
  out.invalid = in.invalid;
  for (const auto& ref : in.targetRefs) {
    std::string why;
    if (auto t = waypointTargetOf(ref, in.ns, &why))
      out.targets.push_back(std::move(*t));
    else
      out.conversionNotes.push_back(why);
  }
  if (out.targets.empty())
    return skip("none of its targetRefs is a Gateway or Service in its namespace (" +
                joined(out.conversionNotes, "; ") + ")");
  for (const auto& r : in.jwtRules) out.providers.push_back(convertRule(r, out.invalid, out.conversionNotes));
  if (!out.invalid.empty())
    out.conversionNotes.push_back("invalid (" + joined(out.invalid, "; ") +
                                  "): every request to its targets is answered 401 until fixed");
  return out;
}

}  // namespace warren::state
