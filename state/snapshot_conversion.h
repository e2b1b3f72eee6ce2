#pragma once
// The per-object steps of converting a source::Snapshot into the state, shared by
// the whole build (state/from_snapshot.h) and the incremental one
// (state/incremental_converter.h), so both say the same about each object.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "source/cluster_types.h"
#include "state/cluster_state.h"
#include "state/from_snapshot.h"

namespace warren::state::snapshot_conversion {

Service convertService(const source::Service& in, const SnapshotOptions& o);
// The state's key of a source Service "ns/name" (Service::key()).
inline std::string serviceStateKey(const std::string& ns, const std::string& name, const SnapshotOptions& o) {
  return ns + "/" + name + "." + ns + ".svc." + o.clusterDomain;
}

// The ports a pod serves a service on: numeric targetPorts as they are, named ones
// resolved against the pod's container ports (a pod without that name is not an
// endpoint for that port, as in Kubernetes' EndpointSlices).
std::vector<ServicePort> endpointPorts(const source::Service& svc, const source::Pod& pod);

std::string label(const std::map<std::string, std::string>& labels, const char* key);

// A pod's workload as far as the pod and its namespace (nullptr: unknown) say:
// identity, addresses, readiness and whether any node's agent captures it. The
// services, policies, mTLS mode and waypoint come from the rest of the snapshot.
Workload podWorkload(const source::Pod& pod, const source::Namespace* ns, const SnapshotOptions& o);

// The waypoints of the snapshot (Gateways of class istio-waypoint), each a Service
// as Istio has one for every waypoint: the same-named Service if the snapshot has
// it, else one made here (no VIP; the waypoint's pods, found by their
// gateway-name label, are its endpoints on port 15008).
struct Waypoints {
  std::map<std::string, Service> byGateway;  // "ns/name" of the Gateway -> its Service

  // Which waypoint (a Service key) the object with `labels` in namespace `ns` is
  // bound to, for traffic of `kind` ("service" or "workload"): its own label, else
  // its namespace's; "none" opts out. A waypoint that is named but does not exist,
  // or does not take this kind of traffic, is still returned when it does not
  // exist: routing then fails closed instead of going around it.
  std::string bindingOf(const std::map<std::string, std::string>& labels, const source::Namespace* ns,
                        const std::string& objectNs, const std::string& kind, const SnapshotOptions& o,
                        const std::function<void(std::string)>& note, const std::string& what) const;
};
Waypoints collectWaypoints(const source::Snapshot& snapshot, const SnapshotOptions& o);

}  // namespace warren::state::snapshot_conversion
