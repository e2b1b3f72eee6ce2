#pragma once
// `warrenctl explain SRC DST --request "METHOD PATH" [--jwt FILE]`: one HTTP
// request judged as the waypoint would judge it, over the tunnel's state: the
// RequestAuthentication rule the token meets, then the L7 policies with the
// request principal and claims. Pure. The tunnel holds no jwksUri keys, so a token
// of such a rule is read unverified and said to be; inline keys verify for real.

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "identity/identity.h"
#include "state/cluster_state.h"

namespace warren::proxy {

struct RequestProbe {
  std::string method = "GET";
  std::string path = "/";
  std::string jwt;  // "": no token
};

// The request at waypoint `waypoint` for `dstService` (nullptr: a pod dialed),
// from a client with `srcIp`/`srcId`, to `dstIp:dstPort`:
//   {method, path, authentication: {token, rule, verified, principal, failure, note},
//    status (200 | 401 | 403), decision: {allowed, policy, rule, reason},
//    matched_rule: the deciding rule as the config dump shows it}
nlohmann::json explainRequest(const state::ClusterState& st, const state::Service& waypoint,
                              const state::Service* dstService, const std::string& srcIp,
                              const identity::SpiffeId& srcId, const std::string& dstIp, uint32_t dstPort,
                              const RequestProbe& probe, std::chrono::system_clock::time_point now);

}  // namespace warren::proxy
