#include "state/from_snapshot.h"

#include <functional>

#include <spdlog/spdlog.h>

#include "source/enrollment.h"
#include "source/yaml_source.h"
#include "state/l7_policy_conversion.h"
#include "state/policy_conversion.h"
#include "state/request_authn_conversion.h"
#include "state/snapshot_conversion.h"

namespace warren::state {
namespace {

// The endpoints of Services without a selector, from their EndpointSlices: by
// the endpoint's address, each Service it serves (key) and on which ports. A
// selector's endpoints are the Pods it selects (above), so its slices, which the
// control plane writes from the same selector, are not read twice.
std::map<std::string, std::map<std::string, std::vector<ServicePort>>> endpointsFromSlices(
    const source::Snapshot& snapshot, const SnapshotOptions& o) {
  std::map<std::string, std::map<std::string, std::vector<ServicePort>>> out;
  for (const auto& [key, slice] : snapshot.endpointSlices) {
    auto svcIt = snapshot.services.find(slice.ns + "/" + slice.serviceName);
    if (svcIt == snapshot.services.end() || !svcIt->second.selector.empty()) continue;
    const source::Service& svc = svcIt->second;
    // A slice's port carries the Service port's name and the endpoint's port.
    std::vector<ServicePort> ports;
    for (const auto& sp : slice.ports)
      for (const auto& p : svc.ports)
        if (p.name == sp.name) ports.push_back({p.port, sp.port});
    if (ports.empty()) continue;
    const std::string svcKey = snapshot_conversion::convertService(svc, o).key();
    for (const auto& ep : slice.endpoints) {
      if (!ep.ready) continue;
      for (const auto& ip : ep.addresses) out[ip][svcKey] = ports;
    }
  }
  return out;
}

}  // namespace

ClusterStatePtr stateFromSnapshot(const source::Snapshot& snapshot, const SnapshotOptions& o,
                                  std::vector<Error>* notes) {
  auto note = [&](std::string msg) {
    if (notes) notes->push_back(makeError(std::move(msg)));
  };
  ClusterState::Builder b;
  std::map<std::string, AuthorizationPolicy> policies;
  std::map<std::string, source::Selector> policySelectors;
  for (const auto& [key, in] : snapshot.authorizationPolicies) {
    std::string why;
    auto p = convertAuthorizationPolicy(in, o.rootNamespace, &why);
    if (!p) {
      note("AuthorizationPolicy " + key + " (" + in.where + ") is not enforced by the tunnel: " + why);
      continue;
    }
    for (const auto& n : p->conversionNotes) note("AuthorizationPolicy " + key + " (" + in.where + "): " + n);
    policySelectors[key] = in.selector;
    policies[key] = *p;
  }

  // Waypoint policies (targetRefs) go to the waypoints, in their full L7 form.
  for (const auto& [key, in] : snapshot.authorizationPolicies) {
    if (!in.hasTargetRef) continue;
    std::string why;
    auto p = convertWaypointPolicy(in, &why);
    if (!p) {
      note("AuthorizationPolicy " + key + " (" + in.where + ") is not enforced by any waypoint: " + why);
      continue;
    }
    for (const auto& n : p->conversionNotes) note("AuthorizationPolicy " + key + " (" + in.where + "): " + n);
    b.add(std::move(*p));
  }

  // RequestAuthentications bound by targetRefs go to the waypoints.
  for (const auto& [key, in] : snapshot.requestAuthentications) {
    std::string why;
    auto r = convertRequestAuthentication(in, &why);
    if (!r) {
      note("RequestAuthentication " + key + " (" + in.where + ") is not enforced by any waypoint: " + why);
      continue;
    }
    for (const auto& n : r->conversionNotes) note("RequestAuthentication " + key + " (" + in.where + "): " + n);
    b.add(std::move(*r));
  }

  const snapshot_conversion::Waypoints waypoints = snapshot_conversion::collectWaypoints(snapshot, o);
  auto nsOf = [&](const std::string& name) -> const source::Namespace* {
    auto it = snapshot.namespaces.find(name);
    return it == snapshot.namespaces.end() ? nullptr : &it->second;
  };
  for (const auto& [key, svc] : snapshot.services) {
    if (waypoints.byGateway.count(key)) continue;  // added below, as a waypoint
    Service s = snapshot_conversion::convertService(svc, o);
    s.waypoint = waypoints.bindingOf(svc.labels, nsOf(svc.ns), svc.ns, "service", o, note, "service " + key);
    b.add(std::move(s));
  }
  for (const auto& [key, s] : waypoints.byGateway) b.add(s);

  const auto sliceEndpoints = endpointsFromSlices(snapshot, o);
  for (const auto& [key, pod] : snapshot.pods) {
    // Not a destination until it has an address (the agent may capture it
    // before then, with the runtime's addresses).
    if (pod.ips.empty()) continue;
    auto nsIt = snapshot.namespaces.find(pod.ns);
    const source::Namespace* ns = nsIt == snapshot.namespaces.end() ? nullptr : &nsIt->second;
    Workload w = snapshot_conversion::podWorkload(pod, ns, o);
    for (const auto& [skey, svc] : snapshot.services) {
      // A Service without a selector: its EndpointSlices say (below).
      if (svc.ns != pod.ns || svc.selector.empty()) continue;
      source::Selector sel{true, svc.selector};
      if (!sel.selects(pod.labels)) continue;
      auto ports = snapshot_conversion::endpointPorts(svc, pod);
      if (!ports.empty()) w.services[snapshot_conversion::convertService(svc, o).key()] = std::move(ports);
    }
    for (const auto& ip : pod.ips)
      if (auto it = sliceEndpoints.find(ip); it != sliceEndpoints.end())
        for (const auto& [skey, ports] : it->second) w.services.emplace(skey, ports);
    // Selector policies apply in their own namespace, or mesh-wide from the root.
    for (const auto& [pkey, p] : policies) {
      if (p.scope != PolicyScope::WorkloadSelector) continue;
      if (p.ns != pod.ns && p.ns != o.rootNamespace) continue;
      if (policySelectors[pkey].selects(pod.labels)) w.policies.push_back(pkey);
    }
    w.mtls = resolvePeerAuthentication(snapshot, pod.ns, pod.labels, o.rootNamespace);
    // A waypoint's own pod is its endpoint (Istio's waypoint Service selects it).
    const std::string gatewayName = snapshot_conversion::label(pod.labels, source::kGatewayNameLabel);
    if (auto wp = waypoints.byGateway.find(pod.ns + "/" + gatewayName);
        !gatewayName.empty() && wp != waypoints.byGateway.end() && !w.services.count(wp->second.key()))
      w.services[wp->second.key()] = {};
    if (gatewayName.empty())
      w.waypoint = waypoints.bindingOf(pod.labels, ns, pod.ns, "workload", o, note, "pod " + key);
    b.add(std::move(w));
  }
  for (auto& [key, p] : policies) b.add(std::move(p));
  return b.finish(notes);
}

ClusterStatePtr stateFromSnapshotLogged(const source::Snapshot& snapshot, const SnapshotOptions& options,
                                        RepeatFilter* repeats) {
  std::vector<Error> notes;
  auto next = stateFromSnapshot(snapshot, options, &notes);
  logProblems(snapshot, notes, repeats);
  return next;
}

void logProblems(const source::Snapshot& snapshot, const std::vector<Error>& notes, RepeatFilter* repeats) {
  std::vector<std::string> problems;
  for (const auto& e : snapshot.errors) problems.push_back(e.message);
  for (const auto& n : notes) problems.push_back(n.message);
  for (const auto& p : repeats ? repeats->fresh(problems) : problems) spdlog::warn("cluster state: {}", p);
}

Result<ClusterStatePtr> stateFromDirectory(const std::string& dir, const SnapshotOptions& options,
                                           RepeatFilter* repeats) {
  auto snap = source::loadDirectory(dir);
  if (!snap) return snap.error();
  return stateFromSnapshotLogged(*snap, options, repeats);
}

}  // namespace warren::state
