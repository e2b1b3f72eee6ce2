#include "tools/warrenctl/waypoint_commands.h"

#include <map>
#include <set>

#include "tools/warrenctl/admin_client.h"

namespace warren::ctl {
namespace {

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string joined(const Json& arr, size_t max = 3) {
  std::vector<std::string> items;
  if (arr.is_array())
    for (const auto& v : arr) items.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return joinLimited(items, max);
}

const Json& array(const Json& state, const char* name) {
  static const Json empty = Json::array();
  auto it = state.find(name);
  return it != state.end() && it->is_array() ? *it : empty;
}

std::string serviceKey(const Json& s) { return str(s, "namespace") + "/" + str(s, "hostname"); }
std::string nsName(const Json& j) { return str(j, "namespace") + "/" + str(j, "name"); }

// One waypoint and everything that refers to it, gathered from the state.
struct Waypoint {
  std::string key;
  const Json* service = nullptr;  // nullptr: pointed at, but no such service
  std::vector<const Json*> endpoints, boundServices, boundWorkloads;
  // Its L7 policies: on its Gateway ("Gateway"), or on a service bound to it
  // ("Service NS/NAME"), as the waypoint applies both.
  std::vector<std::pair<const Json*, std::string>> policies;
  // Its RequestAuthentications, bound the same ways.
  std::vector<std::pair<const Json*, std::string>> authns;

  std::string ns() const { return service ? str(*service, "namespace") : key.substr(0, key.find('/')); }
  std::string name() const {
    if (service) return str(*service, "name");
    // "ns/name.ns.svc..." -> name; a key of another shape is shown whole.
    const std::string host = key.substr(key.find('/') + 1);
    return host.substr(0, host.find('.'));
  }
  size_t readyEndpoints() const {
    size_t n = 0;
    for (const auto* w : endpoints) n += (*w).value("ready", false) && !(*w)["ips"].empty();
    return n;
  }
};

std::vector<Waypoint> collect(const Json& state) {
  std::map<std::string, Waypoint> byKey;
  auto get = [&](const std::string& key) -> Waypoint& {
    Waypoint& w = byKey[key];
    w.key = key;
    return w;
  };
  for (const auto& s : array(state, "services"))
    if (!str(s, "waypoint_for").empty()) get(serviceKey(s));
  for (const auto& s : array(state, "services"))
    if (!str(s, "waypoint").empty()) get(str(s, "waypoint")).boundServices.push_back(&s);
  for (const auto& w : array(state, "workloads"))
    if (!str(w, "waypoint").empty()) get(str(w, "waypoint")).boundWorkloads.push_back(&w);
  for (const auto& s : array(state, "services"))
    if (auto it = byKey.find(serviceKey(s)); it != byKey.end()) it->second.service = &s;
  for (const auto& w : array(state, "workloads"))
    if (w.contains("services") && w["services"].is_object())
      for (const auto& [key, ports] : w["services"].items())
        if (auto it = byKey.find(key); it != byKey.end()) it->second.endpoints.push_back(&w);
  // How an object with targetRefs reaches this waypoint: "" when it does not.
  auto via = [](const Waypoint& wp, const Json& obj) {
    for (const auto& t : obj["targets"]) {
      const std::string kind = str(t, "kind"), target = nsName(t);
      if (kind == "Gateway" && target == wp.ns() + "/" + wp.name()) return std::string("Gateway");
      for (const auto* s : wp.boundServices)
        if (kind == "Service" && target == nsName(*s)) return "Service " + target;
    }
    return std::string();
  };
  for (auto& [key, wp] : byKey) {
    if (!wp.service) continue;
    for (const auto& p : array(state, "waypoint_policies"))
      if (auto how = via(wp, p); !how.empty()) wp.policies.emplace_back(&p, how);
    for (const auto& r : array(state, "request_authentications"))
      if (auto how = via(wp, r); !how.empty()) wp.authns.emplace_back(&r, how);
  }
  std::vector<Waypoint> out;
  for (auto& [key, wp] : byKey) out.push_back(std::move(wp));
  return out;
}

Json summaryJson(const Waypoint& w) {
  return {{"key", w.key},
          {"namespace", w.ns()},
          {"name", w.name()},
          {"known", w.service != nullptr},
          {"waypoint_for", w.service ? str(*w.service, "waypoint_for") : ""},
          {"vips", w.service ? (*w.service)["vips"] : Json::array()},
          {"endpoints", w.endpoints.size()},
          {"ready_endpoints", w.readyEndpoints()},
          {"bound_services", w.boundServices.size()},
          {"bound_workloads", w.boundWorkloads.size()},
          {"policies", w.policies.size()}};
}

Table summaryTable() {
  return Table{{"NAMESPACE", "NAME", "TAKES", "READY", "SERVICES", "WORKLOADS", "POLICIES", "STATUS"}, {}};
}

std::vector<std::string> summaryRow(const Waypoint& w) {
  const std::string takes = w.service ? str(*w.service, "waypoint_for") : "";
  const size_t ready = w.readyEndpoints();
  // What the traffic bound to it meets: refused when it cannot be reached.
  const std::string status = !w.service   ? "missing (bound traffic refused)"
                             : ready == 0 ? "no ready endpoint (bound traffic refused)"
                                          : "ok";
  return {w.ns(),
          w.name(),
          takes.empty() ? "-" : takes,
          std::to_string(ready) + "/" + std::to_string(w.endpoints.size()),
          std::to_string(w.boundServices.size()),
          std::to_string(w.boundWorkloads.size()),
          std::to_string(w.policies.size()),
          status};
}

// `show NAME`: "NAMESPACE/NAME", the service key "NAMESPACE/HOSTNAME", or a unique NAME.
Result<const Waypoint*> find(const std::vector<Waypoint>& all, const std::string& word) {
  std::vector<const Waypoint*> hits;
  for (const auto& w : all)
    if (w.key == word || w.ns() + "/" + w.name() == word) return &w;
  for (const auto& w : all)
    if (w.name() == word) hits.push_back(&w);
  if (hits.empty()) return makeError("no waypoint matches '" + word + "' (see waypoint list)");
  if (hits.size() > 1) return makeError("'" + word + "' names several waypoints; use NAMESPACE/NAME");
  return hits.front();
}

}  // namespace

Result<Output> waypointList(const Json& state) {
  Output out{Json::array(), summaryTable()};
  for (const auto& w : collect(state)) {
    out.json.push_back(summaryJson(w));
    out.table.rows.push_back(summaryRow(w));
  }
  return out;
}

Result<Output> waypointShow(const Json& state, const std::string& word) {
  const auto all = collect(state);
  auto found = find(all, word);
  if (!found) return found.error();
  const Waypoint& w = **found;

  Json j = summaryJson(w);
  Output out{Json(), summaryTable()};
  out.table.rows.push_back(summaryRow(w));

  Table endpoints{{"ENDPOINT", "IPS", "READY", "IDENTITY"}, {}};
  j["endpoint_list"] = Json::array();
  for (const auto* e : w.endpoints) {
    j["endpoint_list"].push_back({{"workload", nsName(*e)},
                                  {"ips", (*e)["ips"]},
                                  {"ready", (*e).value("ready", false)},
                                  {"identity", str(*e, "identity")}});
    endpoints.rows.push_back(
        {nsName(*e), joined((*e)["ips"]), (*e).value("ready", false) ? "yes" : "no", str(*e, "identity")});
  }

  Table bound{{"BOUND", "NAME", "ADDRESSES"}, {}};
  j["services"] = Json::array();
  for (const auto* s : w.boundServices) {
    j["services"].push_back({{"service", serviceKey(*s)}, {"vips", (*s)["vips"]}});
    bound.rows.push_back({"service", serviceKey(*s), joined((*s)["vips"])});
  }
  j["workloads"] = Json::array();
  for (const auto* b : w.boundWorkloads) {
    j["workloads"].push_back({{"workload", nsName(*b)}, {"ips", (*b)["ips"]}});
    bound.rows.push_back({"workload", nsName(*b), joined((*b)["ips"])});
  }

  Table policies{{"L7_POLICY", "APPLIES_VIA", "ACTION", "DRY_RUN", "RULES", "WHERE"}, {}};
  Table rules{{"L7_POLICY", "RULE", "FROM", "TO", "WHEN"}, {}};
  Table notes{{"L7_POLICY", "CONVERSION_NOTE"}, {}};
  j["policy_list"] = Json::array();
  for (const auto& [p, via] : w.policies) {
    Json pj = *p;
    pj["applies_via"] = via;
    j["policy_list"].push_back(pj);
    const std::string name = nsName(*p);
    policies.rows.push_back({name, via, str(*p, "action"), (*p).value("dry_run", false) ? "yes" : "no",
                             str(*p, "rule_count"), str(*p, "where")});
    const Json& rs = (*p)["rules"];
    if (rs.empty()) rules.rows.push_back({name, "-", "(no rules: an ALLOW matches nothing)", "", ""});
    for (size_t r = 0; r < rs.size(); ++r) {
      auto part = [&](const char* key) { return rs[r].contains(key) ? rs[r][key].dump() : "-"; };
      rules.rows.push_back({name, std::to_string(r), part("from"), part("to"), part("when")});
    }
    for (const auto& n : (*p)["notes"]) notes.rows.push_back({name, n.get<std::string>()});
  }
  Table authns{{"REQUEST_AUTHN", "APPLIES_VIA", "ISSUER", "KEYS", "TOKEN_FROM", "STATUS"}, {}};
  j["request_authentication_list"] = Json::array();
  for (const auto& [r, via] : w.authns) {
    Json rj = *r;
    rj["applies_via"] = via;
    j["request_authentication_list"].push_back(rj);
    const std::string name = nsName(*r);
    const bool invalid = !(*r)["invalid"].empty();
    for (const auto& rule : (*r)["jwt_rules"])
      authns.rows.push_back(
          {name, via, str(rule, "issuer"),
           rule.contains("jwks_uri") ? str(rule, "jwks_uri") : "inline kids " + joined(rule["jwks_inline_kids"]),
           joined(rule["from"]), invalid ? "invalid: every request 401" : "ok"});
    if ((*r)["jwt_rules"].empty())
      authns.rows.push_back({name, via, "-", "-", "-", invalid ? "invalid: every request 401" : "no rules"});
    for (const auto& n : (*r)["notes"]) notes.rows.push_back({name, n.get<std::string>()});
  }
  out.json = std::move(j);
  out.extra = {endpoints, bound, policies, rules, authns, notes};
  return out;
}

Result<Output> waypointJwks(const Json& dump) {
  if (!dump.contains("jwks") || !dump["jwks"].is_array())
    return makeError(
        "this admin endpoint is not a waypoint's (its config dump has no jwks); point --admin at the "
        "waypoint's, e.g. run warrenctl in the waypoint's pod");
  Output out{dump["jwks"], Table{{"JWKS_URI", "KEYS", "KIDS", "FETCHED", "FETCHES", "FAILURES", "LAST_ERROR"}, {}}};
  for (const auto& j : dump["jwks"]) {
    const Json& ago = j["fetched_seconds_ago"];
    const std::string discovered = str(j, "discovered_jwks_uri");
    out.table.rows.push_back({str(j, "uri") + (discovered.empty() ? "" : " -> " + discovered),
                              j.value("have_keys", false) ? std::to_string(j["kids"].size()) : "none",
                              joined(j["kids"], 6), ago.is_null() ? "never" : ago.dump() + " s ago", str(j, "fetches"),
                              str(j, "failures"), str(j, "last_error").empty() ? "-" : str(j, "last_error")});
  }
  return out;
}

Object waypointObject() {
  auto state = [](const Context& ctx) -> Result<Json> {
    auto dump = adminJson(ctx.adminAddress, "GET", "/config_dump");
    if (!dump) return dump.error();
    if (!dump->contains("state")) return makeError("warren-tunnel's config dump has no state");
    return (*dump)["state"];
  };
  auto list = [state](const Context& ctx) -> Result<Output> {
    auto st = state(ctx);
    if (!st) return st.error();
    return waypointList(*st);
  };
  auto show = [state](const Context& ctx) -> Result<Output> {
    if (ctx.args.size() != 1) return makeError("expected one waypoint (NAMESPACE/NAME or NAME)");
    auto st = state(ctx);
    if (!st) return st.error();
    return waypointShow(*st, ctx.args.front());
  };
  auto jwks = [](const Context& ctx) -> Result<Output> {
    if (!ctx.args.empty()) return makeError("waypoint jwks takes no arguments");
    auto dump = adminJson(ctx.adminAddress, "GET", "/config_dump");
    if (!dump) return dump.error();
    return waypointJwks(*dump);
  };
  const std::string fromTunnel =
      " Read from warren-tunnel's admin endpoint (--admin, default 127.0.0.1:15000), so the tunnel must be "
      "running on this node.";
  const std::vector<Field> listFields = {
      {"key", "the waypoint's service key, NAMESPACE/HOSTNAME: what bound services and workloads name"},
      {"namespace", "namespace"},
      {"name", "name (its Gateway's and its Service's)"},
      {"known", "false when it is named but no such service exists: the traffic bound to it is refused"},
      {"waypoint_for",
       "what it takes: service, workload or all, from its Gateway's istio.io/waypoint-for "
       "(YAML source); \"\" when the source does not say (xDS)"},
      {"vips", "its service's VIPs"},
      {"endpoints", "how many pods it has"},
      {"ready_endpoints", "how many of them are ready, with an IP: 0 means bound traffic is refused"},
      {"bound_services", "how many services are bound to it (their VIPs' traffic)"},
      {"bound_workloads", "how many workloads are bound to it (traffic to their own IPs)"},
      {"policies", "how many L7 policies it applies: on its Gateway, or on a service bound to it"},
  };
  std::vector<Field> showFields = listFields;
  for (Field f : std::vector<Field>{
           {"endpoint_list", "its pods: [{workload, ips, ready, identity}]"},
           {"endpoint_list[].workload", "NAMESPACE/NAME"},
           {"endpoint_list[].ips", "its IPs"},
           {"endpoint_list[].ready", "ready to take traffic"},
           {"endpoint_list[].identity", "the SPIFFE identity the tunnels expect of it"},
           {"services", "bound services: [{service, vips}]"},
           {"services[].service", "NAMESPACE/HOSTNAME"},
           {"services[].vips", "its VIPs"},
           {"workloads", "bound workloads: [{workload, ips}]"},
           {"workloads[].workload", "NAMESPACE/NAME"},
           {"workloads[].ips", "its IPs"},
           {"policy_list", "its L7 policies, as config dump's state.waypoint_policies, plus applies_via"},
           {"policy_list[].name", "policy name"},
           {"policy_list[].namespace", "namespace"},
           {"policy_list[].action", "ALLOW, DENY or AUDIT (an invalid policy: DENY, with a note)"},
           {"policy_list[].dry_run", "evaluated and logged only"},
           {"policy_list[].targets", "its targetRefs: [{kind, namespace, name}]"},
           {"policy_list[].targets[].kind", "Gateway or Service"},
           {"policy_list[].targets[].namespace", "namespace"},
           {"policy_list[].targets[].name", "name"},
           {"policy_list[].rule_count", "number of rules"},
           {"policy_list[].rules",
            "[{from: [{source}], to: [{operation}], when: [{key, values, not_values}]}], "
            "Istio's field names, only those set"},
           {"policy_list[].notes", "what the conversion changed (an invalid policy is enforced as deny-all)"},
           {"policy_list[].where", "file and line of the policy (YAML source)"},
           {"policy_list[].applies_via",
            "Gateway (it targets the waypoint) or Service NAMESPACE/NAME (it targets "
            "a service bound to the waypoint)"},
           {"request_authentication_list",
            "its RequestAuthentications (JWT), as config dump's "
            "state.request_authentications, plus applies_via"},
           {"request_authentication_list[].name", "its name"},
           {"request_authentication_list[].namespace", "namespace"},
           {"request_authentication_list[].targets", "its targetRefs: [{kind, namespace, name}]"},
           {"request_authentication_list[].targets[].kind", "Gateway or Service"},
           {"request_authentication_list[].targets[].namespace", "namespace"},
           {"request_authentication_list[].targets[].name", "name"},
           {"request_authentication_list[].where", "file and line of the object (YAML source)"},
           {"request_authentication_list[].jwt_rules",
            "[{issuer, audiences, jwks_uri | jwks_inline_kids, from, "
            "forward_original_token, output_payload_to_header, "
            "output_claim_to_headers, timeout_ms, where}]"},
           {"request_authentication_list[].invalid",
            "why it failed validation; non-empty: every request to its "
            "targets is answered 401 (fail closed)"},
           {"request_authentication_list[].notes", "what the conversion changed"},
           {"request_authentication_list[].applies_via", "Gateway or Service NAMESPACE/NAME, as for policies"},
       })
    showFields.push_back(std::move(f));
  return Object{
      "waypoint",
      "Waypoints (L7 proxies): what is bound to them, their L7 policies.",
      {{"list", "", "every waypoint, with what is bound to it",
        "Every waypoint: the services that something is bound to (istio.io/use-waypoint, or Istio's "
        "Workload/Service.waypoint over xDS) or that a Gateway of class istio-waypoint makes one, with what it "
        "takes, its ready endpoints, how many services and workloads are bound to it and how many L7 policies it "
        "applies. A waypoint that is named but does not exist, or has no ready endpoint, is listed with the "
        "STATUS that bound traffic is refused: Warren never routes around a waypoint." +
            fromTunnel,
        listFields, list},
       {"show", "WAYPOINT", "one waypoint: endpoints, bound services and workloads, L7 policies",
        "One waypoint by NAMESPACE/NAME, its service key NAMESPACE/HOSTNAME or a unique NAME: its endpoints, the "
        "services and workloads bound to it, and the L7 policies it applies (those on its Gateway and those on a "
        "service bound to it) with their rules and conversion notes, and its RequestAuthentications (JWT issuers, "
        "where their keys come from, where tokens are taken from). L7 rules are judged per request at the "
        "waypoint; `explain` shows which of them a connection meets." +
            fromTunnel,
        showFields, show},
       {"jwks",
        "",
        "the JWKS key sets a waypoint holds (RequestAuthentication jwksUri)",
        "The key sets of the jwksUris a waypoint fetches: for each, how many keys and their kids, when it was last "
        "fetched, how many fetches and failures, and the last error (a failed fetch keeps the last good set). "
        "Read from the waypoint's own admin endpoint (--admin; 127.0.0.1:15000 inside the waypoint's pod), not "
        "the tunnel's.",
        {{"uri", "the jwksUri, or the issuer's OpenID configuration for a rule with neither jwks nor jwksUri"},
         {"discovered_jwks_uri", "the jwks_uri that configuration named at the last fetch; \"\" otherwise"},
         {"have_keys", "whether a set was ever fetched: without one, tokens of its rules are refused (401)"},
         {"kids", "the key ids of the current set (\"\" for a key without kid)"},
         {"skipped_keys", "keys of the document the set does not hold (unsupported or unusable)"},
         {"fetched_seconds_ago", "seconds since the last successful fetch; null: never"},
         {"attempted_seconds_ago", "seconds since the last attempt; null: never"},
         {"last_error", "why the last attempt failed; \"\" when it succeeded"},
         {"fetches", "attempts so far"},
         {"failures", "failed attempts so far"}},
        jwks}}};
}

}  // namespace warren::ctl
