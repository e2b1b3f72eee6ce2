#include "state/l7_policy_conversion.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/text.h"
#include "state/policy_values.h"

namespace warren::state {
namespace {

using FieldMap = std::map<std::string, std::vector<std::string>>;

// Collects what makes the policy invalid; any entry makes it deny-all.
struct L7Converter : PolicyValues {
  std::vector<StringMatch> hosts(const std::vector<std::string>& v) {
    std::vector<StringMatch> out;
    out.reserve(v.size());
    for (const auto& s : v) out.push_back(StringMatch::parse(asciiLower(s)));
    return out;
  }
  // Istio's URI templates ("/a/{*}/b", "{**}") are not matched here: refusing them
  // keeps a policy from silently comparing the braces literally.
  std::vector<StringMatch> paths(const std::vector<std::string>& v, const std::string& field) {
    for (const auto& s : v)
      if (s.find('{') != std::string::npos)
        invalid.push_back(field + ": '" + s + "' is a path template, which the waypoint does not support");
    return strings(v);
  }
  static void append(std::vector<StringMatch>& to, const std::vector<StringMatch>& more) {
    to.insert(to.end(), more.begin(), more.end());
  }

  // The source's field names are validated there; these are all Istio defines.
  L7Source source(const FieldMap& f, const std::string& where) {
    refuseServiceAccountsWithPrincipals(f, where);
    L7Source s;
    for (const auto& [field, values] : f) {
      const std::string at = where + "." + field;
      if (field == "principals")
        append(s.principals, strings(values));
      else if (field == "notPrincipals")
        append(s.notPrincipals, strings(values));
      else if (field == "requestPrincipals")
        s.requestPrincipals = strings(values);
      else if (field == "notRequestPrincipals")
        s.notRequestPrincipals = strings(values);
      else if (field == "namespaces")
        s.namespaces = strings(values);
      else if (field == "notNamespaces")
        s.notNamespaces = strings(values);
      else if (field == "ipBlocks")
        s.ipBlocks = ips(values, at);
      else if (field == "notIpBlocks")
        s.notIpBlocks = ips(values, at);
      else if (field == "remoteIpBlocks")
        s.remoteIpBlocks = ips(values, at);
      else if (field == "notRemoteIpBlocks")
        s.notRemoteIpBlocks = ips(values, at);
      else if (field == "serviceAccounts")
        append(s.principals, serviceAccounts(values, at));
      else if (field == "notServiceAccounts")
        append(s.notPrincipals, serviceAccounts(values, at));
      else
        invalid.push_back(where + ": unknown field '" + field + "'");
    }
    return s;
  }
  L7Operation operation(const FieldMap& f, const std::string& where) {
    L7Operation o;
    for (const auto& [field, values] : f) {
      const std::string at = where + "." + field;
      if (field == "hosts")
        o.hosts = hosts(values);
      else if (field == "notHosts")
        o.notHosts = hosts(values);
      else if (field == "ports")
        o.ports = ports(values, at);
      else if (field == "notPorts")
        o.notPorts = ports(values, at);
      else if (field == "methods")
        o.methods = strings(values);
      else if (field == "notMethods")
        o.notMethods = strings(values);
      else if (field == "paths")
        o.paths = paths(values, at);
      else if (field == "notPaths")
        o.notPaths = paths(values, at);
      else
        invalid.push_back(where + ": unknown field '" + field + "'");
    }
    return o;
  }
  // The key must be one the matcher understands and the values must parse for it;
  // the condition keeps Istio's text (the matcher reads it the same way).
  L7Condition condition(const source::PolicyCondition& c, const std::string& where) {
    const std::string at = where + " '" + c.key + "'";
    auto key = parseConditionKey(c.key);
    if (!key)
      invalid.push_back(at + ": key is not supported");
    else if (key->isIp()) {
      ips(c.values, at);
      ips(c.notValues, at);
    } else if (key->attr == ConditionKey::Attr::DestinationPort) {
      ports(c.values, at);
      ports(c.notValues, at);
    }
    if (c.values.empty() && c.notValues.empty()) invalid.push_back(at + ": needs values or notValues");
    return {c.key, c.values, c.notValues};
  }
};

}  // namespace

// A targetRef the waypoint binds to, or nullopt and *why.
std::optional<L7Target> waypointTargetOf(const source::TargetRef& r, const std::string& policyNs, std::string* why) {
  const std::string what = "targetRef " + r.kind + " " + r.ns + "/" + r.name;
  if (r.ns != policyNs) {
    *why = what + " is in another namespace, which Istio does not bind; ignored";
    return std::nullopt;
  }
  if (r.kind == "Gateway" && r.group == "gateway.networking.k8s.io")
    return L7Target{L7Target::Kind::Gateway, r.ns, r.name};
  if (r.kind == "Service" && (r.group.empty() || r.group == "core"))
    return L7Target{L7Target::Kind::Service, r.ns, r.name};
  *why = what + " (group '" + r.group + "') is not a Gateway or a Service; ignored";
  return std::nullopt;
}

std::optional<L7Policy> convertWaypointPolicy(const source::AuthorizationPolicy& in, std::string* skipReason) {
  auto skip = [&](std::string why) -> std::optional<L7Policy> {
    if (skipReason) *skipReason = std::move(why);
    return std::nullopt;
  };
  if (!in.hasTargetRef) return skip("it has no targetRef(s); it is the tunnel's (L4) policy");
  if (in.action == "CUSTOM") return skip("CUSTOM (external authorization) is not supported by the waypoint");

  L7Policy out;
  out.name = in.name;
  out.ns = in.ns;
  out.where = in.where;
  out.dryRun = in.dryRun;
  out.action = in.action == "DENY"    ? PolicyAction::Deny
               : in.action == "AUDIT" ? PolicyAction::Audit
                                      : PolicyAction::Allow;
  for (const auto& ref : in.targetRefs) {
    std::string why;
    if (auto t = waypointTargetOf(ref, in.ns, &why))
      out.targets.push_back(std::move(*t));
    else
      out.conversionNotes.push_back(why);
  }
  if (out.targets.empty()) {
    std::string why = "none of its targetRefs is a Gateway or Service in its namespace";
    if (!out.conversionNotes.empty()) why += " (" + joined(out.conversionNotes, ", ") + ")";
    if (!in.invalid.empty()) why += " (and it is invalid: " + joined(in.invalid, ", ") + ")";
    return skip(why);
  }

  L7Converter cv;
  cv.policyNs = in.ns;
  cv.invalid = in.invalid;
  for (size_t i = 0; i < in.rules.size(); ++i) {
    const auto& r = in.rules[i];
    const std::string where = "rules[" + std::to_string(i) + "]";
    L7Rule rule;
    for (const auto& src : r.from) rule.from.push_back(cv.source(src.fields, where + ".from.source"));
    for (const auto& op : r.to) rule.to.push_back(cv.operation(op.fields, where + ".to.operation"));
    for (const auto& c : r.when) rule.when.push_back(cv.condition(c, where + ".when"));
    out.rules.push_back(std::move(rule));
  }
  if (!cv.invalid.empty()) {
    // Fail closed: whatever it targets is denied until the object is fixed.
    out.conversionNotes.push_back("invalid (" + joined(cv.invalid, ", ") + "): enforced as deny-all until fixed");
    out.action = PolicyAction::Deny;
    out.dryRun = false;
    out.rules = {L7Rule{}};
  }
  return out;
}

}  // namespace warren::state
