#pragma once
// What the waypoint does with a CONNECT stream and with each HTTP request inside
// it: pure functions over the cluster state, tested without sockets (as the
// tunnel's decisions.h). The session (http1_session.cc) acts on the plans.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

#include "authz/authorize_http.h"
#include "hbone/h2_connection.h"
#include "state/cluster_state.h"
#include "tunnel/proxy/decisions.h"
#include "waypoint/http1/http1_parser.h"
#include "waypoint/proxy/authenticate.h"

namespace warren::waypoint {

// Who the waypoint is: its Service (the Gateway's) and a workload standing for
// its own pods, so that routing never sends its traffic back to itself.
struct Self {
  std::string serviceKey;  // "ns/<name>.<ns>.svc.<domain>"
  std::string gatewayNs, gatewayName;
  state::Workload workload;  // services = {serviceKey}
};
Self makeSelf(const std::string& ns, const std::string& name, const std::string& clusterDomain);

// One HBONE CONNECT stream arriving at the waypoint.
struct StreamVerdict {
  int status = 400;                // 200: accept and parse HTTP inside
  sockaddr_storage destination{};  // the :authority (service VIP or pod IP, and port)
  std::string reason;
};
// 400 unless the request is a CONNECT to "ip:port" of a service or workload that
// is bound to this waypoint: the waypoint is no open relay that would lend its
// identity to reach anything else.
StreamVerdict judgeWaypointStream(const hbone::Headers& request, const state::ClusterState& state, const Self& self);

// The facts of the CONNECT stream that every request inside shares.
struct StreamFacts {
  std::string peerIp;  // the HBONE peer: the client pod (its tunnel dials from it)
  std::optional<identity::SpiffeId> peerIdentity;
  sockaddr_storage destination{};
  // The HBONE connection's TLS session (OpenSSL's static names; null: none), for
  // the audit log.
  const char* tlsVersion = nullptr;
  const char* tlsCipher = nullptr;
};

struct RequestPlan {
  enum class Action { Forward, Reject } action = Action::Reject;
  int status = 0;                     // Reject: the status to answer (403 by policy, 503 no route, 400)
  std::string body;                   // Reject: the body ("RBAC: access denied" as Envoy)
  http1::HeaderList responseHeaders;  // Reject: headers the answer adds (www-authenticate on a JWT failure)
  std::string path;                   // the normalised path, judged and forwarded
  authz::HttpDecision decision;
  proxy::OutboundRoute route;  // Forward: where to (never this waypoint again)
  // For telemetry: the destination as Istio labels it.
  std::string dstServiceHost, dstServiceName, dstServiceNs, dstWorkload, dstWorkloadNs, dstPrincipal;
  std::string responseFlags = "-";  // "RBAC" on a policy denial, "NR" no route
  // The destination port's application protocol: whether the request goes
  // upstream as HTTP/2 (state::upstreamSpeaksHttp2).
  state::AppProtocol appProtocol = state::AppProtocol::Unknown;
  // End-user authentication (RequestAuthentication) and what it changes upstream.
  AuthnResult authn;
  // The state the request was judged against (set by judgeRequest): the audit
  // log hashes the deciding policy as it was then.
  state::ClusterStatePtr decidedWith;
};

// The RequestAuthentications bound to the stream's destination (as AuthorizationPolicies bind).
std::vector<const state::RequestAuthn*> requestAuthnsFor(const state::ClusterState& state, const Self& self,
                                                         const StreamFacts& stream);

// The application protocol of the port the stream is addressed to: a service
// VIP's port by its number, a pod's by the service port that targets it.
state::AppProtocol destinationAppProtocol(const state::ClusterState& state, const StreamFacts& stream);

// Judge one request head, already authenticated (`authn`: never NeedKeys), and
// choose its upstream. `pick` spreads requests over a service's endpoints.
// Order as Envoy's filter chain: 400 (path), 401 (JWT), 403 (RBAC), 503 (route).
RequestPlan planRequest(const state::ClusterState& state, const Self& self, const StreamFacts& stream,
                        const waypoint::http1::MessageHead& head, uint64_t pick, AuthnResult authn = {});

// The head the upstream receives for a forwarded request: the judged (normalised)
// path with the original query, less the headers authentication removes (the
// token unless forwarded, client copies of headers it writes), plus those it adds.
http1::MessageHead upstreamHead(const http1::MessageHead& in, const RequestPlan& plan);

// RFC 3986 remove_dot_segments on the path (Envoy's normalize_path, which Istio
// turns on): "/a/./b/../c" -> "/a/c". Policies judge, and the upstream receives,
// the same normalised path, so "/balance/../admin" cannot pass a /balance/* rule.
// nullopt for a path that is not origin-form, climbs above the root, or holds an
// escaped slash or backslash (%2F, %5C): those are refused with 400.
std::optional<std::string> normalizePath(std::string_view path);

// The request facts for authz, from the stream and the head.
authz::HttpRequestFacts requestFacts(const StreamFacts& stream, const http1::MessageHead& head,
                                     const std::string& normalizedPath, const AuthnResult& authn = {});

}  // namespace warren::waypoint
