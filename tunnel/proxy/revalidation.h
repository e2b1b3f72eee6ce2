#pragma once
// Which live inbound connections a new cluster state revokes, as a pure function
// over the states. Every allowed inbound connection is judged again when the state
// changes (a policy that stops allowing it closes it), but a state changes many
// times a second in a big cluster, mostly in objects no live connection depends on:
// judging every connection again on each change cost the event loop O(connections)
// authorize() calls per change. A connection is judged again only when something
// its decision reads may differ between the state it was last judged with and the
// new one.

#include <cstdint>
#include <string>
#include <vector>

#include "authz/authorize.h"
#include "state/cluster_state.h"
#include "tunnel/proxy/pod_context.h"

namespace warren::proxy {

// The destination of an inbound connection to `pod` at dstIp: the state's
// workload at that address, else one made from the pod's own context (a pod the
// state does not list yet) in *storage.
const state::Workload& destinationOf(const state::ClusterState& st, const PodContext& pod, const std::string& dstIp,
                                     state::Workload* storage);

// True when authz::authorize(after, destination, facts) is certain to decide as
// authorize(before, ...) did, for any facts: the destination is the same or an
// equal object, it is not bound to a waypoint (that check reads the waypoint's
// endpoints), and the policies that apply to it are the same or equal, in the
// same order. Anything else counts as a change: judging again is always safe,
// skipping only when certain.
bool decisionInputsUnchanged(const state::ClusterState& before, const state::ClusterState& after, const PodContext& pod,
                             const std::string& dstIp);

struct LiveInbound {
  uint64_t id = 0;
  const PodContext* pod = nullptr;
  const authz::ConnectionFacts* facts = nullptr;
  const state::ClusterState* judgedWith = nullptr;  // the state its last decision was made with
};

struct Revalidation {
  struct Revoked {
    uint64_t id;
    std::string reason;
  };
  std::vector<Revoked> revoked;
  size_t judged = 0;   // connections whose decision was made again
  size_t skipped = 0;  // connections nothing of whose decision changed
};

// Judges again, against `next`, each connection whose decision inputs changed
// since its judgedWith state; the input check is made once per destination and
// judgedWith state, however many connections share them.
Revalidation revalidate(const state::ClusterState& next, const std::vector<LiveInbound>& live);

}  // namespace warren::proxy
