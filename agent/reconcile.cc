#include "agent/reconcile.h"

#include <algorithm>

#include "source/enrollment.h"

namespace warren::agent {

std::string DesiredPod::fingerprint() const {
  std::string f = pod.uid + "|" + pod.ns + "/" + pod.name + "|" + pod.serviceAccount + "|" + netnsPath + "|";
  for (const auto& ip : pod.ips) f += ip + ",";
  return f;
}

std::vector<PodVerdict> desiredPods(const source::Snapshot& snapshot,
                                    const std::map<std::string, RuntimePod>& runtimeByContainer,
                                    const std::string& nodeName) {
  std::vector<PodVerdict> out;
  for (const auto& [containerId, rt] : runtimeByContainer) {
    PodVerdict v;
    v.key = rt.key();
    auto it = snapshot.pods.find(v.key);
    if (it == snapshot.pods.end()) {
      v.reason = "pod " + v.key + " is not in the cluster state";
      out.push_back(std::move(v));
      continue;
    }
    const source::Pod& pod = it->second;
    auto nsIt = snapshot.namespaces.find(pod.ns);
    auto decision = source::decideEnrollment(nsIt == snapshot.namespaces.end() ? nullptr : &nsIt->second, pod,
                                             nodeName);
    v.reason = decision.reason;
    v.enroll = decision.enrolled;
    // The runtime's IPs are the ones packets carry; if the cluster view disagrees
    // we would capture under the wrong address, so refuse rather than guess.
    if (v.enroll && !rt.ips.empty() && !pod.ips.empty()) {
      bool overlap = std::any_of(pod.ips.begin(), pod.ips.end(), [&](const std::string& ip) {
        return std::find(rt.ips.begin(), rt.ips.end(), ip) != rt.ips.end();
      });
      if (!overlap) {
        v.enroll = false;
        v.reason = "pod " + v.key + ": the runtime assigned " + rt.ips.front() + " but the Pod says " +
                   pod.ips.front();
      }
    }
    if (v.enroll) {
      v.desired.pod = pod;
      v.desired.containerId = containerId;
      v.desired.netnsPath = rt.netnsPath;
    }
    out.push_back(std::move(v));
  }
  return out;
}

ReconcilePlan planReconcile(const std::map<uint64_t, std::string>& desired,
                            const std::map<uint64_t, std::string>& current) {
  ReconcilePlan plan;
  for (const auto& [cookie, fp] : current)
    if (!desired.count(cookie)) plan.release.push_back(cookie);
  for (const auto& [cookie, fp] : desired) {
    auto it = current.find(cookie);
    if (it == current.end() || it->second != fp) plan.enroll.push_back(cookie);
  }
  return plan;
}

}  // namespace warren::agent
