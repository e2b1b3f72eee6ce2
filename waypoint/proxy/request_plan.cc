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
  if (const state::Service* svc = st.findServiceByVip(ip))
    bound = svc->waypoint == self.serviceKey;
  else if (const state::Workload* w = st.findByIp(ip))
    bound = boundToSelf(st, *w, self);
  if (!bound)
    return bad(":authority " + *authority + " is not a service or workload bound to waypoint " + self.serviceKey);
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
                                     const std::string& normalizedPath, const AuthnResult& authn) {
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
  if (authn.token) {
    if (!authn.token->principal.empty()) f.requestPrincipal = authn.token->principal;
    f.claims = authn.token->claims;
  }
  return f;
}

namespace {

// Envoy's jwt_authn challenge: Bearer realm="<proto>://<host><path>" (cut at 256
// bytes) and error="invalid_token". Envoy's realm keeps the query string; here it
// is left out, since a token sent as a query parameter would be echoed back in it.
// The parser has refused CR, LF and NUL in all three, so the header cannot split.
std::string bearerChallenge(const http1::MessageHead& head) {
  std::string proto = head.header("x-forwarded-proto").value_or("http");
  if (proto != "http" && proto != "https") proto = "http";
  return "Bearer realm=\"" + proto + "://" + head.host + head.path.substr(0, 256) + "\", error=\"invalid_token\"";
}

// What binds for the stream's destination: the Service addressed (nullptr for a
// pod addressed directly, whose services then bind too).
struct Binding {
  const state::Service* dstService = nullptr;
  std::vector<const state::Service*> podServices;
  state::Service self;  // the waypoint as l7PoliciesFor wants it: its Gateway's ns and name
};

Binding bindingFor(const state::ClusterState& st, const Self& self, const StreamFacts& stream) {
  Binding b;
  b.self.name = self.gatewayName;
  b.self.ns = self.gatewayNs;
  const std::string ip = io::formatIp(stream.destination);
  b.dstService = st.findServiceByVip(ip);
  if (!b.dstService)
    if (const state::Workload* w = st.findByIp(ip))
      for (const auto& [key, ports] : w->services)
        if (const state::Service* s = st.findService(key)) b.podServices.push_back(s);
  return b;
}

// Every object `of` binds for the destination, once, in binding order.
template <typename T, typename Of>
std::vector<const T*> boundObjects(const Binding& b, Of of) {
  std::vector<const T*> out = of(b.self, b.dstService);
  for (const auto* s : b.podServices)
    for (const auto* o : of(b.self, s))
      if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
  return out;
}

}  // namespace

std::vector<const state::RequestAuthn*> requestAuthnsFor(const state::ClusterState& st, const Self& self,
                                                         const StreamFacts& stream) {
  return boundObjects<state::RequestAuthn>(bindingFor(st, self, stream),
                                           [&](const auto& w, const auto* s) { return st.requestAuthnsFor(w, s); });
}

state::AppProtocol destinationAppProtocol(const state::ClusterState& st, const StreamFacts& stream) {
  const uint32_t port = io::portOf(stream.destination);
  const std::string ip = io::formatIp(stream.destination);
  auto byServicePort = [](const state::Service& s, uint32_t servicePort) {
    for (const auto& p : s.ports)
      if (p.servicePort == servicePort) return p.appProtocol;
    return state::AppProtocol::Unknown;
  };
  if (const state::Service* svc = st.findServiceByVip(ip)) return byServicePort(*svc, port);
  const state::Workload* w = st.findByIp(ip);
  if (!w) return state::AppProtocol::Unknown;
  for (const auto& [key, ports] : w->services) {
    const state::Service* svc = st.findService(key);
    if (!svc) continue;
    // The workload's own target ports when it has them, else the service's.
    for (const auto& p : ports.empty() ? svc->ports : ports)
      if (p.targetPort == port) {
        if (auto proto = byServicePort(*svc, p.servicePort); proto != state::AppProtocol::Unknown) return proto;
      }
  }
  return state::AppProtocol::Unknown;
}

RequestPlan planRequest(const state::ClusterState& st, const Self& self, const StreamFacts& stream,
                        const http1::MessageHead& head, uint64_t pick, AuthnResult authn) {
  RequestPlan p;
  p.authn = std::move(authn);
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

  const Binding binding = bindingFor(st, self, stream);
  if (const state::Service* dst = binding.dstService) {
    p.dstServiceHost = dst->hostname;
    p.dstServiceName = dst->name;
    p.dstServiceNs = dst->ns;
  }
  p.route = proxy::decideOutbound(stream.destination, st, pick, &self.workload);
  p.appProtocol = destinationAppProtocol(st, stream);
  if (const state::Workload* w = st.findByIp(io::formatIp(p.route.target)); w) {
    p.dstWorkload = w->name;
    p.dstWorkloadNs = w->ns;
    p.dstPrincipal = w->identity.uri();
  }
  // Envoy's jwt_authn runs before RBAC: an invalid token is 401 whatever the policy
  // (403 for an audience it does not allow, as Envoy answers), with a Bearer
  // challenge naming the request (RFC 6750 3).
  if (p.authn.kind == AuthnResult::Kind::Failed || p.authn.kind == AuthnResult::Kind::NeedKeys) {
    p.decision.reason = "RequestAuthentication " + p.authn.policy + ": " + p.authn.reason;
    p.responseHeaders.emplace_back("www-authenticate", bearerChallenge(head));
    const bool failed = p.authn.kind == AuthnResult::Kind::Failed;
    return reject(failed ? p.authn.status : 401, failed ? p.authn.body : "Jwt verification fails", "-");
  }
  std::vector<const state::L7Policy*> policies =
      boundObjects<state::L7Policy>(binding, [&](const auto& w, const auto* s) { return st.l7PoliciesFor(w, s); });
  p.decision = authz::authorizeRequest(policies, requestFacts(stream, head, p.path, p.authn));
  if (!p.decision.allowed) return reject(403, "RBAC: access denied", "RBAC");
  if (p.route.kind == proxy::OutboundRoute::Kind::Refuse) {
    p.decision.reason = "no route: " + p.route.reason;  // the access log says why it was 503, not why allowed
    return reject(503, "no healthy upstream", "UH");
  }
  p.action = RequestPlan::Action::Forward;
  return p;
}

http1::MessageHead upstreamHead(const http1::MessageHead& in, const RequestPlan& plan) {
  http1::MessageHead out = in;
  const size_t q = in.target.find('?');
  out.target = plan.path + (q == std::string::npos ? "" : in.target.substr(q));
  const auto& drop = plan.authn.removeHeaders;
  std::erase_if(out.headers, [&](const auto& h) { return std::find(drop.begin(), drop.end(), h.first) != drop.end(); });
  for (const auto& h : plan.authn.addHeaders) out.headers.push_back(h);
  return out;
}

}  // namespace warren::waypoint
