#include "waypoint/proxy/request_judge.h"

#include <memory>

namespace warren::waypoint {
namespace {

AuthnResult authenticateHead(SessionHost& host, const state::ClusterState& state, const StreamFacts& stream,
                             const http1::MessageHead& head, bool afterRefresh) {
  const jwt::RequestView view{head.headers, head.target};
  return authenticate(
      requestAuthnsFor(state, host.self(), stream), view, [&host](const std::string& uri) { return host.jwks(uri); },
      std::chrono::system_clock::now(), afterRefresh, host.verifiedTokens());
}

}  // namespace

bool judgeRequest(SessionHost& host, const StreamFacts& stream, const http1::MessageHead& head,
                  std::function<void(RequestPlan, const http1::MessageHead&)> judged, std::function<bool()> alive) {
  auto state = host.currentState();
  AuthnResult authn = authenticateHead(host, *state, stream, head, false);
  if (authn.kind != AuthnResult::Kind::NeedKeys) {
    RequestPlan plan =
        planRequest(*state, host.self(), stream, head, host.nextPick(stream.destination), std::move(authn));
    plan.decidedWith = std::move(state);
    judged(std::move(plan), head);
    return true;
  }
  // The token's issuer has no keys yet, or not its kid (a rotation): fetch, then
  // judge again with whatever keys there are then. The fetch is bounded by the
  // rule's timeout, so the request waits at most that long.
  auto copy = std::make_shared<http1::MessageHead>(head);
  host.refreshJwks(
      authn.jwksUri, authn.timeout, [&host, stream, copy, judged = std::move(judged), alive = std::move(alive)] {
        if (!alive()) return;
        auto now = host.currentState();
        AuthnResult again = authenticateHead(host, *now, stream, *copy, true);
        RequestPlan plan =
            planRequest(*now, host.self(), stream, *copy, host.nextPick(stream.destination), std::move(again));
        plan.decidedWith = std::move(now);
        judged(std::move(plan), *copy);
      });
  return false;
}

}  // namespace warren::waypoint
