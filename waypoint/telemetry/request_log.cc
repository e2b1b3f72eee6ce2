#include "waypoint/telemetry/request_log.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

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
  nlohmann::json j = {
      {"start_time", formatTime(rec.startTime)},
      {"method", rec.method},
      {"path", rec.path},
      {"authority", rec.authority},
      {"protocol", rec.httpVersion},
      {"request_protocol", rec.requestProtocol},
      {"response_code", rec.responseCode},
      {"response_flags", rec.responseFlags},
      {"bytes_received", rec.requestBytes},
      {"bytes_sent", rec.responseBytes},
      {"duration", std::chrono::duration_cast<std::chrono::milliseconds>(rec.duration).count()},
      {"upstream_host", rec.upstreamHost},
      {"user_agent", rec.userAgent},
      {"request_id", rec.requestId},
      {"connection_security_policy", rec.connectionSecurityPolicy},
      {"source_principal", rec.source.principal},
      {"source_workload", rec.source.workload},
      {"source_namespace", rec.source.workloadNamespace},
      {"destination_principal", rec.destination.principal},
      {"destination_workload", rec.destination.workload},
      {"destination_namespace", rec.destination.workloadNamespace},
      {"destination_service", rec.destinationService},
      {"destination_port", rec.destinationPort},
  };
  if (!rec.responseCodeDetails.empty()) j["response_code_details"] = rec.responseCodeDetails;
  if (rec.grpcStatus) j["grpc_status"] = *rec.grpcStatus;
  if (!rec.policy.empty()) j["policy"] = rec.policy;
  if (!rec.policyReason.empty()) j["policy_reason"] = rec.policyReason;
  if (!rec.requestPrincipal.empty()) j["request_principal"] = rec.requestPrincipal;
  if (!rec.jwtFailure.empty()) j["jwt_failure"] = rec.jwtFailure;
  // Paths, user agents and request ids are the client's bytes: never throw on them.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void logRequest(const RequestRecord& rec) { spdlog::info("access {}", formatRequest(rec)); }

}  // namespace warren::waypoint::telemetry
