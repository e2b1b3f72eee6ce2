#include "ztunnel/state/from_snapshot.h"

#include "agent/source/enrollment.h"
#include "ztunnel/state/policy_conversion.h"

namespace warren::state {
namespace {

Service convertService(const source::Service& in, const SnapshotOptions& o) {
  Service s;
  s.name = in.name;
  s.ns = in.ns;
  s.hostname = in.name + "." + in.ns + ".svc." + o.clusterDomain;
  s.vips = in.clusterIPs;
  for (const auto& p : in.ports) s.ports.push_back({p.port, p.targetPort ? p.targetPort : p.port});
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

  for (const auto& [key, svc] : snapshot.services) b.add(convertService(svc, o));

  for (const auto& [key, pod] : snapshot.pods) {
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
      // A Service without a selector has hand-made endpoints, which this source
      // does not read.
      if (svc.ns != pod.ns || svc.selector.empty()) continue;
      source::Selector sel{true, svc.selector};
      if (!sel.selects(pod.labels)) continue;
      auto ports = endpointPorts(svc, pod);
      if (!ports.empty()) w.services[convertService(svc, o).key()] = std::move(ports);
    }
    // Selector policies apply in their own namespace, or mesh-wide from the root.
    for (const auto& [pkey, p] : policies) {
      if (p.scope != PolicyScope::WorkloadSelector) continue;
      if (p.ns != pod.ns && p.ns != o.rootNamespace) continue;
      if (policySelectors[pkey].selects(pod.labels)) w.policies.push_back(pkey);
    }
    w.mtls = resolvePeerAuthentication(snapshot, pod.ns, pod.labels, o.rootNamespace);
    b.add(std::move(w));
  }
  for (auto& [key, p] : policies) b.add(std::move(p));
  return b.finish(notes);
}

}  // namespace warren::state
