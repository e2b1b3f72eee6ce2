#include "ztunnel/proxy/introspection.h"

#include "ztunnel/state/state_json.h"

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

}  // namespace

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
      {"outbound_opened", c.outboundOpened.load()},   {"inbound_opened", c.inboundOpened.load()},
      {"refused", c.refused.load()},                  {"upstream_failed", c.upstreamFailed.load()},
      {"closed", c.closed.load()},                    {"hbone_outbound", c.hboneOutbound.load()},
      {"passthrough", c.passthrough.load()},          {"hbone_inbound", c.hboneInbound.load()},
      {"hbone_bad_requests", c.hboneBadRequests.load()}, {"identity_refusals", c.identityRefusals.load()},
      {"policy_denied", c.policyDenied.load()},       {"policy_revoked", c.policyRevoked.load()},
  };
  nlohmann::json dump = {{"state", state::toJson(*state.get())}, {"certificates", certs}, {"counters", counters}};
  for (auto& [k, v] : extra.items()) dump[k] = v;
  return dump;
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
      {"warren_tunnel_identity_refusals_total", "Connections refused for lack of a valid workload certificate.",
       &c.identityRefusals},
      {"warren_tunnel_refused_total", "Captured connections refused before relaying.", &c.refused},
      {"warren_tunnel_hbone_bad_requests_total", "HBONE CONNECT requests answered 400.", &c.hboneBadRequests},
      {"warren_identity_renewal_failures_total", "Failed certificate issues and renewals.",
       &identity.counters().failures},
  };
  for (const auto& d : counters) {
    const auto* v = d.value;
    if (auto st = m.addCounter(d.name, d.help, [v] { return static_cast<double>(v->load()); }); !st) return st;
  }
  return m.addGauge("warren_tunnel_active_connections", "Connections being relayed now.",
                    [&proxy] { return static_cast<double>(proxy.activeConnections()); });
}

}  // namespace warren::proxy
