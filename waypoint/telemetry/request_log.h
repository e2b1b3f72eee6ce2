#pragma once
// The waypoint's access log: one JSON object per HTTP request, in the spirit of
// Envoy's and Istio's access-log fields, logged like the tunnel's per-connection line
// (tunnel/proxy/access_log.h) as "access {...}".
//
// Fields, always present:
//   start_time (UTC, "2024-05-01T12:00:00.123Z"), method, path, authority, protocol
//   (HTTP version, "HTTP/1.1"), request_protocol ("http" | "grpc"), response_code,
//   response_flags, bytes_received (request headers + body), bytes_sent (response
//   headers + body), duration (milliseconds, an integer like Envoy's %DURATION%),
//   upstream_host, user_agent, request_id, connection_security_policy,
//   source_principal, source_workload, source_namespace, destination_principal,
//   destination_workload, destination_namespace, destination_service, destination_port
// Present only when known:
//   response_code_details, grpc_status, policy, policy_reason, request_principal
// Unknown strings in the always-present fields are "" (the waypoint decides what it
// knows); nothing is rendered as "unknown" here.
//
// Request fields come from the wire: bytes that are not valid UTF-8 are replaced by
// U+FFFD instead of failing, and JSON escaping keeps a line a line.

#include <string>

#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint::telemetry {

std::string formatRequest(const RequestRecord& rec);  // one JSON object, no newline
void logRequest(const RequestRecord& rec);            // spdlog::info("access {}", formatRequest(rec))

}  // namespace warren::waypoint::telemetry
