#include "tools/warrenctl/tunnel_commands.h"

#include <cctype>
#include <set>

#include "common/file_io.h"
#include "tools/warrenctl/admin_client.h"
#include "tools/warrenctl/waypoint_commands.h"

namespace warren::ctl {
namespace {

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string joined(const Json& arr) {
  std::vector<std::string> items;
  if (arr.is_array())
    for (const auto& v : arr) items.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return joinLimited(items, 3);
}

Result<Json> configDump(const Context& ctx) { return adminJson(ctx.adminAddress, "GET", "/config_dump"); }

// A state section ("workloads", ...) of the config dump.
Result<Json> section(const Context& ctx, const char* name) {
  auto dump = configDump(ctx);
  if (!dump) return dump.error();
  if (!dump->contains("state") || !(*dump)["state"].contains(name))
    return makeError("warren-tunnel's config dump has no state." + std::string(name));
  return (*dump)["state"][name];
}

// A list verb over one state section: the section's JSON as is, a row per item.
Result<Output> sectionListing(const Context& ctx, const char* name, Table table,
                              std::vector<std::string> (*row)(const Json&)) {
  auto items = section(ctx, name);
  if (!items) return items.error();
  Output out{*items, std::move(table)};
  for (const auto& it : *items) out.table.rows.push_back(row(it));
  return out;
}

// `show` lookups: "ns/name", a unique name, or (for workloads) an IP.
Result<Json> pick(const Json& items, const std::string& word, const char* what, const char* ipField = nullptr) {
  std::vector<const Json*> hits;
  for (const auto& it : items) {
    const std::string nsName = str(it, "namespace") + "/" + str(it, "name");
    bool ipHit = false;
    if (ipField && it.contains(ipField))
      for (const auto& ip : it[ipField]) ipHit = ipHit || ip == word;
    if (nsName == word || str(it, "name") == word || ipHit) hits.push_back(&it);
  }
  if (hits.empty()) return makeError(std::string("no ") + what + " matches '" + word + "'");
  if (hits.size() > 1) return makeError(std::string("'") + word + "' names several " + what + "s; use NAMESPACE/NAME");
  return *hits.front();
}

Result<std::string> oneArg(const Context& ctx, const char* what) {
  if (ctx.args.size() != 1) return makeError(std::string("expected one ") + what);
  return ctx.args.front();
}

// ---- workloads ----

Table workloadTable() {
  return Table{{"NAMESPACE", "NAME", "IPS", "NODE", "IDENTITY", "CAPTURED", "READY", "POLICIES"}, {}};
}
std::vector<std::string> workloadRow(const Json& w) {
  return {str(w, "namespace"),
          str(w, "name"),
          joined(w["ips"]),
          str(w, "node"),
          str(w, "identity"),
          w.value("captured", false) ? "yes" : "no",
          w.value("ready", false) ? "yes" : "no",
          joined(w["authorization_policies"])};
}

Result<Output> workloadList(const Context& ctx) {
  return sectionListing(ctx, "workloads", workloadTable(), workloadRow);
}

Result<Output> workloadShow(const Context& ctx) {
  auto word = oneArg(ctx, "workload (NAMESPACE/NAME, NAME or IP)");
  if (!word) return word.error();
  auto items = section(ctx, "workloads");
  if (!items) return items.error();
  auto w = pick(*items, *word, "workload", "ips");
  if (!w) return w.error();
  Output out{*w, workloadTable()};
  out.table.rows.push_back(workloadRow(*w));
  Table svc{{"SERVICE", "PORTS"}, {}};
  for (const auto& [key, ports] : (*w)["services"].items()) {
    std::string p;
    for (const auto& port : ports)
      p += (p.empty() ? "" : ",") + port["service_port"].dump() + "->" + port["target_port"].dump();
    svc.rows.push_back({key, p});
  }
  const auto& pa = (*w)["peer_authentication"];
  Table mtls{{"PEER_AUTHENTICATION", "DECIDED_BY", "CAPTURE_REASON"},
             {{str(pa, "mode"), str(pa, "decided_by"), str(*w, "capture_reason")}}};
  out.extra = {svc, mtls};
  return out;
}

// ---- services ----

Table serviceTable() { return Table{{"NAMESPACE", "NAME", "HOSTNAME", "VIPS", "PORTS"}, {}}; }
std::vector<std::string> serviceRow(const Json& s) {
  std::string ports;
  for (const auto& p : s["ports"]) {
    ports += (ports.empty() ? "" : ",") + p["service_port"].dump() + "->" + p["target_port"].dump();
    if (p.contains("app_protocol")) ports += "/" + str(p, "app_protocol");
  }
  return {str(s, "namespace"), str(s, "name"), str(s, "hostname"), joined(s["vips"]), ports};
}

Result<Output> serviceList(const Context& ctx) { return sectionListing(ctx, "services", serviceTable(), serviceRow); }

Result<Output> serviceShow(const Context& ctx) {
  auto word = oneArg(ctx, "service (NAMESPACE/NAME or NAME)");
  if (!word) return word.error();
  auto items = section(ctx, "services");
  if (!items) return items.error();
  auto s = pick(*items, *word, "service");
  if (!s) return s.error();
  // Its endpoints: the workloads that list it.
  auto workloads = section(ctx, "workloads");
  if (!workloads) return workloads.error();
  const std::string key = str(*s, "namespace") + "/" + str(*s, "hostname");
  Json result = *s;
  result["endpoints"] = Json::array();
  Table eps{{"ENDPOINT", "IPS", "READY", "CAPTURED"}, {}};
  for (const auto& w : *workloads) {
    if (!w["services"].contains(key)) continue;
    result["endpoints"].push_back(
        {{"workload", str(w, "namespace") + "/" + str(w, "name")}, {"ips", w["ips"]}, {"ready", w["ready"]}});
    eps.rows.push_back({str(w, "namespace") + "/" + str(w, "name"), joined(w["ips"]),
                        w.value("ready", false) ? "yes" : "no", w.value("captured", false) ? "yes" : "no"});
  }
  Output out{result, serviceTable()};
  out.table.rows.push_back(serviceRow(*s));
  out.extra = {eps};
  return out;
}

// ---- policies ----

Table policyTable() { return Table{{"NAMESPACE", "NAME", "SCOPE", "ACTION", "DRY_RUN", "RULES", "NOTES"}, {}}; }
std::vector<std::string> policyRow(const Json& p) {
  return {str(p, "namespace"),
          str(p, "name"),
          str(p, "scope"),
          str(p, "action"),
          p.value("dry_run", false) ? "yes" : "no",
          std::to_string(p["rules"].size()),
          std::to_string(p["notes"].size())};
}

Result<Output> policyList(const Context& ctx) { return sectionListing(ctx, "policies", policyTable(), policyRow); }

Result<Output> policyShow(const Context& ctx) {
  auto word = oneArg(ctx, "policy (NAMESPACE/NAME or NAME)");
  if (!word) return word.error();
  auto items = section(ctx, "policies");
  if (!items) return items.error();
  auto p = pick(*items, *word, "policy");
  if (!p) return p.error();
  Output out{*p, policyTable()};
  out.table.rows.push_back(policyRow(*p));
  // One row per match: rule, clause, and the fields it sets.
  Table rules{{"RULE", "CLAUSE", "MATCH"}, {}};
  for (size_t r = 0; r < (*p)["rules"].size(); ++r) {
    const auto& clauses = (*p)["rules"][r]["clauses"];
    if (clauses.empty()) rules.rows.push_back({std::to_string(r), "-", "(matches every connection)"});
    for (size_t c = 0; c < clauses.size(); ++c)
      for (const auto& m : clauses[c]["matches"])
        rules.rows.push_back({std::to_string(r), std::to_string(c), m.dump()});
  }
  Table notes{{"CONVERSION_NOTE"}, {}};
  for (const auto& n : (*p)["notes"]) notes.rows.push_back({n.get<std::string>()});
  out.extra = {rules, notes};
  return out;
}

// ---- certificates, connections, config, log level ----

Result<Output> certList(const Context& ctx) {
  auto dump = configDump(ctx);
  if (!dump) return dump.error();
  Output out{(*dump)["certificates"], Table{{"IDENTITY", "SERIAL", "NOT_AFTER", "EXPIRES_IN", "RENEWAL_IN"}, {}}};
  for (const auto& c : (*dump)["certificates"])
    out.table.rows.push_back({str(c, "identity"), str(c, "serial"), str(c, "not_after"),
                              str(c, "expires_in_seconds") + "s",
                              c.contains("renewal_in_seconds") ? str(c, "renewal_in_seconds") + "s" : "-"});
  return out;
}

Result<Output> configDumpVerb(const Context& ctx) {
  auto dump = configDump(ctx);
  if (!dump) return dump.error();
  Table t{{"SECTION", "ENTRIES"}, {}};
  for (const char* s : {"workloads", "services", "policies", "waypoint_policies", "request_authentications"})
    t.rows.push_back({std::string("state.") + s, std::to_string((*dump)["state"][s].size())});
  t.rows.push_back({"certificates", std::to_string((*dump)["certificates"].size())});
  if (dump->contains("xds"))
    t.rows.push_back({"xds", str((*dump)["xds"], "connected") == "true" ? "connected" : "down"});
  return Output{*dump, t};
}

Result<Output> logLevel(const Context& ctx) {
  if (ctx.args.size() > 1) return makeError("expected at most one LEVEL");
  std::string token;
  if (!ctx.args.empty()) {  // setting the level changes the tunnel: root only
    auto read = readAdminToken(ctx.adminTokenFile);
    if (!read) return read.error();
    token = std::move(*read);
  }
  auto j = ctx.args.empty() ? adminJson(ctx.adminAddress, "GET", "/logging")
                            : adminJson(ctx.adminAddress, "POST", "/logging?level=" + queryEscape(ctx.args[0]), token);
  if (!j) return j.error();
  Output out{*j, Table{{"LEVEL"}, {{str(*j, "level")}}}};
  return out;
}

// SRC DST:PORT [--request "METHOD PATH"] [--jwt FILE]
Result<Output> explain(const Context& ctx) {
  std::vector<std::string> positional;
  std::string request, jwtFile;
  for (size_t i = 0; i < ctx.args.size(); ++i) {
    const std::string& a = ctx.args[i];
    if (a == "--request" || a == "--jwt") {
      if (i + 1 >= ctx.args.size()) return makeError(a + " needs a value");
      (a == "--request" ? request : jwtFile) = ctx.args[++i];
    } else if (a.rfind("--", 0) == 0) {
      return makeError("unexpected option '" + a + "' for 'explain' (see warrenctl explain help)");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) return makeError("expected SRC and DST:PORT");
  std::string target = "/explain?src=" + queryEscape(positional[0]) + "&dst=" + queryEscape(positional[1]);
  if (!request.empty() || !jwtFile.empty()) {
    std::string method = "GET", path = "/";
    if (!request.empty()) {
      const size_t sp = request.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= request.size() || request[sp + 1] != '/')
        return makeError("--request wants \"METHOD /path\", e.g. \"GET /api/loans/my/1\"");
      method = request.substr(0, sp);
      path = request.substr(sp + 1);
    }
    target += "&method=" + queryEscape(method) + "&path=" + queryEscape(path);
    if (!jwtFile.empty()) {
      auto token = readFile(jwtFile);
      if (!token) return token.error();
      std::string t = *token;
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(0, 1);
      if (t.rfind("Bearer ", 0) == 0) t.erase(0, 7);
      target += "&jwt=" + queryEscape(t);
    }
  }
  auto j = adminJson(ctx.adminAddress, "GET", target);
  if (!j) return j.error();
  return explainOutput(*j);
}

}  // namespace

Output explainOutput(const Json& answer) {
  const Json* j = &answer;
  Output out{
      *j,
      Table{{"SOURCE", "CAPTURED", "DESTINATION", "VERDICT"},
            {{str((*j)["source"], "workload").empty() ? str((*j)["source"], "ip") : str((*j)["source"], "workload"),
              (*j)["source"].value("captured", false) ? "yes" : "no", str(*j, "destination"), str(*j, "verdict")}}}};
  Table paths{{"ROUTE", "TO", "ALLOWED", "POLICY", "RULE", "WHY"}, {}};
  // Through a waypoint: the L7 policies it applies, judged per request.
  Table l7{{"WAYPOINT", "ENDPOINT", "L7_POLICY", "ACTION", "DRY_RUN", "RULES", "NOTES"}, {}};
  std::set<std::string> l7Seen;
  std::string l7Note;
  for (const auto& p : (*j)["paths"]) {
    const Json& a = p.contains("authorization") ? p["authorization"] : Json::object();
    std::string to = str(p, "destination_workload");
    if (p.contains("waypoint")) {
      const Json& wp = p["waypoint"];
      to = "waypoint " + str(wp, "service") + (wp.contains("endpoint") ? " (" + str(wp, "endpoint") + ")" : "") +
           " -> " + to;
      std::string wpName = str(wp, "service") + (wp.value("known", false) ? "" : " (not known)");
      if (wp["policies"].empty() && l7Seen.insert(wpName + "|").second)
        l7.rows.push_back({wpName, str(wp, "endpoint"), "(none)", "", "", "", ""});
      for (const auto& lp : wp["policies"])
        if (l7Seen.insert(wpName + "|" + str(lp, "policy")).second)
          l7.rows.push_back({wpName, str(wp, "endpoint"), str(lp, "policy"), str(lp, "action"),
                             lp.value("dry_run", false) ? "yes" : "no", str(lp, "rules"), joined(lp["notes"])});
      if (wp.contains("note")) l7Note = str(wp, "note");
    }
    if (p.contains("service")) to = str(p, "service") + " -> " + to;
    paths.rows.push_back({str(p, "route"), to, p.value("allowed", false) ? "yes" : "no", str(a, "policy"),
                          a.contains("rule") && a["rule"].get<int>() >= 0 ? a["rule"].dump() : "-",
                          a.contains("reason") ? str(a, "reason") : str(p, "reason")});
  }
  // --request/--jwt: the one request as each waypoint judges it.
  Table req{{"WAYPOINT", "REQUEST", "TOKEN_RULE", "PRINCIPAL", "STATUS", "POLICY", "RULE", "WHY"}, {}};
  std::set<std::string> reqSeen;
  for (const auto& p : (*j)["paths"]) {
    if (!p.contains("waypoint") || !p["waypoint"].contains("request")) continue;
    const Json& r = p["waypoint"]["request"];
    const Json& a = r["authentication"];
    if (!reqSeen.insert(str(p["waypoint"], "service")).second) continue;
    std::string tokenRule = str(a, "token") == "none" ? "(no token)" : str(a, "rule");
    if (a.contains("verified")) tokenRule += a["verified"].get<bool>() ? " (verified)" : " (not verified here)";
    if (a.contains("failure")) tokenRule += " failed: " + str(a, "failure");
    const Json& d = r["decision"];
    std::string why = str(d, "reason");
    if (r.contains("matched_rule")) why += "; matched " + r["matched_rule"].dump();
    if (a.contains("note")) why += "; " + str(a, "note");
    req.rows.push_back({str(p["waypoint"], "service"), str(r, "method") + " " + str(r, "path"), tokenRule,
                        str(a, "principal").empty() ? "-" : str(a, "principal"), str(r, "status"),
                        str(d, "policy").empty() ? "-" : str(d, "policy"),
                        d.value("rule", -1) >= 0 ? d["rule"].dump() : "-", why});
  }
  out.extra = {paths};
  if (!l7.rows.empty()) out.extra.push_back(l7);
  if (!req.rows.empty()) out.extra.push_back(req);
  // The note says to ask with --request; once asked, the request table answers it.
  if (!l7Note.empty() && req.rows.empty()) out.extra.push_back(Table{{}, {{l7Note}}});
  return out;
}

namespace {

const std::vector<Field> kWorkloadFields = {
    {"uid", "workload uid"},
    {"name", "pod name"},
    {"namespace", "namespace"},
    {"service_account", "service account"},
    {"node", "node it runs on"},
    {"ips", "its IPs"},
    {"identity", "its SPIFFE identity"},
    {"captured", "in the mesh: its node's tunnel captures it and serves HBONE"},
    {"capture_reason", "why it is captured or not"},
    {"ready", "ready to take service traffic"},
    {"labels", "its labels (YAML source)"},
    {"services", "services it is an endpoint of: key NAMESPACE/HOSTNAME -> [{service_port, target_port}]"},
    {"authorization_policies", "selector-scoped policies that apply to it"},
    {"peer_authentication", "effective PeerAuthentication: mode, decided_by, port_modes"},
    {"waypoint", "the waypoint (its service key) traffic to its own IPs must pass; \"\" for none"},
};

}  // namespace

Result<Output> tunnelConnList(const Context& ctx) {
  auto j = adminJson(ctx.adminAddress, "GET", "/connections");
  if (!j) return j.error();
  Output out{*j, Table{{"CONN", "DIRECTION", "PEER", "PEER_IDENTITY", "STATE", "STREAM", "AUTHORITY", "TO_PEER",
                        "FROM_PEER", "AGE_MS"},
                       {}}};
  for (const auto& c : (*j)["hbone"]) {
    if (c["streams"].empty())
      out.table.rows.push_back({str(c, "id"), str(c, "direction"), str(c, "peer"), str(c, "peer_identity"),
                                str(c, "state"), "-", "", "", "", ""});
    for (const auto& s : c["streams"])
      out.table.rows.push_back({str(c, "id"), str(c, "direction"), str(c, "peer"), str(c, "peer_identity"),
                                str(c, "state"), str(s, "id"), str(s, "authority"), str(s, "bytes_to_peer"),
                                str(s, "bytes_from_peer"), str(s, "age_ms")});
  }
  Table authorized{{"AUTHORIZED_INBOUND", "SRC_IP", "SRC_IDENTITY", "DST"}, {}};
  for (const auto& a : (*j)["inbound_authorized"])
    authorized.rows.push_back({str(a, "pod"), str(a, "src_ip"), str(a, "src_identity"), str(a, "dst")});
  out.extra = {authorized};
  return out;
}

std::vector<Object> tunnelObjects() {
  const std::string fromTunnel =
      " Read from warren-tunnel's admin endpoint (--admin, default 127.0.0.1:15000), so the tunnel must be "
      "running on this node.";
  Object workload{"workload",
                  "Workloads in warren-tunnel's state (from the YAML directory or xDS).",
                  {{"list", "", "every workload the tunnel knows", "Every workload of the tunnel's state." + fromTunnel,
                    kWorkloadFields, workloadList},
                   {"show", "WORKLOAD", "one workload, by NAMESPACE/NAME, NAME or IP",
                    "One workload by NAMESPACE/NAME, a unique NAME or one of its IPs, with the services it serves and "
                    "its effective PeerAuthentication." +
                        fromTunnel,
                    kWorkloadFields, workloadShow}}};
  const std::vector<Field> serviceFields = {
      {"name", "service name"},
      {"namespace", "namespace"},
      {"hostname", "NAME.NAMESPACE.svc.DOMAIN"},
      {"vips", "ClusterIPs"},
      {"ports",
       "[{service_port, target_port, app_protocol}]; app_protocol (http, http2, grpc, "
       "tcp, tls) only when known"},
      {"waypoint",
       "the waypoint (its service key) traffic to its VIPs must "
       "pass; \"\" for none"},
      {"waypoint_for",
       "only on a waypoint, from its Gateway (YAML source): "
       "service, workload or all"}};
  std::vector<Field> serviceShowFields = serviceFields;
  serviceShowFields.push_back({"endpoints", "[{workload, ips, ready}]: workloads behind it"});
  Object service{
      "service",
      "Services (VIPs and ports) in warren-tunnel's state.",
      {{"list", "", "every service", "Every service with its VIPs and ports." + fromTunnel, serviceFields, serviceList},
       {"show", "SERVICE", "one service and its endpoints",
        "One service by NAMESPACE/NAME or a unique NAME, with the workloads behind it." + fromTunnel, serviceShowFields,
        serviceShow}}};
  const std::vector<Field> policyFields = {
      {"name", "policy name"},
      {"namespace", "namespace"},
      {"scope", "GLOBAL (root namespace), NAMESPACE or WORKLOAD_SELECTOR"},
      {"action", "ALLOW, DENY or AUDIT"},
      {"dry_run", "evaluated and logged only"},
      {"rules", "[{clauses: [{matches: [...]}]}]: rules OR'd, clauses AND'd, matches OR'd"},
      {"notes", "what the conversion changed (L7 rules, invalid fields)"}};
  Object policy{"policy",
                "L4 authorization policies as the tunnel enforces them.",
                {{"list", "", "every authorization policy",
                  "Every authorization policy after conversion to L4 (Istio's semantics)." + fromTunnel, policyFields,
                  policyList},
                 {"show", "POLICY", "one policy's rules and conversion notes",
                  "One policy by NAMESPACE/NAME or a unique NAME: every rule, clause and match, and what the "
                  "conversion from the operator's YAML changed." +
                      fromTunnel,
                  policyFields, policyShow}}};
  Object cert{"cert",
              "Workload certificates the tunnel holds.",
              {{"list",
                "",
                "identities, serials, expiry and renewal",
                "One row per workload certificate: SPIFFE identity, serial, notAfter, seconds to expiry and to "
                "the next renewal." +
                    fromTunnel,
                {{"identity", "SPIFFE identity"},
                 {"serial", "serial number, hex"},
                 {"not_before", "UTC"},
                 {"not_after", "UTC"},
                 {"expires_in_seconds", "seconds until notAfter"},
                 {"renewal_due", "UTC, when renewal is next due"},
                 {"renewal_in_seconds", "seconds until then"}},
                certList}}};
  Object config{"config",
                "The tunnel's whole configuration.",
                {{"dump",
                  "",
                  "the admin config dump",
                  "The tunnel's /config_dump: state (workloads, services, policies, waypoint_policies, "
                  "request_authentications), "
                  "certificates, counters and "
                  "the xDS client's status. The table is a summary; -p prints the whole dump." +
                      fromTunnel,
                  {{"state",
                    "workloads, services, policies (the tunnel's L4 form), waypoint_policies (the "
                    "waypoints' L7 form), request_authentications (the waypoints' JWT rules)"},
                   {"certificates", "as cert list"},
                   {"counters", "the data path's counters"},
                   {"xds", "xDS client status, with --xds-address only"}},
                  configDumpVerb}}};
  Object log{"log",
             "The tunnel's log level.",
             {{"level",
               "[LEVEL]",
               "show or set the log level",
               "Without LEVEL, shows the tunnel's log level; with one of trace, debug, info, warn, error, critical, "
               "off, sets it. The only warrenctl command that changes anything, and it changes no data-path state; "
               "setting needs the tunnel's admin token (--admin-token-file, root only)." +
                   fromTunnel,
               {{"level", "the level in force"}},
               logLevel}}};
  Object explainObj{
      "explain",
      "Why a connection is allowed, denied or not in the mesh.",
      {{"",
        "SRC DST:PORT [--request \"METHOD /path\"] [--jwt FILE]",
        "walk the data path's decisions for one connection",
        "SRC is a workload (NAMESPACE/NAME) or an IP; DST:PORT the address the app dials (a pod or a service VIP). "
        "The tunnel runs the same functions its data path runs, over its current state: is the source in the mesh, "
        "where does the destination resolve (each endpoint of a service), which identity is expected, and which "
        "policy and rule decide at the destination. Traffic bound to a waypoint goes to it first: the waypoint, "
        "its endpoint and the L7 policies it applies for this destination are shown, then its own connection "
        "onward, which the destination judges by the waypoint's identity. L7 rules are judged per request at the "
        "waypoint: with --request (default GET /) and --jwt FILE (a token, optionally \"Bearer \"-prefixed), each "
        "waypoint also judges that one request as it would: the RequestAuthentication rule the token's issuer meets "
        "(verified when the rule's keys are inline; a jwksUri's keys are the waypoint's, so the token is then read "
        "unverified and says so), the request principal, and the L7 policy and rule that decide, with the matched "
        "rule's from/to/when, so a 401 or 403 is explained. VERDICT is allow, deny, depends on the endpoint, or "
        "depends on the request (allowed, but through a waypoint with L7 policies)." +
            fromTunnel,
        {{"source", "workload, ip, identity, captured, capture_reason; waypoint: the waypoint it is an endpoint of"},
         {"destination", "the address dialed"},
         {"paths",
          "one per way the connection can go: route (hbone, passthrough, refuse, direct), reason, "
          "destination_workload, service, authority, via, expected_identity, allowed, authorization; "
          "waypoint and onward through a waypoint"},
         {"paths[].authorization", "evaluated_by, allowed, policy, rule, reason, audit, dry_run"},
         {"paths[].waypoint",
          "service (its key), known, endpoint, via, identity, note, and policies: the L7 "
          "policies it applies for this destination [{policy, action, dry_run, targets, rules, "
          "notes}]"},
         {"paths[].onward",
          "the waypoint's connection to the destination: route, reason, authority, via, "
          "expected_identity"},
         {"paths[].waypoint.request",
          "with --request/--jwt: method, path, authentication {token (none|given), "
          "rule, verified, principal, failure, note}, status (200, 401, 403), decision "
          "{allowed, policy, rule, reason}, matched_rule"},
         {"verdict", "allow, deny, depends on the endpoint, or depends on the request"}},
        explain}}};
  return {workload, service, policy, waypointObject(), cert, config, log, explainObj};
}

}  // namespace warren::ctl
