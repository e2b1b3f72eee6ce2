#pragma once
// `warrenctl audit assert --live`: a segmentation spec (audit/segmentation.h)
// checked against the tunnel's live state instead of the audit window. Pure over
// the state, in two steps that each reuse what already decides elsewhere:
//
//   probes   every (source, destination workload, port, address dialed) worth
//            asking, walked through explainConnection (tunnel/proxy/explain.h),
//            i.e. the data path's own decideOutbound and authorize;
//   judgement each probe the data path would ALLOW becomes the connection the
//            audit files would record for it, and audit::checkSegmentation (the
//            window check's own function) says which rules it contradicts.
//
// So the live check and the window check cannot read a rule differently: a
// contradiction here is a connection that, once made, the window check would list.
//
// What is probed, for every live workload some rule's `to` selects (namespace,
// workload, and service: it is an endpoint of a service with that hostname):
//  - sources: every other workload of the state that has an address, except
//    waypoints (they forward the traffic they judge; the sources behind them are
//    probed through them) and host-network pods (their address is their node's,
//    which identifies no workload); plus one client outside the mesh, at
//    kOutsideClientV4 / kOutsideClientV6 (documentation addresses no workload has);
//  - ports: those the spec names (in `to` and in selectors), the workload's
//    target ports of its services, the ports its authorization policies name
//    (destinationPorts, notDestinationPorts) and its PeerAuthentication port
//    overrides, and one port none of them names. authorize and decideOutbound
//    depend on the port only through those, so that one port stands for every
//    other (marked any_other_port);
//  - addresses dialed: the workload's own IP, and the first VIP of each service
//    it is an endpoint of, on each service port that targets one of those ports
//    (a service may route through a waypoint its pod IP does not).
// A path "depends on the request" (through a waypoint with L7 policies) counts as
// allowed: some request may pass, and a spec check must not pass on a guess.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/segmentation.h"
#include "state/cluster_state.h"

namespace warren::proxy {

inline constexpr const char* kOutsideClientV4 = "192.0.2.1";    // RFC 5737 TEST-NET-1
inline constexpr const char* kOutsideClientV6 = "2001:db8::1";  // RFC 3849

// A connection the live policies allow and the spec forbids.
struct LiveContradiction {
  std::string rule;
  std::string source;         // "ns/name", or "outside the mesh (192.0.2.1)"
  std::string destination;    // "ns/name" of the workload reached
  std::string port;           // its port there
  bool anyOtherPort = false;  // `port` stands for every port nothing names
  std::string dialed;         // the address the source dials: the pod's "ip:port" or a VIP's
  std::string why;            // audit::Contradiction::why: which part of the rule
  std::string decidedBy;      // the deciding policy, or "no policy: default allow", ...
  std::string reason;         // the data path's own reason (explain's)
};

// Which workloads and ports were probed, so "holds" says over what.
struct LiveDestination {
  std::string workload;  // "ns/name"
  std::vector<std::string> ports;
  std::string anyOtherPort;  // the port among them that stands for the rest
};

struct LiveCheck {
  std::vector<LiveContradiction> contradictions;
  std::vector<LiveDestination> destinations;
  size_t sources = 0;                                // including the outside client
  size_t probes = 0;                                 // explainConnection calls
  std::vector<std::string> rulesWithoutDestination;  // `to` selects no live workload
};

LiveCheck checkSegmentationLive(const state::ClusterState& state, const audit::SegmentationSpec& spec);

nlohmann::json toJson(const LiveCheck& check);

}  // namespace warren::proxy
