#include "authz/authorize.h"

#include <algorithm>

#include "authz/field_match.h"

namespace warren::authz {
namespace {

using state::AuthorizationPolicy;
using state::PolicyAction;

bool matches(const state::Match& m, const ConnectionFacts& c) {
  // Principals are compared without the scheme, as operators write them; a
  // plaintext client has none, so it matches no principal and no namespace (and
  // every `not` of them, as in Istio).
  const std::string principal =
      c.srcIdentity ? c.srcIdentity->trustDomain + "/ns/" + c.srcIdentity->ns + "/sa/" + c.srcIdentity->serviceAccount
                    : "";
  const std::string ns = c.srcIdentity ? c.srcIdentity->ns : "";
  auto str = [](const std::string& v) {
    return [&v](const state::StringMatch& s) { return !v.empty() && s.matches(v); };
  };
  auto ip = [](const std::string& v) { return [&v](const state::IpBlock& b) { return b.contains(v); }; };
  auto port = [&c](uint32_t p) { return p == c.dstPort; };
  return field(m.namespaces, str(ns)) && notField(m.notNamespaces, str(ns)) && field(m.principals, str(principal)) &&
         notField(m.notPrincipals, str(principal)) && field(m.sourceIps, ip(c.srcIp)) &&
         notField(m.notSourceIps, ip(c.srcIp)) && field(m.destinationIps, ip(c.dstIp)) &&
         notField(m.notDestinationIps, ip(c.dstIp)) && field(m.destinationPorts, port) &&
         notField(m.notDestinationPorts, port);
}

bool matches(const state::Rule& r, const ConnectionFacts& c) {
  return std::all_of(r.clauses.begin(), r.clauses.end(), [&](const state::Clause& cl) {
    return anyOf(cl.matches, [&](const state::Match& m) { return matches(m, c); });
  });
}

std::string ruleText(const AuthorizationPolicy& p, int rule) {
  return p.key() + " rules[" + std::to_string(rule) + "]";
}

// What a set of policies decides on their own (used for the enforced set and,
// separately, for the dry-run set).
struct Outcome {
  bool allowed = true;
  const AuthorizationPolicy* by = nullptr;
  int rule = -1;
  std::string reason;
};
Outcome evaluate(const std::vector<const AuthorizationPolicy*>& policies, const ConnectionFacts& c) {
  for (const auto* p : policies) {
    if (p->action != PolicyAction::Deny) continue;
    if (int r = firstMatchingRule(*p, c); r >= 0) return {false, p, r, "denied by DENY policy " + ruleText(*p, r)};
  }
  bool anyAllow = false;
  for (const auto* p : policies) {
    if (p->action != PolicyAction::Allow) continue;
    anyAllow = true;
    if (int r = firstMatchingRule(*p, c); r >= 0) return {true, p, r, "allowed by ALLOW policy " + ruleText(*p, r)};
  }
  if (anyAllow) {
    std::string names;
    for (const auto* p : policies)
      if (p->action == PolicyAction::Allow) names += (names.empty() ? "" : ", ") + p->key();
    return {false, nullptr, -1, "denied: no rule of the ALLOW policies that apply (" + names + ") matches"};
  }
  return {true, nullptr, -1, "allowed: no ALLOW policy applies"};
}

}  // namespace

int firstMatchingRule(const AuthorizationPolicy& p, const ConnectionFacts& c) {
  for (size_t i = 0; i < p.rules.size(); ++i)
    if (matches(p.rules[i], c)) return static_cast<int>(i);
  return -1;
}

Decision authorize(const state::Workload& dst, const std::vector<const AuthorizationPolicy*>& policies,
                   const ConnectionFacts& c) {
  Decision d;
  std::vector<const AuthorizationPolicy*> enforced, dryRun;
  for (const auto* p : policies) {
    if (p->action == PolicyAction::Audit) {
      if (int r = firstMatchingRule(*p, c); r >= 0) d.audits.push_back(ruleText(*p, r));
      continue;
    }
    (p->dryRun ? dryRun : enforced).push_back(p);
  }
  if (!dryRun.empty()) {
    Outcome shadow = evaluate(dryRun, c);
    d.dryRun.push_back(std::string(shadow.allowed ? "would allow" : "would deny") + ": " + shadow.reason);
  }

  if (!c.srcIdentity && dst.mtls.modeFor(c.dstPort) == state::MtlsMode::Strict) {
    auto it = dst.mtls.portDecidedBy.find(c.dstPort);
    d.policy = it != dst.mtls.portDecidedBy.end() ? it->second : dst.mtls.decidedBy;
    d.reason = "denied: plaintext to port " + std::to_string(c.dstPort) + ", which requires mTLS (PeerAuthentication " +
               d.policy + " is STRICT)";
    return d;
  }
  Outcome o = evaluate(enforced, c);
  d.allowed = o.allowed;
  d.policy = o.by ? o.by->key() : "";
  d.rule = o.rule;
  d.reason = o.reason;
  return d;
}

Decision authorize(const state::ClusterState& state, const state::Workload& dst, const ConnectionFacts& c) {
  if (!dst.waypoint.empty()) {
    // Bound to a waypoint for its own traffic: only the waypoint may reach it, or
    // a plaintext client or a crafted HBONE request would skip its L7 policy.
    bool fromWaypoint = false;
    if (const state::Service* wp = state.findService(dst.waypoint); wp && c.srcIdentity)
      for (const auto* w : state.readyEndpoints(*wp)) fromWaypoint |= w->identity.uri() == c.srcIdentity->uri();
    if (!fromWaypoint) {
      Decision d;
      d.policy = dst.waypoint;
      d.reason = "denied: " + dst.ns + "/" + dst.name + " is bound to waypoint " + dst.waypoint +
                 " (istio.io/use-waypoint); traffic that does not come through it is refused";
      return d;
    }
  }
  return authorize(dst, state.policiesFor(dst), c);
}

}  // namespace warren::authz
