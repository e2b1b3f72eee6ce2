#include "agent/health.h"

namespace warren::agent {

Result<std::unique_ptr<telemetry::HttpServer>> startHealthServer(const std::string& address,
                                                                 HealthCallbacks callbacks) {
  // SO_REUSEPORT: a DaemonSet surge starts the new pod's agent beside the old one,
  // both in the node's netns on the same port (README "Hitless upgrade").
  telemetry::HttpServerOptions options;
  options.name = "health";
  options.address = address;
  options.reusePort = true;
  auto server = telemetry::HttpServer::create(std::move(options));
  if (!server) return server.error();
  (*server)->route("GET", "/healthz/live",
                   [](const telemetry::HttpRequest&) { return telemetry::HttpResponse::text(200, "alive"); });
  (*server)->route("GET", "/healthz/ready", [cb = std::move(callbacks)](const telemetry::HttpRequest&) {
    if (cb.ready && cb.ready()) return telemetry::HttpResponse::text(200, "ready");
    std::string why = cb.notReadyReason ? cb.notReadyReason() : "";
    return telemetry::HttpResponse::text(503, why.empty() ? "not ready" : why);
  });
  if (auto st = (*server)->start(); !st) return st.error();
  return std::move(*server);
}

}  // namespace warren::agent
