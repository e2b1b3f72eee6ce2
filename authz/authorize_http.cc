#include "authz/authorize_http.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "authz/field_match.h"
#include "common/text.h"
#include "jwt/claims.h"

namespace warren::authz {
namespace {

using state::ConditionKey;
using state::L7Policy;
using state::PolicyAction;
using state::StringMatch;

// "host:port" -> "host" ("[v6]:port" -> "[v6]"); anything else unchanged.
std::string_view withoutPort(std::string_view authority) {
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == authority.size()) return authority;
  if (authority.find_first_not_of("0123456789", colon + 1) != std::string_view::npos) return authority;
  std::string_view host = authority.substr(0, colon);
  // A bare IPv6 literal has colons of its own; only a bracketed one carries a port.
  if (host.find(':') != std::string_view::npos && !host.ends_with(']')) return authority;
  return host;
}

// What the request's facts say about the connection's peer, computed once per request.
struct Peer {
  std::string principal;  // "<td>/ns/<ns>/sa/<sa>", "" for plaintext
  std::string ns;
  std::string authority;  // lower-case, as hosts are stored
  const std::string* remoteIp;
};

Peer peerOf(const HttpRequestFacts& r) {
  Peer p;
  if (r.sourceIdentity) {
    const auto& id = *r.sourceIdentity;
    p.principal = id.trustDomain + "/ns/" + id.ns + "/sa/" + id.serviceAccount;
    p.ns = id.ns;
  }
  p.authority = asciiLower(r.authority);
  p.remoteIp = r.remoteIp.empty() ? &r.sourceIp : &r.remoteIp;
  return p;
}

// A plaintext client, or a request without a token, has no value: it matches no
// pattern (not even "*"), and so every `not` of one, as in Istio.
auto str(const std::string& v) {
  return [&v](const StringMatch& m) { return !v.empty() && m.matches(v); };
}
auto ip(const std::string& v) {
  return [&v](const state::IpBlock& b) { return b.contains(v); };
}

bool matches(const state::L7Source& s, const HttpRequestFacts& r, const Peer& p) {
  const std::string requestPrincipal = r.requestPrincipal.value_or("");
  return field(s.principals, str(p.principal)) && notField(s.notPrincipals, str(p.principal)) &&
         field(s.requestPrincipals, str(requestPrincipal)) && notField(s.notRequestPrincipals, str(requestPrincipal)) &&
         field(s.namespaces, str(p.ns)) && notField(s.notNamespaces, str(p.ns)) && field(s.ipBlocks, ip(r.sourceIp)) &&
         notField(s.notIpBlocks, ip(r.sourceIp)) && field(s.remoteIpBlocks, ip(*p.remoteIp)) &&
         notField(s.notRemoteIpBlocks, ip(*p.remoteIp));
}

bool matches(const state::L7Operation& o, const HttpRequestFacts& r, const Peer& p) {
  // Istio adds "host:*" for a host without a port; matching the authority with its
  // port stripped as well is the same thing.
  const std::string host(withoutPort(p.authority));
  auto hostMatch = [&](const StringMatch& m) { return str(p.authority)(m) || str(host)(m); };
  auto port = [&r](uint32_t v) { return v == r.destinationPort; };
  return field(o.hosts, hostMatch) && notField(o.notHosts, hostMatch) && field(o.ports, port) &&
         notField(o.notPorts, port) && field(o.methods, str(r.method)) && notField(o.notMethods, str(r.method)) &&
         field(o.paths, str(r.path)) && notField(o.notPaths, str(r.path));
}

// The attribute's values for this request; none when it is absent.
std::vector<std::string> attributeValues(const ConditionKey& k, const HttpRequestFacts& r, const Peer& p) {
  using Attr = ConditionKey::Attr;
  std::vector<std::string> out;
  // A claim's values as text (jwt/claims.h): a string is itself, a list each of
  // its scalars, a number or boolean its JSON text; objects and null have none.
  auto claim = [&](const std::vector<std::string>& path) {
    for (auto& v : jwt::claimValues(r.claims, path)) out.push_back(std::move(v));
  };
  auto some = [&out](const std::string& v) {
    if (!v.empty()) out.push_back(v);
  };
  switch (k.attr) {
    case Attr::RequestHeader:
      for (const auto& [name, value] : r.headers)
        if (name == k.args[0]) out.push_back(value);
      break;
    case Attr::RequestClaim: claim(k.args); break;
    case Attr::RequestPrincipal: some(r.requestPrincipal.value_or("")); break;
    case Attr::RequestAudiences: claim({"aud"}); break;
    case Attr::RequestPresenter: claim({"azp"}); break;
    case Attr::SourceIp: some(r.sourceIp); break;
    case Attr::RemoteIp: some(*p.remoteIp); break;
    case Attr::SourceNamespace: some(p.ns); break;
    case Attr::SourcePrincipal: some(p.principal); break;
    case Attr::DestinationIp: some(r.destinationIp); break;
    case Attr::DestinationPort: out.push_back(std::to_string(r.destinationPort)); break;
    case Attr::ConnectionSni: some(r.sni); break;
  }
  return out;
}

bool valueMatches(const ConditionKey& k, const std::string& pattern, const std::string& value) {
  if (k.isIp()) {
    auto block = state::IpBlock::parse(pattern);
    return block && block->contains(value);
  }
  if (k.attr == ConditionKey::Attr::DestinationPort) {
    uint32_t want = 0;
    auto [end, ec] = std::from_chars(pattern.data(), pattern.data() + pattern.size(), want);
    return ec == std::errc() && end == pattern.data() + pattern.size() && std::to_string(want) == value;
  }
  return StringMatch::parse(pattern).matches(value);
}

// values: one must match one of the attribute's values; notValues: none may.
bool holds(const state::L7Condition& c, const HttpRequestFacts& r, const Peer& p) {
  auto key = state::parseConditionKey(c.key);
  if (!key) return false;  // the conversion refuses such policies (deny-all) before they get here
  const std::vector<std::string> actual = attributeValues(*key, r, p);
  auto hit = [&](const std::string& pattern) {
    return anyOf(actual, [&](const std::string& v) { return valueMatches(*key, pattern, v); });
  };
  return field(c.values, hit) && notField(c.notValues, hit);
}

bool matches(const state::L7Rule& rule, const HttpRequestFacts& r, const Peer& p) {
  auto src = [&](const state::L7Source& s) { return matches(s, r, p); };
  auto op = [&](const state::L7Operation& o) { return matches(o, r, p); };
  auto cond = [&](const state::L7Condition& c) { return holds(c, r, p); };
  return field(rule.from, src) && field(rule.to, op) && std::all_of(rule.when.begin(), rule.when.end(), cond);
}

int firstMatch(const L7Policy& policy, const HttpRequestFacts& r, const Peer& p) {
  for (size_t i = 0; i < policy.rules.size(); ++i)
    if (matches(policy.rules[i], r, p)) return static_cast<int>(i);
  return -1;
}

std::string ruleText(const L7Policy& p, int rule) { return p.key() + " rules[" + std::to_string(rule) + "]"; }

// What a set of policies decides on their own (the enforced set, and separately
// the dry-run set).
HttpDecision evaluate(const std::vector<const L7Policy*>& policies, const HttpRequestFacts& r, const Peer& peer) {
  HttpDecision d;
  for (const auto* p : policies) {
    if (p->action != PolicyAction::Deny) continue;
    if (int i = firstMatch(*p, r, peer); i >= 0) {
      d.policy = p->key();
      d.rule = i;
      d.reason = "denied by DENY policy " + ruleText(*p, i);
      return d;
    }
  }
  std::string allowPolicies;
  for (const auto* p : policies) {
    if (p->action != PolicyAction::Allow) continue;
    allowPolicies += (allowPolicies.empty() ? "" : ", ") + p->key();
    if (int i = firstMatch(*p, r, peer); i >= 0) {
      d.allowed = true;
      d.policy = p->key();
      d.rule = i;
      d.reason = "allowed by ALLOW policy " + ruleText(*p, i);
      return d;
    }
  }
  if (!allowPolicies.empty()) {
    d.reason = "denied: no rule of the ALLOW policies that apply (" + allowPolicies + ") matches";
    return d;
  }
  d.allowed = true;
  d.reason = "allowed: no ALLOW policy applies";
  return d;
}

}  // namespace

int firstMatchingRule(const L7Policy& p, const HttpRequestFacts& request) {
  return firstMatch(p, request, peerOf(request));
}

bool isSupportedConditionKey(const std::string& key) { return state::parseConditionKey(key).has_value(); }

HttpDecision authorizeRequest(const std::vector<const L7Policy*>& policies, const HttpRequestFacts& request) {
  const Peer peer = peerOf(request);
  std::vector<const L7Policy*> enforced, dryRun;
  std::vector<std::string> audits;
  for (const auto* p : policies) {
    if (p->action == PolicyAction::Audit) {
      if (int i = firstMatch(*p, request, peer); i >= 0) audits.push_back(ruleText(*p, i));
      continue;
    }
    (p->dryRun ? dryRun : enforced).push_back(p);
  }
  HttpDecision d = evaluate(enforced, request, peer);
  d.audits = std::move(audits);
  if (!dryRun.empty()) {
    HttpDecision shadow = evaluate(dryRun, request, peer);
    d.dryRun.push_back(std::string(shadow.allowed ? "would allow" : "would deny") + ": " + shadow.reason);
  }
  return d;
}

}  // namespace warren::authz
