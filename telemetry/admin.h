#pragma once
// The tunnel's three telemetry ports, laid out as Istio's ztunnel lays them out:
//
//   metrics    0.0.0.0:15020    GET /metrics, GET /stats/prometheus  (Prometheus text)
//   readiness  0.0.0.0:15021    GET /healthz/ready                   (200 "ready" | 503 reason)
//   admin      127.0.0.1:15000  GET /                  the endpoint list
//                               GET /config_dump       JSON from AdminCallbacks::configDump
//                               GET /logging           {"level": "info"}
//                               POST /logging?level=X  sets spdlog's level (trace|debug|info|warn|error|off);
//                                                      needs "Authorization: Bearer <admin token>"
//
// The admin port can change the log level and dump configuration, so it listens on
// localhost only by default, like ztunnel's. Loopback is not root-only on a node,
// though, so every request but a GET must carry the admin token that start() writes
// to `adminTokenFile` (mode 0600); see admin_auth.h. Refusals are 401/403 and counted
// in warren_admin_requests_unauthorized_total.
//
// All three servers cap connections per source IP (maxConnectionsPerSource) as well
// as in total, so a flood of slow clients from one pod cannot lock Prometheus or the
// kubelet out of 15020/15021; refusals are counted in
// warren_telemetry_connections_refused_total.
//
// Usage:
//   telemetry::TcpMetrics metrics;                    // outlives the Telemetry
//   auto t = telemetry::start(options, {.ready = ..., .notReadyReason = ..., .configDump = ...}, metrics);
//   if (!t) return t.error();                         // "metrics server: bind 0.0.0.0:15020: Address in use"
//   (*t)->admin().route("GET", "/connections", handler);  // more admin routes, any time
//
// Callbacks run on the servers' threads (not the data path's loop): they must be
// thread-safe and quick.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/common.h>
#include <nlohmann/json.hpp>

#include "common/result.h"
#include "telemetry/http_server.h"
#include "telemetry/metrics.h"

namespace warren::telemetry {

struct AdminOptions {
  std::string metricsAddress = "0.0.0.0:15020";
  std::string readinessAddress = "0.0.0.0:15021";
  std::string adminAddress = "127.0.0.1:15000";
  // Per-connection deadline on all three servers (HttpServerOptions::deadline).
  std::chrono::milliseconds requestDeadline{5000};
  // Concurrent connections per source IP on each server (HttpServerOptions).
  size_t maxConnectionsPerSource = 8;
  // Where start() writes a fresh admin token (mode 0600). Empty, or a file that
  // cannot be written: every mutating admin request is refused (403), reads still work.
  // The daemons default it to kDefaultAdminTokenFile; tests use a temporary path.
  std::string adminTokenFile = {};
  // Bind the three ports with SO_REUSEPORT, so that a new tunnel can start beside
  // the old one on a hostNetwork node (upgrades); the old one closes its ports when
  // it starts draining, and the new one then answers alone.
  bool reusePort = false;
};

inline constexpr const char* kDefaultAdminTokenFile = "/run/warren/admin-token";

struct AdminCallbacks {
  // True when the tunnel can serve traffic. Unset: never ready.
  std::function<bool()> ready;
  // Why it is not ready, for the 503 body ("waiting for certificates"). Unset: "not ready".
  std::function<std::string()> notReadyReason;
  // The configuration as the tunnel sees it. Unset: {}.
  std::function<nlohmann::json()> configDump;
};

class Telemetry {
 public:
  Telemetry(std::unique_ptr<HttpServer> metrics, std::unique_ptr<HttpServer> readiness,
            std::unique_ptr<HttpServer> admin);
  // Stops the three servers (each joins its thread).
  ~Telemetry() = default;

  HttpServer& metrics() { return *metrics_; }
  HttpServer& readiness() { return *readiness_; }
  // Add admin routes here; GET / lists them automatically.
  HttpServer& admin() { return *admin_; }

 private:
  std::unique_ptr<HttpServer> metrics_, readiness_, admin_;
};

// Binds the three ports, registers the routes and starts serving. Any failure (a
// malformed or busy address) is an error naming the server and the address; nothing
// is left running then. `metrics` must outlive the returned Telemetry.
Result<std::unique_ptr<Telemetry>> start(const AdminOptions& options, AdminCallbacks callbacks, TcpMetrics& metrics);

// The admin routes' logging helpers, exposed for tests and future callers.
// Parses trace|debug|info|warn|error|off (also "warning", "critical"); nullopt otherwise.
std::optional<spdlog::level::level_enum> parseLogLevel(std::string_view text);
// A level as one of the names above ("warn", not spdlog's "warning").
std::string logLevelName(spdlog::level::level_enum level);

}  // namespace warren::telemetry
