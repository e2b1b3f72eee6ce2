#pragma once
// Everything the waypoint knows about one HTTP request once it is over: the input of
// RequestMetrics::record (Istio's request metrics) and formatRequest/logRequest (the
// access log). Filled by the waypoint's loop thread; plain data, copyable.
//
// Empty strings mean "not known". Metrics render them as "unknown", as Istio does
// (except grpc_response_status, which Istio leaves empty for plain HTTP); the access
// log leaves optional fields out.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace warren::waypoint::telemetry {

// Envoy's response flags (its %RESPONSE_FLAGS% short strings), the ones a waypoint can
// produce. Several may be joined with ',' in Envoy's order; the library takes whatever
// string the waypoint sets.
//
// Policy denials have no flag: Envoy's RBAC filter sets none, so Istio reports a 403
// from an AuthorizationPolicy with response_flags "-" and tells it apart from the
// application's own 403 only in response_code_details
// ("rbac_access_denied_matched_policy[...]", see rbacDeniedDetails) — envoyproxy/envoy
// issue 21197, istio/istio issue 47622. Put the deciding policy in `policy` /
// `policyReason` and the details in `responseCodeDetails`; the access log carries them.
inline constexpr const char* kFlagNone = "-";
inline constexpr const char* kFlagDownstreamProtocolError = "DPE";         // 400: the request did not parse
inline constexpr const char* kFlagUpstreamConnectionFailure = "UF";        // 503: could not connect upstream
inline constexpr const char* kFlagUpstreamConnectionTermination = "UC";    // 503: upstream closed mid-request
inline constexpr const char* kFlagUpstreamRemoteReset = "UR";              // 503: upstream reset the stream
inline constexpr const char* kFlagUpstreamRequestTimeout = "UT";           // 504
inline constexpr const char* kFlagNoHealthyUpstream = "UH";                // 503: no endpoint to pick
inline constexpr const char* kFlagNoRouteFound = "NR";                     // 404: no route / unknown service
inline constexpr const char* kFlagUpstreamRetryLimitExceeded = "URX";      // retries exhausted
inline constexpr const char* kFlagDownstreamConnectionTermination = "DC";  // the client went away
inline constexpr const char* kFlagStreamIdleTimeout = "SI";

// Envoy's response_code_details for an RBAC denial: "rbac_access_denied_matched_policy[P]",
// P = "none" when the request was denied because no ALLOW policy matched.
inline std::string rbacDeniedDetails(const std::string& policy) {
  return "rbac_access_denied_matched_policy[" + (policy.empty() ? std::string("none") : policy) + "]";
}

// One side of the request, in Istio's terms.
struct Peer {
  std::string principal;  // SPIFFE URI, "spiffe://cluster.local/ns/X/sa/Y"
  std::string workload;   // the workload name ("productpage-v1")
  std::string workloadNamespace;
  std::string app;                // the app label ("app" / "app.kubernetes.io/name")
  std::string version;            // the version label
  std::string cluster;            // the cluster id ("Kubernetes" is Istio's default)
  std::string canonicalService;   // service.istio.io/canonical-name, else app, else workload
  std::string canonicalRevision;  // service.istio.io/canonical-revision, else version, else "latest"
};

struct RequestRecord {
  // --- The request ---
  std::chrono::system_clock::time_point startTime{};
  std::chrono::steady_clock::duration duration{};  // first request byte to last response byte
  std::string method;                              // "GET"
  std::string path;                                // the request target as received
  std::string authority;                           // Host / :authority
  std::string httpVersion;                         // "HTTP/1.1" | "HTTP/2" (Envoy's %PROTOCOL%)
  std::string requestProtocol = "http";            // Istio's request_protocol: "http" | "grpc"
  std::string userAgent;
  std::string requestId;         // x-request-id, when the request had one
  std::string requestPrincipal;  // JWT "iss/sub", when a token was validated
  std::string jwtFailure;        // why a token was refused (401): "expired", ...
  uint64_t requestBytes = 0;     // headers + body, as received
  uint64_t responseBytes = 0;    // headers + body, as sent downstream

  // --- The response ---
  int responseCode = 0;                   // 0: no response was sent (client went away)
  std::optional<int> grpcStatus;          // grpc-status, for gRPC requests that got one
  std::string responseFlags = kFlagNone;  // see the kFlag* constants
  std::string responseCodeDetails;        // Envoy-style: "via_upstream", rbacDeniedDetails(...)
  std::string upstreamHost;               // "10.1.2.3:8080", the endpoint that answered

  // --- Who and where ---
  std::string connectionSecurityPolicy = "mutual_tls";  // "mutual_tls" | "none"
  Peer source;
  Peer destination;
  std::string destinationService;           // "reviews.default.svc.cluster.local"
  std::string destinationServiceName;       // "reviews"
  std::string destinationServiceNamespace;  // "default"
  uint16_t destinationPort = 0;

  // --- Authorization ---
  std::string policy;        // the deciding AuthorizationPolicy ("ns/name"), "" when none decided
  std::string policyReason;  // why it decided so
  // allow | deny (authentication or policy refused it: 401, 403, 400 for a path
  // that cannot be normalised) | none (never judged: the request did not parse)
  std::string verdict = "none";

  // --- For the audit log (README "Audit evidence") ---
  std::string sourceAddress;          // the HBONE peer's IP: the client pod
  std::string tlsVersion, tlsCipher;  // the inbound HBONE connection's TLS session ("" none)
  std::string policySha256;           // of the deciding policy as enforced (audit::PolicyDigests)
};

}  // namespace warren::waypoint::telemetry
