#include "state/state_json.h"

namespace warren::state {
namespace {

nlohmann::json strings(const std::vector<StringMatch>& v) {
  auto j = nlohmann::json::array();
  for (const auto& s : v) j.push_back(s.text());
  return j;
}
nlohmann::json blocks(const std::vector<IpBlock>& v) {
  auto j = nlohmann::json::array();
  for (const auto& b : v) j.push_back(b.text());
  return j;
}

// Only the fields a match sets, so a dump reads like the policy that made it.
nlohmann::json toJson(const Match& m) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* name, nlohmann::json v) {
    if (!v.empty()) j[name] = std::move(v);
  };
  put("namespaces", strings(m.namespaces));
  put("not_namespaces", strings(m.notNamespaces));
  put("principals", strings(m.principals));
  put("not_principals", strings(m.notPrincipals));
  put("source_ips", blocks(m.sourceIps));
  put("not_source_ips", blocks(m.notSourceIps));
  put("destination_ips", blocks(m.destinationIps));
  put("not_destination_ips", blocks(m.notDestinationIps));
  put("destination_ports", m.destinationPorts);
  put("not_destination_ports", m.notDestinationPorts);
  return j;
}

// The waypoint's L7 form, likewise only what is set, in Istio's field names.
nlohmann::json toJson(const L7Source& f) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* name, nlohmann::json v) {
    if (!v.empty()) j[name] = std::move(v);
  };
  put("principals", strings(f.principals));
  put("not_principals", strings(f.notPrincipals));
  put("request_principals", strings(f.requestPrincipals));
  put("not_request_principals", strings(f.notRequestPrincipals));
  put("namespaces", strings(f.namespaces));
  put("not_namespaces", strings(f.notNamespaces));
  put("ip_blocks", blocks(f.ipBlocks));
  put("not_ip_blocks", blocks(f.notIpBlocks));
  put("remote_ip_blocks", blocks(f.remoteIpBlocks));
  put("not_remote_ip_blocks", blocks(f.notRemoteIpBlocks));
  return j;
}

nlohmann::json toJson(const L7Operation& o) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* name, nlohmann::json v) {
    if (!v.empty()) j[name] = std::move(v);
  };
  put("hosts", strings(o.hosts));
  put("not_hosts", strings(o.notHosts));
  put("ports", o.ports);
  put("not_ports", o.notPorts);
  put("methods", strings(o.methods));
  put("not_methods", strings(o.notMethods));
  put("paths", strings(o.paths));
  put("not_paths", strings(o.notPaths));
  return j;
}

nlohmann::json toJson(const L7Rule& r) {
  nlohmann::json j = nlohmann::json::object();
  if (!r.from.empty()) {
    j["from"] = nlohmann::json::array();
    for (const auto& f : r.from) j["from"].push_back({{"source", toJson(f)}});
  }
  if (!r.to.empty()) {
    j["to"] = nlohmann::json::array();
    for (const auto& o : r.to) j["to"].push_back({{"operation", toJson(o)}});
  }
  if (!r.when.empty()) {
    j["when"] = nlohmann::json::array();
    for (const auto& c : r.when) {
      nlohmann::json cj = {{"key", c.key}};
      if (!c.values.empty()) cj["values"] = c.values;
      if (!c.notValues.empty()) cj["not_values"] = c.notValues;
      j["when"].push_back(std::move(cj));
    }
  }
  return j;
}

nlohmann::json ports(const std::vector<ServicePort>& v) {
  auto j = nlohmann::json::array();
  for (const auto& p : v) {
    nlohmann::json pj = {{"service_port", p.servicePort}, {"target_port", p.targetPort}};
    if (p.appProtocol != AppProtocol::Unknown) pj["app_protocol"] = appProtocolName(p.appProtocol);
    j.push_back(std::move(pj));
  }
  return j;
}

}  // namespace

nlohmann::json toJson(const Workload& w) {
  nlohmann::json services = nlohmann::json::object();
  for (const auto& [key, p] : w.services) services[key] = ports(p);
  nlohmann::json portModes = nlohmann::json::object();
  for (const auto& [port, mode] : w.mtls.portModes) portModes[std::to_string(port)] = mtlsModeName(mode);
  return {
      {"uid", w.uid},
      {"name", w.name},
      {"namespace", w.ns},
      {"service_account", w.serviceAccount},
      {"node", w.node},
      {"ips", w.ips},
      {"identity", w.identity.uri()},
      {"captured", w.captured},
      {"capture_reason", w.captureReason},
      {"ready", w.ready},
      {"host_network", w.hostNetwork},
      {"labels", w.labels},
      {"services", services},
      {"authorization_policies", w.policies},
      {"waypoint", w.waypoint},
      {"peer_authentication",
       {{"mode", mtlsModeName(w.mtls.mode)}, {"decided_by", w.mtls.decidedBy}, {"port_modes", portModes}}},
  };
}

nlohmann::json toJson(const Service& s) {
  nlohmann::json j = {{"name", s.name}, {"namespace", s.ns},       {"hostname", s.hostname},
                      {"vips", s.vips}, {"ports", ports(s.ports)}, {"waypoint", s.waypoint}};
  if (!s.waypointFor.empty()) j["waypoint_for"] = s.waypointFor;
  return j;
}

nlohmann::json toJson(const AuthorizationPolicy& p) {
  auto rules = nlohmann::json::array();
  for (const auto& r : p.rules) {
    auto clauses = nlohmann::json::array();
    for (const auto& c : r.clauses) {
      auto matches = nlohmann::json::array();
      for (const auto& m : c.matches) matches.push_back(toJson(m));
      clauses.push_back({{"matches", matches}});
    }
    rules.push_back({{"clauses", clauses}});
  }
  return {
      {"name", p.name},      {"namespace", p.ns}, {"scope", scopeName(p.scope)}, {"action", actionName(p.action)},
      {"dry_run", p.dryRun}, {"rules", rules},    {"notes", p.conversionNotes},
  };
}

namespace {

nlohmann::json targetsJson(const std::vector<L7Target>& v) {
  auto targets = nlohmann::json::array();
  for (const auto& t : v)
    targets.push_back(
        {{"kind", t.kind == L7Target::Kind::Gateway ? "Gateway" : "Service"}, {"namespace", t.ns}, {"name", t.name}});
  return targets;
}

nlohmann::json toJson(const JwtProvider& p) {
  nlohmann::json j = {{"issuer", p.rule.issuer},
                      {"audiences", p.rule.audiences},
                      {"forward_original_token", p.rule.forwardOriginalToken},
                      {"timeout_ms", p.timeout.count()},
                      {"where", p.where}};
  if (!p.jwksUri.empty()) {
    j["jwks_uri"] = p.jwksUri;
  } else if (p.keys) {
    auto kids = nlohmann::json::array();
    for (const auto& k : p.keys->keys) kids.push_back(k.kid.value_or(""));
    j["jwks_inline_kids"] = kids;
  }
  auto from = nlohmann::json::array();
  for (const auto& h : p.rule.fromHeaders)
    from.push_back("header " + h.name + (h.prefix.empty() ? "" : " prefix '" + h.prefix + "'"));
  for (const auto& q : p.rule.fromParams) from.push_back("param " + q);
  for (const auto& c : p.rule.fromCookies) from.push_back("cookie " + c);
  if (from.empty()) from = {"header authorization prefix 'Bearer '", "param access_token"};
  j["from"] = from;
  if (!p.rule.outputPayloadToHeader.empty()) j["output_payload_to_header"] = p.rule.outputPayloadToHeader;
  auto claims = nlohmann::json::array();
  for (const auto& c : p.rule.outputClaimToHeaders) claims.push_back({{"header", c.header}, {"claim", c.claim}});
  if (!claims.empty()) j["output_claim_to_headers"] = claims;
  return j;
}

}  // namespace

nlohmann::json toJson(const RequestAuthn& r) {
  auto providers = nlohmann::json::array();
  for (const auto& p : r.providers) providers.push_back(toJson(p));
  return {{"name", r.name},         {"namespace", r.ns},    {"targets", targetsJson(r.targets)},
          {"jwt_rules", providers}, {"invalid", r.invalid}, {"notes", r.conversionNotes},
          {"where", r.where}};
}

nlohmann::json toJson(const L7Policy& p) {
  auto targets = targetsJson(p.targets);
  auto rules = nlohmann::json::array();
  for (const auto& r : p.rules) rules.push_back(toJson(r));
  return {
      {"name", p.name},      {"namespace", p.ns},          {"action", actionName(p.action)},
      {"dry_run", p.dryRun}, {"targets", targets},         {"rule_count", p.rules.size()},
      {"rules", rules},      {"notes", p.conversionNotes}, {"where", p.where},
  };
}

nlohmann::json toJson(const ClusterState& st) {
  nlohmann::json j = {{"workloads", nlohmann::json::array()},
                      {"services", nlohmann::json::array()},
                      {"policies", nlohmann::json::array()},
                      {"waypoint_policies", nlohmann::json::array()},
                      {"request_authentications", nlohmann::json::array()}};
  for (const auto& [k, w] : st.workloads()) j["workloads"].push_back(toJson(w));
  for (const auto& [k, s] : st.services()) j["services"].push_back(toJson(s));
  for (const auto& [k, p] : st.policies()) j["policies"].push_back(toJson(p));
  for (const auto& [k, p] : st.l7Policies()) j["waypoint_policies"].push_back(toJson(p));
  for (const auto& [k, r] : st.requestAuthns()) j["request_authentications"].push_back(toJson(r));
  return j;
}

}  // namespace warren::state
