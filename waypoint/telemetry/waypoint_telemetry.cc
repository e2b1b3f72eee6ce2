#include "waypoint/telemetry/waypoint_telemetry.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace warren::waypoint {

void WaypointTelemetry::record(const RequestOutcome& o) {
  nlohmann::json j = {{"method", o.method},
                      {"path", o.path},
                      {"authority", o.authority},
                      {"protocol", o.httpVersion},
                      {"request_protocol", o.protocol},
                      {"response_code", o.status},
                      {"response_flags", o.responseFlags},
                      {"source_principal", o.stream.peerIdentity ? o.stream.peerIdentity->uri() : ""},
                      {"destination_principal", o.plan.dstPrincipal},
                      {"destination_service", o.plan.dstServiceHost},
                      {"policy", o.plan.decision.policy},
                      {"policy_reason", o.plan.decision.reason},
                      {"upstream_host", o.upstreamHost},
                      {"duration_ms", std::chrono::duration<double, std::milli>(o.duration).count()}};
  spdlog::info("access {}", j.dump());
}

void WaypointTelemetry::attach(telemetry::Telemetry&) {}

}  // namespace warren::waypoint
