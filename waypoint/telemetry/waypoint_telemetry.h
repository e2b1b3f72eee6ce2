#pragma once
// The waypoint's telemetry glue: each finished request (the session's
// RequestOutcome) becomes Istio's request metrics (reporter="waypoint"), one
// JSON access-log line and, with --audit-dir, one audit record, all from one
// RequestRecord with the workloads' labels looked up in the cluster state.

#include "audit/audit_writer.h"
#include "audit/policy_digests.h"
#include "state/cluster_state.h"
#include "telemetry/admin.h"
#include "telemetry/metrics.h"
#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/waypoint_server.h"
#include "waypoint/telemetry/request_metrics.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

// Pure: what a finished request reports, Istio's labels filled from the state.
telemetry::RequestRecord toRecord(const RequestOutcome& outcome, const state::ClusterState& state);

class WaypointTelemetry {
 public:
  // Loop thread. `state`: the current one.
  void record(const RequestOutcome& outcome, const state::ClusterStatePtr& state);
  // Every request is also written to `audit` (null: off; must outlive this
  // object's records) as decided by the waypoint of Gateway `gateway` ("ns/name").
  void enableAudit(audit::AuditWriter* audit, std::string gateway);
  // What telemetry::start() serves; attach() adds the request metrics to /metrics.
  warren::telemetry::TcpMetrics& tcpMetrics() { return tcp_; }
  void attach(warren::telemetry::Telemetry& t);
  // The server's own counters (admission on 15008) as warren_waypoint_* metrics;
  // `c` must outlive this object's metrics being served.
  Status registerServerMetrics(const WaypointCounters& c);
  const telemetry::RequestMetrics& requests() const { return requests_; }

 private:
  warren::telemetry::TcpMetrics tcp_;
  telemetry::RequestMetrics requests_;
  audit::AuditWriter* audit_ = nullptr;
  std::string gateway_;
  audit::PolicyDigests policyDigests_;
};

}  // namespace warren::waypoint
