#pragma once
// warren-agent's probe endpoint (--health-address), for the kubelet's liveness and
// readiness probes:
//
//   GET /healthz/live    200 "alive" while the process serves HTTP at all
//   GET /healthz/ready   200 "ready" once the agent enrolls pods and serves the CNI
//                        socket; 503 with the reason before (e.g. the Kubernetes
//                        API's first list is still missing)
//
// Liveness never depends on the API: an agent waiting for RBAC to be fixed is not
// wedged, and restarting it would not help.

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "telemetry/http_server.h"

namespace warren::agent {

struct HealthCallbacks {
  std::function<bool()> ready;
  std::function<std::string()> notReadyReason;  // the 503's body
};

// Binds `address` ("0.0.0.0:15022") and serves the two routes on their own thread.
Result<std::unique_ptr<telemetry::HttpServer>> startHealthServer(const std::string& address, HealthCallbacks callbacks);

}  // namespace warren::agent
