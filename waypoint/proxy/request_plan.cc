#include "waypoint/proxy/request_plan.h"

#include <algorithm>
#include <vector>

#include "io/tcp.h"

namespace warren::waypoint {

Self makeSelf(const std::string& ns, const std::string& name, const std::string& clusterDomain) {
  Self s;
  s.gatewayNs = ns;
  s.gatewayName = name;
  s.serviceKey = ns + "/" + name + "." + ns + ".svc." + clusterDomain;
  s.workload.uid = "waypoint:" + ns + "/" + name;
  s.workload.name = name;
  s.workload.ns = ns;
  s.workload.services[s.serviceKey] = {};
  return s;
}

namespace {

StreamVerdict bad(std::string why) {
  StreamVerdict v;
  v.reason = std::move(why);
  return v;
}

// Is the workload bound to this waypoint, itself or through one of its services?
bool boundToSelf(const state::ClusterState& st, const state::Workload& w, const Self& self) {
  if (w.waypoint == self.serviceKey) return true;
  for (const auto& [key, ports] : w.services) {
    const state::Service* s = st.findService(key);
    if (s && s->waypoint == self.serviceKey) return true;
  }
  return false;
}

}  // namespace

StreamVerdict judgeWaypointStream(const hbone::Headers& request, const state::ClusterState& st, const Self& self) {
  auto method = hbone::findHeader(request, ":method");
  if (!method || *method != "CONNECT") return bad("method " + method.value_or("(none)") + " is not CONNECT");
  auto authority = hbone::findHeader(request, ":authority");
  if (!authority) return bad("no :authority");
  auto target = io::parseHostPort(*authority);
  if (!target || io::portOf(*target) == 0) return bad(":authority " + *authority + " is not ip:port");
  const std::string ip = io::formatIp(*target);
  bool bound = false;
  if (const state::Service* svc = st.findServiceByVip(ip)) bound = svc->waypoint == self.serviceKey;
  else if (const state::Workload* w = st.findByIp(ip)) bound = boundToSelf(st, *w, self);
  if (!bound) return bad(":authority " + *authority + " is not a service or workload bound to waypoint " + self.serviceKey);
  StreamVerdict v;
  v.status = 200;
  v.destination = *target;
  return v;
}

std::optional<std::string> normalizePath(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  // An escaped slash or backslash would be one path to the policy and another to
  // an upstream that decodes it (Envoy's REJECT_REQUEST for escaped slashes).
  for (size_t i = 0; i + 2 < path.size(); ++i)
    if (path[i] == '%' && ((path[i + 1] == '2' && (path[i + 2] == 'f' || path[i + 2] == 'F')) ||
                           (path[i + 1] == '5' && (path[i + 2] == 'c' || path[i + 2] == 'C'))))
      return std::nullopt;
  std::vector<std::string_view> out;
  size_t pos = 1;
  bool trailingSlash = false;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    trailingSlash = false;
    if (seg == ".") {
      trailingSlash = true;
    } else if (seg == "..") {
      if (out.empty()) return std::nullopt;  // above the root: refuse rather than guess
      out.pop_back();
      trailingSlash = true;
    } else {
      out.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  std::string result;
  for (size_t i = 0; i < out.size(); ++i) {
    result += '/';
    result += out[i];
  }
  if (result.empty() || (trailingSlash && result.back() != '/')) result += '/';
  return result;
}

authz::HttpRequestFacts requestFacts(const StreamFacts& stream, const http1::MessageHead& head,
                                     const std::string& normalizedPath) {
  authz::HttpRequestFacts f;
  f.sourceIp = stream.peerIp;
  f.sourceIdentity = stream.peerIdentity;
  f.remoteIp = stream.peerIp;
  if (auto xff = head.header("x-forwarded-for")) {
    std::string first = xff->substr(0, xff->find(','));
    first.erase(0, first.find_first_not_of(" \t"));
    first.erase(first.find_last_not_of(" \t") + 1);
    if (!first.empty()) f.remoteIp = first;
  }
  f.destinationIp = io::formatIp(stream.destination);
  f.destinationPort = io::portOf(stream.destination);
  f.method = head.method;
  f.path = normalizedPath;
  f.authority = head.host;
  f.headers = head.headers;
  return f;
}

RequestPlan planRequest(const state::ClusterState& st, const Self& self, const StreamFacts& stream,
                        const http1::MessageHead& head, uint64_t pick) {
  RequestPlan p;
  auto reject = [&](int status, std::string body, std::string flags) {
    p.action = RequestPlan::Action::Reject;
    p.status = status;
    p.body = std::move(body);
    p.responseFlags = std::move(flags);
    return p;
  };
  auto path = normalizePath(head.path);
  if (!path) {
    p.decision.reason = "path " + head.path + " cannot be normalised";
    return reject(400, "Bad Request", "DPE");
  }
  p.path = *path;

  const std::string ip = io::formatIp(stream.destination);
  const state::Service* dstService = st.findServiceByVip(ip);
  // Waypoint policies bind by the Gateway's namespace and name: that is all of
  // the waypoint l7PoliciesFor needs.
  state::Service selfService;
  selfService.name = self.gatewayName;
  selfService.ns = self.gatewayNs;
  std::vector<const state::L7Policy*> policies = st.l7PoliciesFor(selfService, dstService);
  if (!dstService)
    if (const state::Workload* w = st.findByIp(ip))
      // A pod addressed directly: the policies of the services it serves apply too.
      for (const auto& [key, ports] : w->services)
        if (const state::Service* s = st.findService(key))
          for (const auto* pol : st.l7PoliciesFor(selfService, s))
            if (std::find(policies.begin(), policies.end(), pol) == policies.end()) policies.push_back(pol);
  if (dstService) {
    p.dstServiceHost = dstService->hostname;
    p.dstServiceName = dstService->name;
    p.dstServiceNs = dstService->ns;
  }

  p.decision = authz::authorizeRequest(policies, requestFacts(stream, head, p.path));
  p.route = proxy::decideOutbound(stream.destination, st, pick, &self.workload);
  if (const state::Workload* w = st.findByIp(io::formatIp(p.route.target)); w) {
    p.dstWorkload = w->name;
    p.dstWorkloadNs = w->ns;
    p.dstPrincipal = w->identity.uri();
  }
  if (!p.decision.allowed) return reject(403, "RBAC: access denied", "RBAC");
  if (p.route.kind == proxy::OutboundRoute::Kind::Refuse) return reject(503, "no healthy upstream", "UH");
  p.action = RequestPlan::Action::Forward;
  return p;
}

}  // namespace warren::waypoint
