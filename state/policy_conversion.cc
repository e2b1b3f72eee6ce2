#include "state/policy_conversion.h"

#include "common/text.h"
#include "state/policy_values.h"

namespace warren::state {
namespace {

using FieldMap = std::map<std::string, std::vector<std::string>>;

// L4 values that fail to parse make the whole policy invalid (fail closed).
struct Converter : PolicyValues {
  std::vector<std::string> l7;  // L7 attributes found in the current rule

  Match source(const FieldMap& f) {
    refuseServiceAccountsWithPrincipals(f, "from.source");
    Match m;
    for (const auto& [field, values] : f) {
      if (field == "principals")
        m.principals = strings(values);
      else if (field == "notPrincipals")
        m.notPrincipals = strings(values);
      else if (field == "namespaces")
        m.namespaces = strings(values);
      else if (field == "notNamespaces")
        m.notNamespaces = strings(values);
      else if (field == "ipBlocks")
        m.sourceIps = ips(values, "from.source.ipBlocks");
      else if (field == "notIpBlocks")
        m.notSourceIps = ips(values, "from.source.notIpBlocks");
      else if (field == "serviceAccounts")
        append(m.principals, serviceAccounts(values, "from.source.serviceAccounts"));
      else if (field == "notServiceAccounts")
        append(m.notPrincipals, serviceAccounts(values, "from.source.notServiceAccounts"));
      else
        l7.push_back("from.source." + field);
    }
    return m;
  }
  Match operation(const FieldMap& f) {
    Match m;
    for (const auto& [field, values] : f) {
      if (field == "ports")
        m.destinationPorts = ports(values, "to.operation.ports");
      else if (field == "notPorts")
        m.notDestinationPorts = ports(values, "to.operation.notPorts");
      else
        l7.push_back("to.operation." + field);
    }
    return m;
  }
  // One `when` condition: its own clause (conditions are AND'd).
  std::optional<Clause> condition(const source::PolicyCondition& c) {
    Match m;
    const std::string& k = c.key;
    if (k == "source.ip") {
      m.sourceIps = ips(c.values, "when source.ip");
      m.notSourceIps = ips(c.notValues, "when source.ip");
    } else if (k == "source.namespace") {
      m.namespaces = strings(c.values);
      m.notNamespaces = strings(c.notValues);
    } else if (k == "source.principal") {
      m.principals = strings(c.values);
      m.notPrincipals = strings(c.notValues);
    } else if (k == "destination.ip") {
      m.destinationIps = ips(c.values, "when destination.ip");
      m.notDestinationIps = ips(c.notValues, "when destination.ip");
    } else if (k == "destination.port") {
      m.destinationPorts = ports(c.values, "when destination.port");
      m.notDestinationPorts = ports(c.notValues, "when destination.port");
    } else {
      l7.push_back("when " + k);
      return std::nullopt;
    }
    return Clause{{std::move(m)}};
  }

  static void append(std::vector<StringMatch>& to, std::vector<StringMatch> more) {
    to.insert(to.end(), more.begin(), more.end());
  }
};

}  // namespace

std::optional<AuthorizationPolicy> convertAuthorizationPolicy(const source::AuthorizationPolicy& in,
                                                              const std::string& rootNamespace,
                                                              std::string* skipReason) {
  auto skip = [&](std::string why) -> std::optional<AuthorizationPolicy> {
    if (skipReason) *skipReason = std::move(why);
    return std::nullopt;
  };
  if (in.hasTargetRef) return skip("it targets a waypoint (targetRef); L7 policy is the waypoint's");
  if (in.action == "CUSTOM") return skip("CUSTOM (external authorization) is not supported by the tunnel");

  AuthorizationPolicy out;
  out.name = in.name;
  out.ns = in.ns;
  out.dryRun = in.dryRun;
  out.scope = in.selector.present      ? PolicyScope::WorkloadSelector
              : in.ns == rootNamespace ? PolicyScope::Global
                                       : PolicyScope::Namespace;
  out.action = in.action == "DENY"    ? PolicyAction::Deny
               : in.action == "AUDIT" ? PolicyAction::Audit
                                      : PolicyAction::Allow;

  Converter cv;
  cv.policyNs = in.ns;
  cv.invalid = in.invalid;
  for (size_t i = 0; i < in.rules.size(); ++i) {
    const auto& r = in.rules[i];
    cv.l7.clear();
    Rule rule;
    if (!r.from.empty()) {
      Clause c;
      for (const auto& src : r.from) c.matches.push_back(cv.source(src.fields));
      rule.clauses.push_back(std::move(c));
    }
    if (!r.to.empty()) {
      Clause c;
      for (const auto& op : r.to) c.matches.push_back(cv.operation(op.fields));
      rule.clauses.push_back(std::move(c));
    }
    for (const auto& cond : r.when)
      if (auto c = cv.condition(cond)) rule.clauses.push_back(std::move(*c));
    if (!cv.l7.empty()) {
      const std::string what = "rules[" + std::to_string(i) + "] uses L7 attributes (" + joined(cv.l7, ", ") + ")";
      if (out.action == PolicyAction::Allow) {
        out.conversionNotes.push_back(what + ": an ALLOW rule needing L7 never matches at L4; dropped");
        continue;
      }
      out.conversionNotes.push_back(what + ": enforced on its L4 part only");
    }
    out.rules.push_back(std::move(rule));
  }
  if (!cv.invalid.empty()) {
    // Fail closed: whatever it selects is denied until the object is fixed.
    out.enforceAsDenyAll("invalid (" + joined(cv.invalid, ", ") + "): enforced as deny-all until fixed");
  }
  return out;
}

namespace {
MtlsMode modeOf(const std::string& m) { return m == "STRICT" ? MtlsMode::Strict : MtlsMode::Permissive; }

// Istio picks the oldest when several apply; without creation times, the
// lowest name keeps the choice stable.
const source::PeerAuthentication* pick(const source::Snapshot& s, const std::string& ns,
                                       const std::map<std::string, std::string>* labels) {
  for (const auto& [key, pa] : s.peerAuthentications) {
    if (pa.ns != ns) continue;
    if (labels ? (pa.selector.present && pa.selector.selects(*labels)) : !pa.selector.present) return &pa;
  }
  return nullptr;
}
}  // namespace

MtlsPolicy resolvePeerAuthentication(const source::Snapshot& snapshot, const std::string& ns,
                                     const std::map<std::string, std::string>& labels,
                                     const std::string& rootNamespace) {
  MtlsPolicy out;
  const source::PeerAuthentication* levels[] = {
      pick(snapshot, ns, &labels),
      pick(snapshot, ns, nullptr),
      ns == rootNamespace ? nullptr : pick(snapshot, rootNamespace, nullptr),
  };
  for (const auto* pa : levels) {
    if (!pa || pa->mode == "UNSET") continue;
    out.mode = modeOf(pa->mode);
    out.decidedBy = pa->ns + "/" + pa->name;
    break;
  }
  // Port-level modes only count on a selector-scoped policy, as in Istio.
  if (const auto* wl = levels[0]) {
    for (const auto& [port, mode] : wl->portLevel) {
      if (mode == "UNSET") continue;
      out.portModes[port] = modeOf(mode);
      out.portDecidedBy[port] = wl->ns + "/" + wl->name;
    }
  }
  return out;
}

}  // namespace warren::state
