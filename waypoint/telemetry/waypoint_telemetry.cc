#include "waypoint/telemetry/waypoint_telemetry.h"

#include "io/tcp.h"
#include "waypoint/telemetry/audit_request.h"
#include "waypoint/telemetry/request_log.h"

namespace warren::waypoint {

namespace {

// The label keys as strings made once: the labels map has no lookup by a char
// pointer, so a literal key built a std::string per lookup, and those longer than
// the short-string buffer a heap allocation each (8 of the waypoint's ~94 per
// request, counted with a uprobe on malloc under warren-waypoint-bench).
const std::string kApp = "app", kAppName = "app.kubernetes.io/name", kVersion = "version",
                  kAppVersion = "app.kubernetes.io/version", kCanonicalName = "service.istio.io/canonical-name",
                  kCanonicalRevision = "service.istio.io/canonical-revision";

std::string labelOf(const state::Workload& w, std::initializer_list<const std::string*> keys) {
  for (const std::string* k : keys)
    if (auto it = w.labels.find(*k); it != w.labels.end()) return it->second;
  return {};
}

telemetry::Peer peerOf(const state::Workload* w, std::string principal) {
  telemetry::Peer p;
  p.principal = std::move(principal);
  p.cluster = "Kubernetes";
  if (!w) return p;
  p.workload = w->name;
  p.workloadNamespace = w->ns;
  p.app = labelOf(*w, {&kApp, &kAppName});
  p.version = labelOf(*w, {&kVersion, &kAppVersion});
  p.canonicalService = labelOf(*w, {&kCanonicalName});
  if (p.canonicalService.empty()) p.canonicalService = p.app.empty() ? w->name : p.app;
  p.canonicalRevision = labelOf(*w, {&kCanonicalRevision});
  if (p.canonicalRevision.empty()) p.canonicalRevision = p.version.empty() ? "latest" : p.version;
  return p;
}

}  // namespace

telemetry::RequestRecord toRecord(const RequestOutcome& o, const state::ClusterState& st) {
  telemetry::RequestRecord r;
  r.startTime = o.start;
  r.duration = o.duration;
  r.method = o.method;
  r.path = o.path;
  r.authority = o.authority;
  r.httpVersion = o.httpVersion;
  r.requestProtocol = o.protocol;
  r.userAgent = o.userAgent;
  r.requestId = o.requestId;
  r.requestBytes = o.requestBytes;
  r.responseBytes = o.responseBytes;
  r.responseCode = o.status;
  r.grpcStatus = o.grpcStatus;
  // Envoy reports an RBAC denial with no response flag and the matched policy in
  // the response code details; Istio's dashboards expect exactly that.
  if (o.plan.authn.token) r.requestPrincipal = o.plan.authn.token->principal;
  if (o.plan.authn.kind == AuthnResult::Kind::Failed) {
    // Envoy's jwt_authn: the failure's message, spaces as underscores.
    r.jwtFailure = o.plan.authn.failure;
    std::string details = o.plan.authn.body;
    for (char& c : details)
      if (c == ' ') c = '_';
    r.responseFlags = telemetry::kFlagNone;
    r.responseCodeDetails = "jwt_authn_access_denied{" + details + "}";
  } else if (o.responseFlags == "RBAC") {
    r.responseFlags = telemetry::kFlagNone;
    r.responseCodeDetails = telemetry::rbacDeniedDetails(o.plan.decision.policy);
  } else {
    r.responseFlags = o.responseFlags.empty() ? telemetry::kFlagNone : o.responseFlags;
    r.responseCodeDetails = o.responseFlags == "-" && o.status ? "via_upstream" : "";
  }
  r.upstreamHost = o.upstreamHost;
  r.connectionSecurityPolicy = o.stream.peerIdentity ? "mutual_tls" : "none";
  r.source = peerOf(st.findByIp(o.stream.peerIp), o.stream.peerIdentity ? o.stream.peerIdentity->uri() : "");
  const state::Workload* dst = st.findByIp(io::formatIp(o.plan.route.target));
  r.destination = peerOf(dst, o.plan.dstPrincipal);
  r.destinationService = o.plan.dstServiceHost;
  r.destinationServiceName = o.plan.dstServiceName;
  r.destinationServiceNamespace = o.plan.dstServiceNs;
  if (r.destinationService.empty() && dst) {
    // A pod addressed by IP: Istio labels it with the workload's own name.
    r.destinationServiceName = dst->name;
    r.destinationServiceNamespace = dst->ns;
  }
  r.destinationPort = io::portOf(o.stream.destination);
  r.policy = o.plan.decision.policy;
  r.policyReason = o.plan.decision.reason;
  if (o.plan.decidedWith) r.verdict = o.plan.decision.allowed ? "allow" : "deny";
  r.sourceAddress = o.stream.peerIp;
  if (o.stream.tlsVersion) r.tlsVersion = o.stream.tlsVersion;
  if (o.stream.tlsCipher) r.tlsCipher = o.stream.tlsCipher;
  return r;
}

void WaypointTelemetry::record(const RequestOutcome& outcome, const state::ClusterStatePtr& state) {
  auto rec = toRecord(outcome, *state);
  requests_.record(rec);
  telemetry::logRequest(rec);
  if (!audit_) return;
  // The policy as it was when the request was judged (a request never judged has no policy).
  if (outcome.plan.decidedWith)
    rec.policySha256 = policyDigests_.digestL7(state, *outcome.plan.decidedWith, rec.policy);
  audit_->submit(audit::RecordType::Request, telemetry::requestAuditFields(rec, gateway_));
}

void WaypointTelemetry::enableAudit(audit::AuditWriter* audit, std::string gateway) {
  audit_ = audit;
  gateway_ = std::move(gateway);
}

Status WaypointTelemetry::registerServerMetrics(const WaypointCounters& c) {
  struct Def {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>* value;
  };
  const Def counters[] = {
      {"warren_waypoint_hbone_inbound_over_total_limit_total",
       "HBONE connections reset on arrival: the waypoint had --hbone-max-inbound open.",
       &c.hboneInboundRefused.overTotal},
      {"warren_waypoint_hbone_inbound_over_source_limit_total",
       "HBONE connections reset on arrival: their source IP had --hbone-max-inbound-per-source open.",
       &c.hboneInboundRefused.overSource},
  };
  for (const auto& d : counters) {
    const auto* v = d.value;
    if (auto st = tcp_.addCounter(d.name, d.help, [v] { return static_cast<double>(v->load()); }); !st) return st;
  }
  return okStatus();
}

void WaypointTelemetry::attach(warren::telemetry::Telemetry& t) {
  telemetry::installMetricsRoutes(t.metrics(), tcp_, requests_);
}

}  // namespace warren::waypoint
