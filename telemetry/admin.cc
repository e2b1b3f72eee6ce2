#include "telemetry/admin.h"

#include <memory>

#include <spdlog/spdlog.h>

#include "telemetry/admin_auth.h"

namespace warren::telemetry {
namespace {

constexpr const char* kValidLevels = "trace, debug, info, warn, error, off";

HttpResponse json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.contentType = "application/json";
  // Replace invalid UTF-8 instead of throwing: a config dump carrying one odd byte
  // (a pod name from a misbehaving source) must still be readable.
  r.body = body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

void addMetricsRoutes(HttpServer& server, TcpMetrics& metrics) {
  auto handler = [&metrics](const HttpRequest&) {
    HttpResponse r;
    r.contentType = "text/plain; version=0.0.4";
    r.body = metrics.render();
    return r;
  };
  server.route("GET", "/metrics", handler);
  server.route("GET", "/stats/prometheus", handler);  // the path Istio's merged scraping uses
}

void addReadinessRoutes(HttpServer& server, const AdminCallbacks& cb) {
  server.route("GET", "/healthz/ready", [ready = cb.ready, reason = cb.notReadyReason](const HttpRequest&) {
    if (ready && ready()) return HttpResponse::text(200, "ready");
    std::string why = reason ? reason() : "";
    return HttpResponse::text(503, why.empty() ? "not ready" : why);
  });
}

void addAdminRoutes(HttpServer& server, const AdminCallbacks& cb) {
  // The index reads the route table at request time, so routes added later appear.
  server.route("GET", "/", [&server](const HttpRequest&) {
    std::string body = "Warren tunnel admin endpoints:\n";
    for (const auto& route : server.routes()) body += "  " + route + "\n";
    HttpResponse r;
    r.body = std::move(body);
    return r;
  });
  server.route("GET", "/config_dump", [dump = cb.configDump](const HttpRequest&) {
    return json(200, dump ? dump() : nlohmann::json::object());
  });
  server.route("GET", "/logging", [](const HttpRequest&) {
    return json(200, {{"level", logLevelName(spdlog::get_level())}});
  });
  server.route("POST", "/logging", [](const HttpRequest& req) {
    auto it = req.query.find("level");
    if (it == req.query.end())
      return HttpResponse::text(400, std::string("missing ?level=; valid levels: ") + kValidLevels);
    auto level = parseLogLevel(it->second);
    if (!level) return HttpResponse::text(400, "unknown level \"" + it->second + "\"; valid levels: " + kValidLevels);
    spdlog::set_level(*level);
    spdlog::info("log level set to {} via the admin port", logLevelName(*level));
    return json(200, {{"level", logLevelName(spdlog::get_level())}});
  });
}

// The admin token: made and stored now, or nullopt (every mutation refused) when it
// cannot be stored, since a token nobody can read would lock the operator out anyway.
std::optional<std::string> provisionAdminToken(const std::string& file) {
  if (file.empty()) {
    spdlog::warn("admin: no admin token file configured; changes through the admin port are disabled");
    return std::nullopt;
  }
  auto token = makeAdminToken();
  Status stored = token ? writeAdminToken(file, *token) : Status(token.error());
  if (!stored) {
    spdlog::error("admin: cannot store the admin token: {}; changes through the admin port are disabled",
                  stored.error().message);
    return std::nullopt;
  }
  spdlog::info("admin: token for changes through the admin port written to {} (root only)", file);
  return std::move(*token);
}

// `token` is filled in after every port is bound and before any serves (a start that
// fails on a busy port must not overwrite the token file of the daemon holding it).
HttpGate adminGate(std::shared_ptr<const std::optional<std::string>> token, std::string tokenFile) {
  return [token = std::move(token),
          tokenFile = std::move(tokenFile)](const HttpRequest& req) -> std::optional<HttpResponse> {
    const AdminVerdict verdict = judgeAdminRequest(req, *token);
    if (verdict == AdminVerdict::kAllowed) return std::nullopt;
    adminRefusals()++;
    spdlog::warn("admin server: refused {} {}: no valid admin token", req.method, req.path);
    return adminRefusal(verdict, req, tokenFile);
  };
}

// Process-wide counters (the daemons run one Telemetry). A second start() on the same
// TcpMetrics finds them registered already, reading the same counters: nothing to add.
void registerTelemetryCounters(TcpMetrics& metrics) {
  (void)metrics.addCounter("warren_admin_requests_unauthorized_total",
                           "Admin requests other than GET refused for a missing or wrong admin token.",
                           [] { return static_cast<double>(adminRefusals().load()); });
  (void)metrics.addCounter("warren_telemetry_connections_refused_total",
                           "Connections to the metrics, readiness and admin ports closed at accept because "
                           "their source or the server had no free slot.",
                           [] {
                             auto& r = refusedConnections();
                             return static_cast<double>(r.serverFull.load() + r.sourceFull.load());
                           });
}

}  // namespace

std::optional<spdlog::level::level_enum> parseLogLevel(std::string_view text) {
  using spdlog::level::level_enum;
  if (text == "trace") return level_enum::trace;
  if (text == "debug") return level_enum::debug;
  if (text == "info") return level_enum::info;
  if (text == "warn" || text == "warning") return level_enum::warn;
  if (text == "error") return level_enum::err;
  if (text == "critical") return level_enum::critical;
  if (text == "off") return level_enum::off;
  return std::nullopt;
}

std::string logLevelName(spdlog::level::level_enum level) {
  using spdlog::level::level_enum;
  switch (level) {
    case level_enum::trace: return "trace";
    case level_enum::debug: return "debug";
    case level_enum::info: return "info";
    case level_enum::warn: return "warn";
    case level_enum::err: return "error";
    case level_enum::critical: return "critical";
    case level_enum::off: return "off";
    default: return "unknown";
  }
}

Telemetry::Telemetry(std::unique_ptr<HttpServer> metrics, std::unique_ptr<HttpServer> readiness,
                     std::unique_ptr<HttpServer> admin)
    : metrics_(std::move(metrics)), readiness_(std::move(readiness)), admin_(std::move(admin)) {}

Result<std::unique_ptr<Telemetry>> start(const AdminOptions& options, AdminCallbacks callbacks, TcpMetrics& metrics) {
  auto make = [&](const char* name, const std::string& address, HttpGate gate = {}) {
    HttpServerOptions o;
    o.name = name;
    o.address = address;
    o.deadline = options.requestDeadline;
    o.maxConnectionsPerSource = options.maxConnectionsPerSource;
    o.gate = std::move(gate);
    o.reusePort = options.reusePort;
    return HttpServer::create(std::move(o));
  };
  // All three bind before any starts: on error, the unique_ptrs close what was bound.
  auto metricsServer = make("metrics", options.metricsAddress);
  if (!metricsServer) return metricsServer.error();
  auto readinessServer = make("readiness", options.readinessAddress);
  if (!readinessServer) return readinessServer.error();
  auto token = std::make_shared<std::optional<std::string>>();
  auto adminServer = make("admin", options.adminAddress, adminGate(token, options.adminTokenFile));
  if (!adminServer) return adminServer.error();
  *token = provisionAdminToken(options.adminTokenFile);
  registerTelemetryCounters(metrics);

  addMetricsRoutes(**metricsServer, metrics);
  addReadinessRoutes(**readinessServer, callbacks);
  addAdminRoutes(**adminServer, callbacks);

  auto telemetry =
      std::make_unique<Telemetry>(std::move(*metricsServer), std::move(*readinessServer), std::move(*adminServer));
  for (HttpServer* s : {&telemetry->metrics(), &telemetry->readiness(), &telemetry->admin()})
    if (auto st = s->start(); !st) return st.error();
  return telemetry;
}

}  // namespace warren::telemetry
