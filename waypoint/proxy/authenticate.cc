#include "waypoint/proxy/authenticate.h"

#include <algorithm>

#include "common/text.h"
#include "jwt/claims.h"
#include "jwt/select.h"

namespace warren::waypoint {

namespace {

AuthnResult failed(std::string policy, std::string failure, std::string_view body, std::string reason) {
  AuthnResult r;
  r.kind = AuthnResult::Kind::Failed;
  r.policy = std::move(policy);
  r.failure = std::move(failure);
  r.body = std::string(body);
  r.reason = std::move(reason);
  return r;
}

struct Candidate {
  const state::RequestAuthn* policy;
  const state::JwtProvider* provider;
  jwt::ExtractedToken token;
};

std::string where(const jwt::ExtractedToken& t) {
  switch (t.source) {
    case jwt::TokenSource::Header: return "header " + t.name;
    case jwt::TokenSource::QueryParam: return "query parameter " + t.name;
    case jwt::TokenSource::Cookie: return "cookie " + t.name;
  }
  return t.name;
}

// The payload segment as sent (Envoy forwards it base64url-encoded, unchanged).
std::string payloadSegment(const std::string& token) {
  const size_t a = token.find('.');
  const size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  return b == std::string::npos ? "" : token.substr(a + 1, b - a - 1);
}

bool headerSafe(const std::string& v) {
  return std::none_of(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// outputClaimToHeaders: a claim path with '.' between nested names ("realm.role");
// strings as they are, numbers and booleans as JSON text; lists and objects are
// not written (Envoy writes only scalar claims).
std::optional<std::string> claimHeaderValue(const nlohmann::json& payload, const std::string& claim) {
  std::vector<std::string> path;
  size_t start = 0;
  while (true) {
    size_t dot = claim.find('.', start);
    path.push_back(claim.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const nlohmann::json* v = jwt::findClaim(payload, path);
  if (!v) return std::nullopt;
  std::string out;
  if (v->is_string())
    out = v->get<std::string>();
  else if (v->is_number() || v->is_boolean())
    out = v->dump();
  else
    return std::nullopt;
  if (!headerSafe(out)) return std::nullopt;
  return out;
}

}  // namespace

AuthnResult authenticate(const std::vector<const state::RequestAuthn*>& bound, const jwt::RequestView& request,
                         const JwksLookup& jwks, std::chrono::system_clock::time_point now, bool afterRefresh,
                         jwt::VerifiedTokenCache* verified) {
  AuthnResult result;
  if (bound.empty()) return result;
  for (const auto* ra : bound)
    if (!ra->invalid.empty())
      return failed(ra->key(), "invalid_policy", "Jwt verification fails",
                    "RequestAuthentication " + ra->key() + " is invalid (" + ra->invalid.front() + "): fail closed");

  // Headers the rules write are never taken from the client.
  std::vector<std::string> outputs;
  for (const auto* ra : bound)
    for (const auto& p : ra->providers) {
      if (!p.rule.outputPayloadToHeader.empty()) outputs.push_back(asciiLower(p.rule.outputPayloadToHeader));
      for (const auto& c : p.rule.outputClaimToHeaders) outputs.push_back(asciiLower(c.header));
    }
  result.removeHeaders = outputs;

  // Every token in any bound rule's locations, once, with the rules that found it.
  std::vector<std::string> tokens;
  std::vector<std::vector<Candidate>> finders;
  for (const auto* ra : bound)
    for (const auto& p : ra->providers)
      for (auto& t : jwt::extractTokens(p.rule, request)) {
        auto it = std::find(tokens.begin(), tokens.end(), t.token);
        if (it == tokens.end()) {
          tokens.push_back(t.token);
          finders.emplace_back();
          it = tokens.end() - 1;
        }
        finders[static_cast<size_t>(it - tokens.begin())].push_back(Candidate{ra, &p, std::move(t)});
      }
  if (tokens.empty()) return result;

  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& found = finders[i];
    const std::optional<std::string> iss = jwt::peekIssuer(tokens[i]);
    const Candidate* use = nullptr;
    for (const auto& c : found)
      if (iss && c.provider->rule.issuer == *iss) {
        use = &c;
        break;
      }
    if (!use) {
      if (!iss) {
        // Unreadable as a token at all: let the first rule that found it say why.
        auto v = jwt::verify(found.front().provider->rule, jwt::KeySet{}, tokens[i], now);
        const auto why = v ? jwt::JwtFailure::Malformed : v.error().reason;
        return failed(found.front().policy->key(), std::string(jwt::toString(why)), jwt::envoyMessage(why),
                      "token in " + where(found.front().token) + ": " + (v ? "unreadable" : v.error().message));
      }
      return failed(found.front().policy->key(), "issuer_not_configured", "Jwt issuer is not configured",
                    "token in " + where(found.front().token) + " has an issuer no bound rule names");
    }
    const state::JwtProvider& p = *use->provider;
    std::shared_ptr<const jwt::KeySet> keys = p.keys;
    if (!keys) keys = jwks ? jwks(p.jwksUri) : nullptr;
    auto needKeys = [&] {
      AuthnResult r;
      r.kind = AuthnResult::Kind::NeedKeys;
      r.policy = use->policy->key();
      r.jwksUri = p.jwksUri;
      r.timeout = p.timeout;
      return r;
    };
    if (!keys) {
      if (!afterRefresh) return needKeys();
      return failed(use->policy->key(), "jwks_unavailable", "Jwks remote fetch is failed",
                    "no keys could be fetched from " + p.jwksUri);
    }
    auto v = verified ? verified->verify(p.rule, keys, tokens[i], now) : jwt::verify(p.rule, *keys, tokens[i], now);
    if (!v) {
      if (v.error().reason == jwt::JwtFailure::UnknownKid && !p.jwksUri.empty() && !afterRefresh) return needKeys();
      AuthnResult r =
          failed(use->policy->key(), std::string(jwt::toString(v.error().reason)), jwt::envoyMessage(v.error().reason),
                 "token in " + where(use->token) + ": " + v.error().message);
      r.status = jwt::httpStatus(v.error().reason);
      return r;
    }
    if (!p.rule.forwardOriginalToken && use->token.source == jwt::TokenSource::Header)
      result.removeHeaders.push_back(use->token.name);
    if (!p.rule.outputPayloadToHeader.empty())
      result.addHeaders.emplace_back(asciiLower(p.rule.outputPayloadToHeader), payloadSegment(tokens[i]));
    for (const auto& c : p.rule.outputClaimToHeaders)
      if (auto value = claimHeaderValue(v->claims, c.claim))
        result.addHeaders.emplace_back(asciiLower(c.header), *value);
    if (!result.token) {
      result.kind = AuthnResult::Kind::Verified;
      result.policy = use->policy->key();
      result.reason = "verified token in " + where(use->token) + " of " + v->issuer +
                      (v->principal.empty() ? " (no sub: no request principal)" : " for " + v->principal);
      result.token = v.shared();
    }
  }
  return result;
}

}  // namespace warren::waypoint
