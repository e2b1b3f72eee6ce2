#include "tunnel/proxy/segmentation_live.h"

#include <charconv>
#include <optional>
#include <set>
#include <tuple>

#include "tunnel/proxy/decisions.h"
#include "tunnel/proxy/explain.h"

namespace warren::proxy {
namespace {

using nlohmann::json;

bool matches(const std::string& want, const std::string& have) { return want.empty() || want == have; }

std::string nsName(const state::Workload& w) { return w.ns + "/" + w.name; }

// The spec's own test of `to` on a workload, before ports (the probes' connections
// are judged with ports by checkSegmentation): a service selector picks the
// endpoints of a service of that hostname.
bool selects(const state::ClusterState& st, const audit::Selector& to, const state::Workload& w) {
  if (!matches(to.ns, w.ns) || !matches(to.workload, w.name) || !to.principal.empty()) return false;
  if (to.service.empty()) return true;
  for (const auto& [key, own] : w.services)
    if (const state::Service* s = st.findService(key); s && s->hostname == to.service) return true;
  return false;
}

std::optional<uint32_t> portNumber(const std::string& text) {
  uint32_t p = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
  if (ec != std::errc() || end != text.data() + text.size() || p == 0 || p > 65535) return std::nullopt;
  return p;
}

// Every port the spec names, in `to` and in its selectors.
std::set<uint32_t> specPorts(const audit::SegmentationSpec& spec) {
  std::set<uint32_t> out;
  auto add = [&](const audit::Selector& s) {
    for (const auto& p : s.ports)
      if (auto n = portNumber(p)) out.insert(*n);
  };
  for (const auto& r : spec.rules) {
    add(r.to);
    for (const auto& s : r.onlyFrom) add(s);
    for (const auto& s : r.neverFrom) add(s);
  }
  return out;
}

// The service port's target on `w`, as the records name it (0 in the state: the
// service port itself).
std::optional<uint32_t> targetOn(const std::vector<state::ServicePort>& own, const state::ServicePort& sp) {
  auto t = endpointTargetPort(own, sp);
  if (!t) return std::nullopt;
  return *t ? *t : sp.servicePort;
}

// The ports of `w` whose decisions can differ (see the header), the last one
// standing for every port none of the others is.
std::pair<std::vector<uint32_t>, uint32_t> portsOf(const state::ClusterState& st, const state::Workload& w,
                                                   const std::set<uint32_t>& fromSpec) {
  std::set<uint32_t> ports = fromSpec;
  for (const auto& [key, own] : w.services)
    if (const state::Service* s = st.findService(key))
      for (const auto& sp : s->ports)
        if (auto t = targetOn(own, sp)) ports.insert(*t);
  for (const auto* p : st.policiesFor(w))
    for (const auto& rule : p->rules)
      for (const auto& clause : rule.clauses)
        for (const auto& m : clause.matches) {
          ports.insert(m.destinationPorts.begin(), m.destinationPorts.end());
          ports.insert(m.notDestinationPorts.begin(), m.notDestinationPorts.end());
        }
  for (const auto& [port, mode] : w.mtls.portModes) ports.insert(port);
  ports.erase(0);
  uint32_t other = 1;
  while (ports.count(other) || isTunnelPort(static_cast<uint16_t>(other))) ++other;
  std::vector<uint32_t> out(ports.begin(), ports.end());
  out.push_back(other);
  return {out, other};
}

std::string hostPort(const std::string& ip, uint32_t port) {
  return (ip.find(':') == std::string::npos ? ip : "[" + ip + "]") + ":" + std::to_string(port);
}

struct Source {
  const state::Workload* workload = nullptr;  // nullptr: the client outside the mesh
  std::string ip;
};

// Service keys that are waypoints: marked as one, or named as one by a service or
// workload (as explain finds a waypoint source).
std::set<std::string> waypointKeys(const state::ClusterState& st) {
  std::set<std::string> keys;
  for (const auto& [key, s] : st.services()) {
    if (!s.waypointFor.empty()) keys.insert(key);
    if (!s.waypoint.empty()) keys.insert(s.waypoint);
  }
  for (const auto& [uid, w] : st.workloads())
    if (!w.waypoint.empty()) keys.insert(w.waypoint);
  return keys;
}

std::vector<Source> sourcesOf(const state::ClusterState& st) {
  const std::set<std::string> waypoints = waypointKeys(st);
  std::vector<Source> out;
  for (const auto& [uid, w] : st.workloads()) {
    if (w.hostNetwork || w.ips.empty()) continue;
    // Dialed from its IP, as the data path knows it; one the cross-check gave to
    // another workload does not identify it.
    if (const state::Workload* byIp = st.findByIp(w.ips.front()); !byIp || byIp->uid != w.uid) continue;
    bool isWaypoint = false;
    for (const auto& [key, own] : w.services) isWaypoint = isWaypoint || waypoints.count(key);
    if (!isWaypoint) out.push_back({&w, w.ips.front()});
  }
  out.push_back({nullptr, ""});
  return out;
}

// One address to dial for a destination workload and port.
struct Dial {
  std::string address;  // "ip:port"
  std::string service;  // the hostname of the service whose VIP it is, else ""
};

std::vector<Dial> dialsOf(const state::ClusterState& st, const state::Workload& w, uint32_t port) {
  std::vector<Dial> out = {{hostPort(w.ips.front(), port), ""}};
  for (const auto& [key, own] : w.services) {
    const state::Service* s = st.findService(key);
    if (!s || s->vips.empty()) continue;
    for (const auto& sp : s->ports)
      if (targetOn(own, sp) == port) out.push_back({hostPort(s->vips.front(), sp.servicePort), s->hostname});
  }
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// What decided an allowed path, in the words of the output's DECIDED BY column.
std::string decidedBy(const json& path) {
  std::string by;
  if (path.contains("authorization")) {
    const json& a = path["authorization"];
    by = str(a, "policy").empty() ? "no policy: default allow" : str(a, "policy");
    if (a.value("rule", -1) >= 0) by += " rules[" + std::to_string(a["rule"].get<int>()) + "]";
  } else {
    by = "no policy: no Warren tunnel judges it";
  }
  if (path.contains("waypoint") && !path["waypoint"]["policies"].empty())
    by += "; L7 policies of waypoint " + str(path["waypoint"], "service") + " judge each request";
  return by;
}

// Mutual TLS end to end: HBONE to the destination, or to a waypoint whose own
// connection onward is HBONE too.
bool mtlsPath(const json& path) {
  if (str(path, "route") != "hbone") return false;
  return !path.contains("onward") || str(path["onward"], "route") == "hbone";
}

}  // namespace

LiveCheck checkSegmentationLive(const state::ClusterState& st, const audit::SegmentationSpec& spec) {
  LiveCheck out;
  const std::set<uint32_t> namedPorts = specPorts(spec);
  const std::vector<Source> sources = sourcesOf(st);
  out.sources = sources.size();

  std::vector<const state::Workload*> destinations;
  std::vector<bool> ruleSelects(spec.rules.size(), false);
  for (const auto& [uid, w] : st.workloads()) {
    if (w.ips.empty()) continue;
    bool selected = false;
    for (size_t i = 0; i < spec.rules.size(); ++i)
      if (selects(st, spec.rules[i].to, w)) selected = ruleSelects[i] = true;
    if (selected) destinations.push_back(&w);
  }
  for (size_t i = 0; i < spec.rules.size(); ++i)
    if (!ruleSelects[i]) out.rulesWithoutDestination.push_back(spec.rules[i].name);

  std::set<std::tuple<std::string, std::string, std::string, std::string, std::string>> seen;
  for (const auto* w : destinations) {
    const std::string dst = nsName(*w);
    auto [ports, other] = portsOf(st, *w, namedPorts);
    LiveDestination d{dst, {}, std::to_string(other)};
    for (uint32_t p : ports) d.ports.push_back(std::to_string(p));
    out.destinations.push_back(std::move(d));
    for (uint32_t port : ports) {
      for (const auto& dial : dialsOf(st, *w, port)) {
        const bool v6 = dial.address.front() == '[';
        for (const auto& src : sources) {
          if (src.workload && src.workload->uid == w->uid) continue;
          const std::string srcIp = src.workload ? src.ip : (v6 ? kOutsideClientV6 : kOutsideClientV4);
          auto answer = explainConnection(st, srcIp, dial.address);
          out.probes++;
          if (!answer) continue;  // only malformed input fails, and these addresses come from the state
          for (const auto& path : (*answer)["paths"]) {
            if (!path.value("allowed", false)) continue;
            // A VIP may pick another endpoint; the pod's own IP reaches only it.
            const std::string reached = str(path, "destination_workload");
            if (reached != dst && (!dial.service.empty() || !reached.empty())) continue;
            // The connection the audit files would record for this path.
            audit::Connection c;
            c.mtls = mtlsPath(path);
            c.srcNamespace = src.workload ? src.workload->ns : "";
            c.srcWorkload = src.workload ? src.workload->name : "";
            c.srcIdentity = src.workload && c.mtls ? src.workload->identity.uri() : "";
            c.dstNamespace = w->ns;
            c.dstWorkload = w->name;
            c.dstService =
                dial.service.empty() ? guessInboundService(st, *w, static_cast<uint16_t>(port)) : dial.service;
            c.verdict = "allow";
            c.noMtlsReason = c.mtls ? "" : str(path, "reason");
            c.flow = {src.workload ? nsName(*src.workload) : srcIp, c.dstService.empty() ? dst : c.dstService,
                      std::to_string(port)};
            for (const auto& x : audit::checkSegmentation(spec, {c})) {
              const std::string source = src.workload ? nsName(*src.workload) : "outside the mesh (" + srcIp + ")";
              if (!seen.insert({x.rule, source, dst, c.flow.port, x.why}).second) continue;
              const json& a = path.contains("authorization") ? path["authorization"] : json::object();
              out.contradictions.push_back({x.rule, source, dst, c.flow.port, port == other, dial.address, x.why,
                                            decidedBy(path),
                                            str(a, "reason").empty() ? str(path, "reason") : str(a, "reason")});
            }
          }
        }
      }
    }
  }
  return out;
}

nlohmann::json toJson(const LiveCheck& check) {
  json j = {{"sources", check.sources},
            {"probes", check.probes},
            {"destinations", json::array()},
            {"rules_without_destination", check.rulesWithoutDestination},
            {"contradictions", json::array()}};
  for (const auto& d : check.destinations)
    j["destinations"].push_back({{"workload", d.workload}, {"ports", d.ports}, {"any_other_port", d.anyOtherPort}});
  for (const auto& x : check.contradictions)
    j["contradictions"].push_back({{"rule", x.rule},
                                   {"source", x.source},
                                   {"destination", x.destination},
                                   {"port", x.port},
                                   {"any_other_port", x.anyOtherPort},
                                   {"dialed", x.dialed},
                                   {"why", x.why},
                                   {"decided_by", x.decidedBy},
                                   {"reason", x.reason}});
  return j;
}

}  // namespace warren::proxy
