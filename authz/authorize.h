#pragma once
// L4 authorization: may this connection reach this workload? A pure function over
// the connection's facts and the policies that apply, evaluated by the destination's
// tunnel before any byte reaches the app, with Istio's semantics:
//  1. PeerAuthentication: a plaintext connection (no verified peer identity) to a
//     port whose effective mode is STRICT is denied.
//  2. Any matching DENY policy denies.
//  3. If no ALLOW policy applies, allow; if some apply and none matches, deny.
//  AUDIT policies never change the verdict: matches are reported for the access
//  log. dry-run policies never change it either: what they would have decided is
//  reported. warrenctl's `explain` calls this same function.

#include <optional>
#include <string>
#include <vector>

#include "identity/identity.h"
#include "state/cluster_state.h"

namespace warren::authz {

struct ConnectionFacts {
  std::string srcIp;  // IP literal of the client
  // The client's verified SPIFFE identity (HBONE); nullopt for plaintext.
  std::optional<identity::SpiffeId> srcIdentity;
  std::string dstIp;  // the workload address the client dialed
  uint32_t dstPort = 0;
};

struct Decision {
  bool allowed = false;
  // What decided: "ns/name" of a policy or PeerAuthentication, "" when nothing did
  // (no policy applies), and the index of the matching rule (-1: none matched).
  std::string policy;
  int rule = -1;
  std::string reason;               // one line for logs, the access log and `explain`
  std::vector<std::string> audits;  // "ns/name rules[i]" of each matching AUDIT policy
  std::vector<std::string> dryRun;  // "would deny: ..." lines from dry-run policies
};

Decision authorize(const state::Workload& destination, const std::vector<const state::AuthorizationPolicy*>& policies,
                   const ConnectionFacts& conn);

// With the state: a destination bound to a waypoint (Workload::waypoint) first
// accepts only connections from that waypoint's identity; then the policies that
// apply to `destination` in `state`.
Decision authorize(const state::ClusterState& state, const state::Workload& destination, const ConnectionFacts& conn);

// Index of the first rule of `p` that matches, or -1.
int firstMatchingRule(const state::AuthorizationPolicy& p, const ConnectionFacts& conn);

}  // namespace warren::authz
