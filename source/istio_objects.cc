#include "source/istio_objects.h"

#include <algorithm>
#include <charconv>

#include "common/ip_literal.h"
#include "source/yaml_fields.h"

namespace warren::source {

bool Selector::selects(const std::map<std::string, std::string>& labels) const {
  if (!present) return true;
  for (const auto& [k, v] : matchLabels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

namespace {

// The field names Istio defines for from.source and to.operation; any other key is
// a typo the operator must hear about, never silently an empty (match-all) field.
const std::vector<std::string> kSourceFields = {
    "principals",     "notPrincipals",     "requestPrincipals", "notRequestPrincipals",
    "namespaces",     "notNamespaces",     "ipBlocks",          "notIpBlocks",
    "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts",   "notServiceAccounts"};
const std::vector<std::string> kOperationFields = {"hosts",   "notHosts",   "ports", "notPorts",
                                                   "methods", "notMethods", "paths", "notPaths"};

std::map<std::string, std::vector<std::string>> fieldLists(const YAML::Node& n, const std::vector<std::string>& known,
                                                           const std::string& where,
                                                           std::vector<std::string>& invalid) {
  std::map<std::string, std::vector<std::string>> out;
  if (!n) return out;
  if (!n.IsMap()) {
    invalid.push_back(where + " must be a mapping" + lineOf(n));
    return out;
  }
  unknownKeys(n, known, where, invalid);
  for (const auto& kv : n) {
    const std::string field = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), field) != known.end())
      out[field] = stringList(kv.second, where + "." + field, invalid);
  }
  return out;
}

PolicyRule parseRule(const YAML::Node& r, const std::string& where, std::vector<std::string>& invalid) {
  PolicyRule rule;
  if (!r.IsMap()) {
    if (!r.IsNull()) invalid.push_back(where + " must be a mapping" + lineOf(r));
    return rule;
  }
  unknownKeys(r, {"from", "to", "when"}, where, invalid);
  if (const YAML::Node from = at(r, "from"); isListOfMaps(from, where + ".from", invalid))
    for (const auto& f : from) {
      unknownKeys(f, {"source"}, where + ".from", invalid);
      rule.from.push_back({fieldLists(at(f, "source"), kSourceFields, where + ".from.source", invalid)});
    }
  if (const YAML::Node to = at(r, "to"); isListOfMaps(to, where + ".to", invalid))
    for (const auto& t : to) {
      unknownKeys(t, {"operation"}, where + ".to", invalid);
      rule.to.push_back({fieldLists(at(t, "operation"), kOperationFields, where + ".to.operation", invalid)});
    }
  if (const YAML::Node when = at(r, "when"); isListOfMaps(when, where + ".when", invalid))
    for (const auto& w : when) {
      unknownKeys(w, {"key", "values", "notValues"}, where + ".when", invalid);
      PolicyCondition c;
      c.key = str(at(w, "key"));
      if (c.key.empty()) invalid.push_back(where + ".when: a condition has no key" + lineOf(w));
      c.values = stringList(at(w, "values"), where + ".when.values", invalid);
      c.notValues = stringList(at(w, "notValues"), where + ".when.notValues", invalid);
      rule.when.push_back(std::move(c));
    }
  return rule;
}

}  // namespace

void parseService(const Doc& d, Snapshot& s) {
  Service svc;
  const std::string key = identify(d, svc);
  svc.labels = stringMap(at(at(d.node, "metadata"), "labels"));
  const YAML::Node spec = at(d.node, "spec");
  auto bad = [&](const std::string& why) {
    s.errors.push_back(makeError("service " + key + " in " + d.where + ": " + why));
  };
  const std::string type = str(at(spec, "type"), "ClusterIP");
  if (type == "ExternalName") return;  // a DNS alias: no VIP, nothing to carry
  auto addIp = [&](const std::string& ip) {
    if (ip.empty() || ip == "None") return true;  // headless
    if (!isIpLiteral(ip)) {
      bad("clusterIP '" + ip + "' is not an IP address");
      return false;
    }
    if (std::find(svc.clusterIPs.begin(), svc.clusterIPs.end(), ip) == svc.clusterIPs.end())
      svc.clusterIPs.push_back(ip);
    return true;
  };
  if (!addIp(str(at(spec, "clusterIP")))) return;
  const YAML::Node ips = at(spec, "clusterIPs");
  if (ips && ips.IsSequence())
    for (const auto& ip : ips)
      if (!addIp(str(ip))) return;
  svc.selector = stringMap(at(spec, "selector"));
  const YAML::Node ports = at(spec, "ports");
  if (ports && ports.IsSequence())
    for (const auto& p : ports) {
      if (str(at(p, "protocol"), "TCP") != "TCP") continue;  // UDP/SCTP are not captured
      ServicePortSpec sp;
      sp.name = str(at(p, "name"));
      sp.appProtocol = str(at(p, "appProtocol"));
      if (!parsePort(str(at(p, "port")), sp.port)) {
        bad("port '" + str(at(p, "port")) + "' is not a port number");
        return;
      }
      const std::string target = str(at(p, "targetPort"));
      if (!target.empty() && !parsePort(target, sp.targetPort)) {
        if (target.find_first_not_of("0123456789") == std::string::npos) {
          bad("targetPort '" + target + "' is not a port number");
          return;
        }
        sp.targetPortName = target;
      }
      svc.ports.push_back(std::move(sp));
    }
  keepFirst(s.services, key, std::move(svc), "Service", d, s);
}

void parseAuthorizationPolicy(const Doc& d, Snapshot& s) {
  AuthorizationPolicy p;
  const std::string key = identify(d, p);
  p.where = d.where;
  const YAML::Node spec = at(d.node, "spec");
  auto annotations = stringMap(at(at(d.node, "metadata"), "annotations"));
  p.dryRun = annotations["istio.io/dry-run"] == "true";
  unknownKeys(d.node, {"apiVersion", "kind", "metadata", "spec", "status"}, "document", p.invalid);
  if (spec && !spec.IsMap() && !spec.IsNull()) p.invalid.push_back("spec must be a mapping" + lineOf(spec));
  unknownKeys(spec, {"selector", "action", "rules", "targetRef", "targetRefs", "provider"}, "spec", p.invalid);
  unknownKeys(at(spec, "selector"), {"matchLabels"}, "spec.selector", p.invalid);
  unknownKeys(at(spec, "provider"), {"name"}, "spec.provider", p.invalid);
  p.selector = selectorOf(spec);
  TargetRefsField refs = parseTargetRefs(spec, p.ns, p.selector.present, p.invalid);
  p.hasTargetRef = refs.present;
  p.targetRefs = std::move(refs.refs);
  p.action = str(at(spec, "action"), "ALLOW");
  static const std::vector<std::string> actions = {"ALLOW", "DENY", "AUDIT", "CUSTOM"};
  if (std::find(actions.begin(), actions.end(), p.action) == actions.end())
    p.invalid.push_back("action '" + p.action + "' is not ALLOW, DENY, AUDIT or CUSTOM");
  const YAML::Node rules = at(spec, "rules");
  if (rules && rules.IsSequence()) {
    for (size_t i = 0; i < rules.size(); ++i)
      p.rules.push_back(parseRule(rules[i], "rules[" + std::to_string(i) + "]", p.invalid));
  } else if (rules && !rules.IsNull()) {
    p.invalid.push_back("rules must be a list" + lineOf(rules));
  }
  keepFirst(s.authorizationPolicies, key, std::move(p), "AuthorizationPolicy", d, s);
}

void parseGateway(const Doc& d, Snapshot& s) {
  Gateway g;
  const std::string key = identify(d, g);
  g.where = d.where;
  g.gatewayClassName = str(at(at(d.node, "spec"), "gatewayClassName"));
  // Other classes (ingress gateways, ...) are not Warren's to run.
  if (g.gatewayClassName != "istio-waypoint") return;
  auto labels = stringMap(at(at(d.node, "metadata"), "labels"));
  if (auto it = labels.find("istio.io/waypoint-for"); it != labels.end()) {
    static const std::vector<std::string> kinds = {"service", "workload", "all", "none"};
    if (std::find(kinds.begin(), kinds.end(), it->second) == kinds.end())
      s.errors.push_back(makeError("Gateway " + key + " in " + d.where + ": istio.io/waypoint-for '" + it->second +
                                   "' is not service, workload, all or none; read as all"));
    // An unreadable value takes every kind of traffic: a waypoint meant to
    // enforce policy must not be bypassed because of a typo.
    g.waypointFor = std::find(kinds.begin(), kinds.end(), it->second) == kinds.end() ? "all" : it->second;
  }
  keepFirst(s.gateways, key, std::move(g), "Gateway", d, s);
}

void parsePeerAuthentication(const Doc& d, Snapshot& s) {
  PeerAuthentication p;
  const std::string key = identify(d, p);
  p.where = d.where;
  const YAML::Node spec = at(d.node, "spec");
  p.selector = selectorOf(spec);
  static const std::vector<std::string> modes = {"UNSET", "PERMISSIVE", "STRICT", "DISABLE"};
  // A mode we cannot read is enforced as STRICT: failing open would let plaintext
  // in where the operator may have asked for mTLS.
  auto modeOf = [&](const YAML::Node& mtls) {
    std::string mode = str(at(mtls, "mode"), "UNSET");
    if (std::find(modes.begin(), modes.end(), mode) != modes.end()) return mode;
    s.errors.push_back(makeError("PeerAuthentication " + key + " in " + d.where + ": mode '" + mode +
                                 "' is not UNSET, PERMISSIVE, STRICT or DISABLE; enforced as STRICT until fixed"));
    return std::string("STRICT");
  };
  p.mode = modeOf(at(spec, "mtls"));
  const YAML::Node ports = at(spec, "portLevelMtls");
  if (ports && ports.IsMap())
    for (const auto& kv : ports) {
      uint32_t port = 0;
      if (!parsePort(kv.first.as<std::string>(), port)) {
        s.errors.push_back(makeError("PeerAuthentication " + key + " in " + d.where + ": portLevelMtls key '" +
                                     kv.first.as<std::string>() + "' is not a port; entry ignored"));
        continue;
      }
      p.portLevel[port] = modeOf(kv.second);
    }
  keepFirst(s.peerAuthentications, key, std::move(p), "PeerAuthentication", d, s);
}

}  // namespace warren::source
