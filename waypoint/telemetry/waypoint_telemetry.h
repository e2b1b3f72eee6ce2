#pragma once
// The waypoint's telemetry: each finished request becomes one access-log line and
// Istio's request metrics (reporter="waypoint") on the metrics port.

#include "waypoint/proxy/http1_session.h"
#include "ztunnel/telemetry/admin.h"
#include "ztunnel/telemetry/metrics.h"

namespace warren::waypoint {

class WaypointTelemetry {
 public:
  // Loop thread.
  void record(const RequestOutcome& outcome);
  // What telemetry::start() serves on /metrics; the request metrics are added to it.
  telemetry::TcpMetrics& tcpMetrics() { return tcp_; }
  void attach(telemetry::Telemetry& t);

 private:
  telemetry::TcpMetrics tcp_;
};

}  // namespace warren::waypoint
