#include "tunnel/proxy/introspection.h"

#include <future>
#include <optional>

#include "hbone/receive_budget.h"
#include "io/accept.h"
#include "state/state_json.h"
#include "tunnel/proxy/explain.h"
#include "tunnel/proxy/segmentation_live.h"

namespace warren::proxy {
namespace {

int64_t unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

const char* stateName(hbone::H2Connection::State s) {
  switch (s) {
    case hbone::H2Connection::State::Handshaking: return "handshaking";
    case hbone::H2Connection::State::Ready: return "ready";
    case hbone::H2Connection::State::Closing: return "closing";
    case hbone::H2Connection::State::Closed: return "closed";
  }
  return "?";
}

nlohmann::json connectionJson(const hbone::H2Connection& c, const char* direction) {
  auto streams = nlohmann::json::array();
  for (const auto& s : c.streamInfo())
    streams.push_back({{"id", s.id},
                       {"authority", s.authority},
                       {"status", s.status},
                       {"bytes_to_peer", s.bytesToPeer},
                       {"bytes_from_peer", s.bytesFromPeer},
                       {"age_ms", millis(s.age)}});
  return {{"id", c.connectionId()},        {"direction", direction},
          {"peer", c.peerLabel()},         {"peer_identity", c.peerIdentity() ? c.peerIdentity()->uri() : ""},
          {"state", stateName(c.state())}, {"streams", streams}};
}

}  // namespace

nlohmann::json Proxy::connectionsJson() const {
  auto hboneConns = nlohmann::json::array();
  for (const auto& c : pool_.connections()) hboneConns.push_back(connectionJson(*c, "outbound"));
  for (const auto& [id, c] : inbound_) hboneConns.push_back(connectionJson(*c, "inbound"));
  auto authorized = nlohmann::json::array();
  for (const auto& [id, r] : revocable_)
    authorized.push_back(
        {{"pod", r.pod->displayName()},
         {"src_ip", r.facts.srcIp},
         {"src_identity", r.facts.srcIdentity ? r.facts.srcIdentity->uri() : ""},
         {"dst", (r.facts.dstIp.find(':') == std::string::npos ? r.facts.dstIp : "[" + r.facts.dstIp + "]") + ":" +
                     std::to_string(r.facts.dstPort)}});
  return {{"hbone", hboneConns}, {"inbound_authorized", authorized}, {"active", active_.load()}};
}

nlohmann::json configDump(const state::StateStore& state, const identity::IdentityManager& identity,
                          const ProxyCounters& c, nlohmann::json extra) {
  auto certs = nlohmann::json::array();
  const auto now = std::chrono::system_clock::now();
  for (const auto& cert : identity.certificates()) {
    nlohmann::json j = {
        {"identity", cert->id.uri()},
        {"serial", cert->serialHex},
        {"not_before", iso8601(cert->notBefore)},
        {"not_after", iso8601(cert->notAfter)},
        {"expires_in_seconds", unixSeconds(cert->notAfter) - unixSeconds(now)},
    };
    if (auto due = identity.renewalDue(cert->id)) {
      j["renewal_due"] = iso8601(*due);
      j["renewal_in_seconds"] = unixSeconds(*due) - unixSeconds(now);
    }
    certs.push_back(std::move(j));
  }
  nlohmann::json counters = {
      {"outbound_opened", c.outboundOpened.load()},
      {"inbound_opened", c.inboundOpened.load()},
      {"refused", c.refused.load()},
      {"upstream_failed", c.upstreamFailed.load()},
      {"closed", c.closed.load()},
      {"hbone_outbound", c.hboneOutbound.load()},
      {"passthrough", c.passthrough.load()},
      {"hbone_inbound", c.hboneInbound.load()},
      {"hbone_bad_requests", c.hboneBadRequests.load()},
      {"identity_refusals", c.identityRefusals.load()},
      {"policy_denied", c.policyDenied.load()},
      {"policy_revoked", c.policyRevoked.load()},
      {"original_source_fallbacks", c.originalSourceFallbacks.load()},
      {"app_dials_cancelled", c.appDialsCancelled.load()},
      {"revalidations_judged", c.revalidationsJudged.load()},
      {"revalidations_skipped", c.revalidationsSkipped.load()},
  };
  nlohmann::json dump = {{"state", state::toJson(*state.get())}, {"certificates", certs}, {"counters", counters}};
  for (auto& [k, v] : extra.items()) dump[k] = v;
  return dump;
}

void addTunnelRoutes(telemetry::HttpServer& admin, io::EventLoop& loop, const Proxy& proxy,
                     const state::StateStore& state) {
  using telemetry::HttpRequest;
  using telemetry::HttpResponse;
  auto json = [](int status, const nlohmann::json& body) {
    HttpResponse r;
    r.status = status;
    r.contentType = "application/json";
    r.body = body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    return r;
  };
  admin.route("GET", "/connections", [&loop, &proxy, json](const HttpRequest&) {
    // The proxy's maps belong to the loop thread: read them there. The promise is
    // shared so a late answer after our timeout writes into something alive.
    auto answer = std::make_shared<std::promise<nlohmann::json>>();
    auto f = answer->get_future();
    loop.post([answer, &proxy] { answer->set_value(proxy.connectionsJson()); });
    if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready)
      return HttpResponse::text(503, "the data path did not answer within 2 s");
    return json(200, f.get());
  });
  admin.route("GET", "/explain", [&state, json](const HttpRequest& req) {
    auto src = req.query.find("src");
    auto dst = req.query.find("dst");
    if (src == req.query.end() || dst == req.query.end())
      return HttpResponse::text(400, "usage: /explain?src=NS/NAME|IP&dst=IP:PORT");
    // A request to judge at the waypoints (warrenctl explain --request/--jwt).
    std::optional<RequestProbe> probe;
    if (auto m = req.query.find("method"); m != req.query.end()) {
      probe.emplace();
      probe->method = m->second;
      if (auto p = req.query.find("path"); p != req.query.end()) probe->path = p->second;
      if (auto t = req.query.find("jwt"); t != req.query.end()) probe->jwt = t->second;
    }
    auto result = explainConnection(*state.get(), src->second, dst->second, probe ? &*probe : nullptr);
    if (!result) return HttpResponse::text(400, result.error().message);
    return json(200, *result);
  });
  // A GET, though the spec rides in the body: it changes nothing, so it needs no
  // admin token (the gate lets every GET through), and a spec outgrows the 8 KiB
  // request line a query string would have to fit in.
  admin.route("GET", "/assert", [&state, json](const HttpRequest& req) {
    auto spec = audit::parseSegmentationSpec(req.body);
    if (!spec) return HttpResponse::text(400, "spec (the request body, YAML): " + spec.error().message);
    return json(200, toJson(checkSegmentationLive(*state.get(), *spec)));
  });
}

Status registerTunnelMetrics(telemetry::TcpMetrics& m, const Proxy& proxy, const identity::IdentityManager& identity) {
  const ProxyCounters& c = proxy.counters();
  struct Def {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>* value;
  };
  const Def counters[] = {
      {"warren_tunnel_policy_denied_total", "Inbound connections refused by authorization policy.", &c.policyDenied},
      {"warren_tunnel_policy_revoked_total", "Live inbound connections closed because a policy change denies them.",
       &c.policyRevoked},
      {"warren_tunnel_policy_rejudged_total",
       "Live inbound connections judged again after a state change that touched their destination or its policies.",
       &c.revalidationsJudged},
      {"warren_tunnel_policy_rejudge_skipped_total",
       "Live inbound connections not judged again after a state change: nothing their decision reads changed.",
       &c.revalidationsSkipped},
      {"warren_tunnel_identity_refusals_total", "Connections refused for lack of a valid workload certificate.",
       &c.identityRefusals},
      {"warren_tunnel_refused_total", "Captured connections refused before relaying.", &c.refused},
      {"warren_tunnel_hbone_bad_requests_total", "HBONE CONNECT requests answered 400.", &c.hboneBadRequests},
      {"warren_tunnel_original_source_fallbacks_total",
       "Inbound connections the app saw from the pod's own address instead of the client's.",
       &c.originalSourceFallbacks},
      {"warren_tunnel_app_dials_cancelled_total",
       "Inbound connects to an app abandoned because the HBONE client reset the stream before the app answered.",
       &c.appDialsCancelled},
      {"warren_tunnel_hbone_inbound_over_total_limit_total",
       "Inbound HBONE connections reset on arrival: the tunnel had --hbone-max-inbound open.",
       &c.hboneInboundRefused.overTotal},
      {"warren_tunnel_hbone_inbound_over_source_limit_total",
       "Inbound HBONE connections reset on arrival: their source IP had --hbone-max-inbound-per-source open.",
       &c.hboneInboundRefused.overSource},
      {"warren_tunnel_plaintext_inbound_over_total_limit_total",
       "Inbound plaintext connections reset on arrival: the tunnel had --plaintext-max-inbound open.",
       &c.plaintextInboundOverTotal},
      {"warren_tunnel_plaintext_inbound_over_pod_limit_total",
       "Inbound plaintext connections reset on arrival: their pod had --plaintext-max-inbound-per-pod open.",
       &c.plaintextInboundOverPod},
      {"warren_tunnel_outbound_over_total_limit_total",
       "Captured outbound connections reset on arrival: the tunnel had --max-outbound open.", &c.outboundOverTotal},
      {"warren_tunnel_overload_shed_total",
       "New connections reset on arrival because the tunnel was overloaded (--overload-fd-percent, "
       "--overload-held-mb).",
       &c.overloadShed},
      {"warren_identity_renewal_failures_total", "Failed certificate issues and renewals.",
       &identity.counters().failures},
  };
  for (const auto& d : counters) {
    const auto* v = d.value;
    if (auto st = m.addCounter(d.name, d.help, [v] { return static_cast<double>(v->load()); }); !st) return st;
  }
  if (auto st = m.addCounter("warren_tunnel_connections_shed_total",
                             "Connections reset on arrival because the tunnel was out of file descriptors.",
                             [] { return static_cast<double>(io::shedConnections()); });
      !st)
    return st;
  if (auto st = m.addGauge("warren_tunnel_overloaded",
                           "1 while the tunnel sheds new connections (past an overload watermark at the last "
                           "sample), else 0.",
                           [&c] { return c.overloaded.load() ? 1.0 : 0.0; });
      !st)
    return st;
  // The HBONE receive budget (hbone/receive_budget.h): bytes received and not yet
  // delivered to apps, and how often senders were held back because it was spent.
  const hbone::ReceiveBudget& budget = hbone::ReceiveBudget::process();
  if (auto st = m.addGauge("warren_tunnel_hbone_receive_buffered_bytes",
                           "HBONE DATA received and not yet taken by the app side, across the process.",
                           [&budget] { return static_cast<double>(budget.held()); });
      !st)
    return st;
  if (auto st = m.addCounter("warren_tunnel_hbone_receive_over_budget_total",
                             "DATA frames received while the receive budget was spent (their connection window "
                             "returned only on delivery).",
                             [&budget] { return static_cast<double>(budget.overBudgetCount()); });
      !st)
    return st;
  return m.addGauge("warren_tunnel_active_connections", "Connections being relayed now.",
                    [&proxy] { return static_cast<double>(proxy.activeConnections()); });
}

}  // namespace warren::proxy
