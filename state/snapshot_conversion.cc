#include "state/snapshot_conversion.h"

#include "source/enrollment.h"

#include "warren_abi.h"

namespace warren::state::snapshot_conversion {

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

namespace {

constexpr const char* kUseWaypoint = "istio.io/use-waypoint";
constexpr const char* kUseWaypointNamespace = "istio.io/use-waypoint-namespace";

}  // namespace

std::string label(const std::map<std::string, std::string>& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

std::string Waypoints::bindingOf(const std::map<std::string, std::string>& labels, const source::Namespace* ns,
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

Workload podWorkload(const source::Pod& pod, const source::Namespace* ns, const SnapshotOptions& o) {
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
  return w;
}

}  // namespace warren::state::snapshot_conversion
