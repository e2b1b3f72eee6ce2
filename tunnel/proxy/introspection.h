#pragma once
// What the tunnel shows about itself on its admin and metrics ports: the config
// dump (state, certificates, counters) and the tunnel's own Prometheus counters.
// Everything read here is thread-safe: the HTTP threads call it while the loop runs.

#include <nlohmann/json.hpp>

#include "identity/identity_manager.h"
#include "state/cluster_state.h"
#include "telemetry/http_server.h"
#include "telemetry/metrics.h"
#include "tunnel/proxy/proxy.h"

namespace warren::proxy {

// {"state": {...}, "certificates": [...], "counters": {...}}; `extra` members
// (e.g. the xDS client's status) are merged in at the top level.
nlohmann::json configDump(const state::StateStore& state, const identity::IdentityManager& identity,
                          const ProxyCounters& counters, nlohmann::json extra = nlohmann::json::object());

// Admin routes over the data path: GET /connections (read on the loop, answered
// within 2 s or 503), GET /explain?src=SRC&dst=IP:PORT (warrenctl explain) and
// GET /assert with a segmentation spec as the body (warrenctl audit assert --live).
void addTunnelRoutes(telemetry::HttpServer& admin, io::EventLoop& loop, const Proxy& proxy,
                     const state::StateStore& state);

// warren_* counters and gauges read live from the proxy and identity counters.
Status registerTunnelMetrics(telemetry::TcpMetrics& metrics, const Proxy& proxy,
                             const identity::IdentityManager& identity);

}  // namespace warren::proxy
