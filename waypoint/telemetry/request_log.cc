#include "waypoint/telemetry/request_log.h"

#include <cstdio>
#include <ctime>

#include <spdlog/spdlog.h>

#include "common/json_line.h"

namespace warren::waypoint::telemetry {
namespace {

// "2024-05-01T12:00:00.123Z": Envoy's default START_TIME precision, in UTC.
std::string formatTime(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof(out), "%.*s.%03dZ", static_cast<int>(n), buf, millis);
  return out;
}

}  // namespace

std::string formatRequest(const RequestRecord& rec) {
  // Envoy's field names; paths, user agents and request ids are the client's bytes,
  // which JsonLine writes as valid UTF-8 whatever they are.
  JsonLine j;
  j.field("start_time", formatTime(rec.startTime))
      .field("method", rec.method)
      .field("path", rec.path)
      .field("authority", rec.authority)
      .field("protocol", rec.httpVersion)
      .field("request_protocol", rec.requestProtocol)
      .field("response_code", rec.responseCode)
      .field("response_flags", rec.responseFlags);
  if (!rec.responseCodeDetails.empty()) j.field("response_code_details", rec.responseCodeDetails);
  if (rec.grpcStatus) j.field("grpc_status", *rec.grpcStatus);
  j.field("bytes_received", rec.requestBytes)
      .field("bytes_sent", rec.responseBytes)
      .field("duration", std::chrono::duration_cast<std::chrono::milliseconds>(rec.duration).count())
      .field("upstream_host", rec.upstreamHost)
      .field("user_agent", rec.userAgent)
      .field("request_id", rec.requestId)
      .field("connection_security_policy", rec.connectionSecurityPolicy)
      .field("source_principal", rec.source.principal)
      .field("source_workload", rec.source.workload)
      .field("source_namespace", rec.source.workloadNamespace)
      .field("destination_principal", rec.destination.principal)
      .field("destination_workload", rec.destination.workload)
      .field("destination_namespace", rec.destination.workloadNamespace)
      .field("destination_service", rec.destinationService)
      .field("destination_port", rec.destinationPort);
  if (!rec.requestPrincipal.empty()) j.field("request_principal", rec.requestPrincipal);
  if (!rec.jwtFailure.empty()) j.field("jwt_failure", rec.jwtFailure);
  if (!rec.policy.empty()) j.field("policy", rec.policy);
  if (!rec.policyReason.empty()) j.field("policy_reason", rec.policyReason);
  return j.finish();
}

void logRequest(const RequestRecord& rec) { spdlog::info("access {}", formatRequest(rec)); }

}  // namespace warren::waypoint::telemetry
