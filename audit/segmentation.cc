#include "audit/segmentation.h"

#include <algorithm>
#include <map>

#include <yaml-cpp/yaml.h>

namespace warren::audit {

namespace {

Result<Selector> parseSelector(const YAML::Node& n, const std::string& where) {
  if (!n.IsMap()) return makeError(where + ": a selector is a map (namespace, workload, service, principal, ports)");
  Selector s;
  for (const auto& kv : n) {
    const std::string k = kv.first.as<std::string>();
    if (k == "ports") {
      if (!kv.second.IsSequence()) return makeError(where + ".ports: a list");
      for (const auto& p : kv.second) s.ports.push_back(p.as<std::string>());
    } else if (k == "namespace" || k == "workload" || k == "service" || k == "principal") {
      if (!kv.second.IsScalar()) return makeError(where + "." + k + ": a string");
      std::string v = kv.second.as<std::string>();
      if (k == "principal" && v.starts_with("spiffe://")) v = v.substr(std::string_view("spiffe://").size());
      (k == "namespace" ? s.ns : k == "workload" ? s.workload : k == "service" ? s.service : s.principal) = v;
    } else {
      return makeError(where + ": unknown field " + k);
    }
  }
  return s;
}

Result<std::vector<Selector>> parseSelectors(const YAML::Node& n, const std::string& where) {
  if (!n.IsSequence()) return makeError(where + ": a list of selectors");
  std::vector<Selector> out;
  for (size_t i = 0; i < n.size(); ++i) {
    auto s = parseSelector(n[i], where + "[" + std::to_string(i) + "]");
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

bool matches(const std::string& want, const std::string& have) { return want.empty() || want == have; }

std::string principalOf(const std::string& spiffe) {
  return spiffe.starts_with("spiffe://") ? spiffe.substr(std::string_view("spiffe://").size()) : spiffe;
}

bool matchesSource(const Selector& s, const Connection& c) {
  return matches(s.ns, c.srcNamespace) && matches(s.workload, c.srcWorkload) &&
         matches(s.principal, principalOf(c.srcIdentity)) && s.service.empty() &&
         (s.ports.empty() || std::find(s.ports.begin(), s.ports.end(), c.flow.port) != s.ports.end());
}

bool matchesDestination(const Selector& s, const Connection& c) {
  return matches(s.ns, c.dstNamespace) && matches(s.workload, c.dstWorkload) && matches(s.service, c.dstService) &&
         s.principal.empty() &&
         (s.ports.empty() || std::find(s.ports.begin(), s.ports.end(), c.flow.port) != s.ports.end());
}

}  // namespace

Result<SegmentationSpec> parseSegmentationSpec(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return makeError(std::string("not YAML: ") + e.what());
  }
  if (!root.IsMap() || !root["rules"] || !root["rules"].IsSequence())
    return makeError("a spec is a map with a list of rules");
  SegmentationSpec spec;
  try {
    for (size_t i = 0; i < root["rules"].size(); ++i) {
      const YAML::Node r = root["rules"][i];
      const std::string where = "rules[" + std::to_string(i) + "]";
      if (!r.IsMap()) return makeError(where + ": a rule is a map");
      SegmentationRule rule;
      rule.name = r["name"] ? r["name"].as<std::string>() : where;
      for (const auto& kv : r) {
        const std::string k = kv.first.as<std::string>();
        if (k != "name" && k != "to" && k != "only_from" && k != "never_from" && k != "require_mtls")
          return makeError(where + ": unknown field " + k);
      }
      if (!r["to"]) return makeError(where + ": needs `to`");
      auto to = parseSelector(r["to"], where + ".to");
      if (!to) return to.error();
      rule.to = std::move(*to);
      if (r["only_from"]) {
        auto s = parseSelectors(r["only_from"], where + ".only_from");
        if (!s) return s.error();
        rule.onlyFrom = std::move(*s);
        rule.hasOnlyFrom = true;
      }
      if (r["never_from"]) {
        auto s = parseSelectors(r["never_from"], where + ".never_from");
        if (!s) return s.error();
        rule.neverFrom = std::move(*s);
      }
      if (r["require_mtls"]) rule.requireMtls = r["require_mtls"].as<bool>();
      if (!rule.hasOnlyFrom && rule.neverFrom.empty() && !rule.requireMtls)
        return makeError(where + ": says nothing (only_from, never_from or require_mtls)");
      spec.rules.push_back(std::move(rule));
    }
  } catch (const YAML::Exception& e) {
    return makeError(std::string("spec: ") + e.what());
  }
  return spec;
}

std::vector<Contradiction> checkSegmentation(const SegmentationSpec& spec, const std::vector<Connection>& conns) {
  std::map<std::tuple<size_t, FlowKey, std::string>, Contradiction> found;
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const auto& rule = spec.rules[i];
    for (const auto& c : conns) {
      if (c.verdict == "deny" || !matchesDestination(rule.to, c)) continue;
      std::vector<std::string> why;
      if (rule.hasOnlyFrom && std::none_of(rule.onlyFrom.begin(), rule.onlyFrom.end(),
                                           [&](const Selector& s) { return matchesSource(s, c); }))
        why.push_back("reached from a source only_from does not list");
      if (std::any_of(rule.neverFrom.begin(), rule.neverFrom.end(),
                      [&](const Selector& s) { return matchesSource(s, c); }))
        why.push_back("reached from a source never_from lists");
      if (rule.requireMtls && !c.mtls) why.push_back("not mutual TLS: " + c.noMtlsReason);
      for (auto& w : why) {
        Contradiction& x = found[{i, c.flow, w}];
        if (x.connections == 0) x.first = c.start;
        x.rule = rule.name;
        x.flow = c.flow;
        x.why = w;
        x.connections++;
        x.last = std::max(x.last, c.end);
      }
    }
  }
  std::vector<Contradiction> out;
  for (auto& [_, x] : found) out.push_back(std::move(x));
  return out;
}

}  // namespace warren::audit
