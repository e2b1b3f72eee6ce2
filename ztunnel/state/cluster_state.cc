#include "ztunnel/state/workload_state.h"

#include "agent/source/enrollment.h"

namespace warren::state {

WorkloadState WorkloadState::fromSnapshot(const source::Snapshot& snapshot, const std::string& trustDomain) {
  WorkloadState st;
  for (const auto& [key, pod] : snapshot.pods) {
    auto nsIt = snapshot.namespaces.find(pod.ns);
    const source::Namespace* ns = nsIt == snapshot.namespaces.end() ? nullptr : &nsIt->second;
    // Any node: a destination is in the mesh if its own node's agent enrolls it.
    auto enrollment = source::decideEnrollment(ns, pod, "");
    Workload w;
    w.uid = pod.uid.empty() ? pod.ns + "/" + pod.name : pod.uid;
    w.name = pod.name;
    w.ns = pod.ns;
    w.identity = identity::workloadIdentity(trustDomain, pod.ns, pod.serviceAccount);
    w.serviceAccount = w.identity.serviceAccount;
    w.node = pod.nodeName;
    w.ips = pod.ips;
    w.captured = enrollment.enrolled;
    w.captureReason = enrollment.reason;
    for (const auto& ip : w.ips) st.uidByIp_[ip] = w.uid;
    st.byUid_[w.uid] = std::move(w);
  }
  return st;
}

const Workload* WorkloadState::findByIp(const std::string& ip) const {
  auto it = uidByIp_.find(ip);
  if (it == uidByIp_.end()) return nullptr;
  auto w = byUid_.find(it->second);
  return w == byUid_.end() ? nullptr : &w->second;
}

}  // namespace warren::state
