#include "tunnel/proxy/explain_request.h"

#include "authz/authorize_http.h"
#include "jwt/token.h"
#include "jwt/verify.h"
#include "state/state_json.h"

namespace warren::proxy {
namespace {

using nlohmann::json;

// The bound rule whose issuer is the token's, and its object.
struct Found {
  const state::RequestAuthn* object = nullptr;
  const state::JwtProvider* provider = nullptr;
  size_t index = 0;
};

Found ruleFor(const std::vector<const state::RequestAuthn*>& bound, const std::string& issuer) {
  for (const auto* ra : bound)
    for (size_t i = 0; i < ra->providers.size(); ++i)
      if (ra->providers[i].rule.issuer == issuer) return {ra, &ra->providers[i], i};
  return {};
}

}  // namespace

json explainRequest(const state::ClusterState& st, const state::Service& waypoint, const state::Service* dstService,
                    const std::string& srcIp, const identity::SpiffeId& srcId, const std::string& dstIp,
                    uint32_t dstPort, const RequestProbe& probe, std::chrono::system_clock::time_point now) {
  json out = {{"method", probe.method}, {"path", probe.path}};
  authz::HttpRequestFacts facts;
  facts.sourceIp = facts.remoteIp = srcIp;
  if (!srcId.serviceAccount.empty()) facts.sourceIdentity = srcId;
  facts.destinationIp = dstIp;
  facts.destinationPort = dstPort;
  facts.method = probe.method;
  facts.path = probe.path.substr(0, probe.path.find('?'));

  const auto bound = st.requestAuthnsFor(waypoint, dstService);
  json authn = {{"token", probe.jwt.empty() ? "none" : "given"}};
  auto answer = [&](int status, std::string why) {
    out["authentication"] = authn;
    out["status"] = status;
    out["decision"] = {{"allowed", false}, {"policy", ""}, {"rule", -1}, {"reason", std::move(why)}};
    return out;
  };
  for (const auto* ra : bound)
    if (!ra->invalid.empty())
      return answer(401, "RequestAuthentication " + ra->key() + " is invalid: every request is refused");
  if (!probe.jwt.empty()) {
    if (bound.empty()) {
      authn["note"] = "no RequestAuthentication is bound here: the token is ignored and gives no principal";
    } else {
      auto jws = jwt::parseJws(probe.jwt);
      if (!jws) {
        authn["failure"] = "malformed";
        return answer(401, "token: " + jws.error().message);
      }
      const auto iss = jws->payload.value("iss", "");
      const Found f = ruleFor(bound, iss);
      if (!f.provider) {
        authn["failure"] = "issuer_not_configured";
        return answer(401, "no bound rule has issuer '" + iss + "': Jwt issuer is not configured");
      }
      authn["rule"] = f.object->key() + " jwtRules[" + std::to_string(f.index) + "]";
      json claims = jws->payload;
      if (f.provider->keys) {
        auto v = jwt::verify(f.provider->rule, *f.provider->keys, probe.jwt, now);
        authn["verified"] = v.ok();
        if (!v) {
          authn["failure"] = jwt::toString(v.error().reason);
          return answer(jwt::httpStatus(v.error().reason),
                        std::string(jwt::envoyMessage(v.error().reason)) + ": " + v.error().message);
        }
      } else {
        authn["verified"] = false;
        authn["note"] = "keys from " + f.provider->jwksUri +
                        " are held by the waypoint: the signature, exp and aud are not checked here";
      }
      if (jws->payload.contains("sub") && jws->payload["sub"].is_string())
        facts.requestPrincipal = iss + "/" + jws->payload["sub"].get<std::string>();
      authn["principal"] = facts.requestPrincipal.value_or("");
      facts.claims = std::move(claims);
    }
  }
  out["authentication"] = authn;
  const auto policies = st.l7PoliciesFor(waypoint, dstService);
  const auto d = authz::authorizeRequest(policies, facts);
  out["status"] = d.allowed ? 200 : 403;
  out["decision"] = {{"allowed", d.allowed}, {"policy", d.policy}, {"rule", d.rule}, {"reason", d.reason}};
  for (const auto* p : policies)
    if (p->key() == d.policy && d.rule >= 0) out["matched_rule"] = state::toJson(*p)["rules"][d.rule];
  return out;
}

}  // namespace warren::proxy
