#include "state/from_snapshot.h"

#include <functional>

#include <spdlog/spdlog.h>

#include "source/enrollment.h"
#include "source/yaml_source.h"
#include "state/l7_policy_conversion.h"
#include "state/request_authn_conversion.h"
#include "state/policy_conversion.h"
#include "warren_abi.h"

namespace warren::state {
namespace {

Service convertService(const source::Service& in, const SnapshotOptions& o) {
  Service s;
  s.name = in.name;
  s.ns = in.ns;
  s.hostname = in.name + "." + in.ns + ".svc." + o.clusterDomain;
  s.vips = in.clusterIPs;
  for (const auto& p : in.ports)
    s.ports.push_back({p.port, p.targetPort ? p.targetPort : p.port, appProtocolOf(p.appProtocol, p.name)});
  return s;
}

// The ports a pod serves a service on: numeric targetPorts as they are, named ones
// resolved against the pod's container ports (a pod without that name is not an
// endpoint for that port, as in Kubernetes' EndpointSlices).
std::vector<ServicePort> endpointPorts(const source::Service& svc, const source::Pod& pod) {
  std::vector<ServicePort> out;
  for (const auto& p : svc.ports) {
    if (p.targetPortName.empty()) {
      out.push_back({p.port, p.targetPort ? p.targetPort : p.port});
      continue;
    }
    auto it = pod.namedPorts.find(p.targetPortName);
    if (it != pod.namedPorts.end()) out.push_back({p.port, it->second});
  }
  return out;
}

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
    const std::string svcKey = convertService(svc, o).key();
    for (const auto& ep : slice.endpoints) {
      if (!ep.ready) continue;
      for (const auto& ip : ep.addresses) out[ip][svcKey] = ports;
    }
  }
  return out;
}

constexpr const char* kUseWaypoint = "istio.io/use-waypoint";
constexpr const char* kUseWaypointNamespace = "istio.io/use-waypoint-namespace";

std::string label(const std::map<std::string, std::string>& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

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
                        const std::function<void(std::string)>& note, const std::string& what) const {
    std::string name = label(labels, kUseWaypoint), wpNs = label(labels, kUseWaypointNamespace);
    if (name.empty() && ns) {
      name = label(ns->labels, kUseWaypoint);
      wpNs = label(ns->labels, kUseWaypointNamespace);
    }
    if (name.empty() || name == "none") return {};
    if (wpNs.empty()) wpNs = objectNs;
    auto it = byGateway.find(wpNs + "/" + name);
    if (it == byGateway.end()) {
      note(what + " uses waypoint " + wpNs + "/" + name + ", which does not exist; its traffic is refused until it does");
      return wpNs + "/" + name + "." + wpNs + ".svc." + o.clusterDomain;
    }
    const std::string& takes = it->second.waypointFor;
    if (takes == "all" || takes == kind) return it->second.key();
    return {};
  }
};

Waypoints collectWaypoints(const source::Snapshot& snapshot, const SnapshotOptions& o) {
  Waypoints w;
  for (const auto& [key, gw] : snapshot.gateways) {
    if (gw.waypointFor == "none") continue;
    auto svcIt = snapshot.services.find(key);
    Service s = svcIt != snapshot.services.end() ? convertService(svcIt->second, o) : Service{};
    if (svcIt == snapshot.services.end()) {
      s.name = gw.name;
      s.ns = gw.ns;
      s.hostname = gw.name + "." + gw.ns + ".svc." + o.clusterDomain;
      s.ports = {{WARREN_HBONE_PORT, WARREN_HBONE_PORT}};
    }
    s.waypointFor = gw.waypointFor;
    w.byGateway[key] = std::move(s);
  }
  return w;
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

  const Waypoints waypoints = collectWaypoints(snapshot, o);
  auto nsOf = [&](const std::string& name) -> const source::Namespace* {
    auto it = snapshot.namespaces.find(name);
    return it == snapshot.namespaces.end() ? nullptr : &it->second;
  };
  for (const auto& [key, svc] : snapshot.services) {
    if (waypoints.byGateway.count(key)) continue;  // added below, as a waypoint
    Service s = convertService(svc, o);
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
    // Any node: a destination is in the mesh if its own node's agent enrolls it.
    auto enrollment = source::decideEnrollment(ns, pod, "");
    Workload w;
    w.uid = pod.uid.empty() ? pod.ns + "/" + pod.name : pod.uid;
    w.name = pod.name;
    w.ns = pod.ns;
    w.labels = pod.labels;
    w.identity = identity::workloadIdentity(o.trustDomain, pod.ns, pod.serviceAccount);
    w.serviceAccount = w.identity.serviceAccount;
    w.node = pod.nodeName;
    w.ips = pod.ips;
    w.ready = pod.ready;
    w.hostNetwork = pod.hostNetwork;
    w.captured = enrollment.enrolled;
    w.captureReason = enrollment.reason;
    for (const auto& [skey, svc] : snapshot.services) {
      // A Service without a selector: its EndpointSlices say (below).
      if (svc.ns != pod.ns || svc.selector.empty()) continue;
      source::Selector sel{true, svc.selector};
      if (!sel.selects(pod.labels)) continue;
      auto ports = endpointPorts(svc, pod);
      if (!ports.empty()) w.services[convertService(svc, o).key()] = std::move(ports);
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
    const std::string gatewayName = label(pod.labels, source::kGatewayNameLabel);
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
  std::vector<std::string> problems;
  for (const auto& e : snapshot.errors) problems.push_back(e.message);
  for (const auto& n : notes) problems.push_back(n.message);
  for (const auto& p : repeats ? repeats->fresh(problems) : problems) spdlog::warn("cluster state: {}", p);
  return next;
}

Result<ClusterStatePtr> stateFromDirectory(const std::string& dir, const SnapshotOptions& options,
                                           RepeatFilter* repeats) {
  auto snap = source::loadDirectory(dir);
  if (!snap) return snap.error();
  return stateFromSnapshotLogged(*snap, options, repeats);
}

}  // namespace warren::state
