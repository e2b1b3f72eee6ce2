#include "agent/reconcile.h"

#include <algorithm>

#include "source/enrollment.h"

namespace warren::agent {

std::string DesiredPod::fingerprint() const {
  std::string f = pod.uid + "|" + pod.ns + "/" + pod.name + "|" + pod.serviceAccount + "|" + netnsPath + "|";
  for (const auto& ip : pod.ips) f += ip + ",";
  return f;
}

namespace {

PodVerdict verdict(std::string key, PodVerdict::Action action, std::string reason) {
  PodVerdict v;
  v.key = std::move(key);
  v.action = action;
  v.reason = std::move(reason);
  return v;
}

// Left alone by its own enrollment decision, which says why.
PodVerdict exempt(std::string key, const source::EnrollmentDecision& decision) {
  PodVerdict v = verdict(std::move(key), PodVerdict::Action::Leave, decision.reason);
  v.why = decision.why;
  return v;
}

// A pod that is not in the view (who says how): only its namespace can say
// whether it may start.
PodVerdict judgeUnknownPod(const source::Namespace* ns, const RuntimePod& rt, UnknownNamespace unknownNamespace,
                           const std::string& who) {
  const std::string key = rt.key();
  if (ns && !source::namespaceCaptures(*ns))
    return verdict(key, PodVerdict::Action::Leave, who + "; namespace " + ns->name + " does not capture");
  if (!ns && unknownNamespace == UnknownNamespace::NotCaptured)
    return verdict(key, PodVerdict::Action::Leave, who + ", nor is namespace " + rt.podNamespace);
  if (ns)
    return verdict(key, PodVerdict::Action::Block,
                   who + ", and namespace " + ns->name +
                       " captures: without its Pod (identity, opt-out labels) it cannot be captured, and it "
                       "must not start uncaptured");
  return verdict(
      key, PodVerdict::Action::Block,
      who + ", nor is namespace " + rt.podNamespace + ", which may capture: it must not start before either is known");
}

bool sharesAnAddress(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::any_of(a.begin(), a.end(),
                     [&](const std::string& ip) { return std::find(b.begin(), b.end(), ip) != b.end(); });
}

PodVerdict judgeJoined(const source::Snapshot& snapshot, const RuntimePod& rt, const std::string& nodeName,
                       UnknownNamespace unknownNamespace) {
  const std::string key = rt.key();
  auto nsIt = snapshot.namespaces.find(rt.podNamespace);
  const source::Namespace* ns = nsIt == snapshot.namespaces.end() ? nullptr : &nsIt->second;
  auto podIt = snapshot.pods.find(key);
  if (podIt == snapshot.pods.end())
    return judgeUnknownPod(ns, rt, unknownNamespace, "pod " + key + " is not in the cluster view");
  const source::Pod& pod = podIt->second;
  // A pod deleted and made again under the same name (a StatefulSet's, a
  // static pod's) while the view still holds the old object: that object's
  // identity and labels are not this pod's. The view lacks this pod as surely
  // as if it had no object at all.
  if (!rt.podUid.empty() && !pod.uid.empty() && rt.podUid != pod.uid)
    return judgeUnknownPod(ns, rt, unknownNamespace,
                           "pod " + key + " (uid " + rt.podUid +
                               ") is not in the cluster view, which holds an "
                               "earlier pod of that name (uid " +
                               pod.uid + ")");

  if (!ns && unknownNamespace == UnknownNamespace::MayCapture) {
    // Would the pod be captured were its namespace enabled? Then it must wait
    // for the namespace; if it opts out (or is a gateway's, or host-network) it
    // is never captured, whatever the namespace says.
    const source::Namespace assumed{pod.ns, {{source::kModeLabel, source::kModeEnabled}}};
    const auto would = source::decideEnrollment(&assumed, pod, nodeName);
    if (!would.enrolled) return exempt(key, would);
    return verdict(key, PodVerdict::Action::Block,
                   "pod " + key + ": namespace " + pod.ns +
                       " is not in the cluster view, and it may capture: the pod must not start before it is known");
  }
  const auto decision = source::decideEnrollment(ns, pod, nodeName);
  if (!decision.enrolled) return exempt(key, decision);

  // The runtime's IPs are the ones packets carry; if the Pod names others, we
  // would capture under the wrong address, so refuse rather than guess.
  if (!rt.ips.empty() && !pod.ips.empty() && !sharesAnAddress(pod.ips, rt.ips))
    return verdict(key, PodVerdict::Action::Block,
                   "pod " + key + ": the runtime assigned " + rt.ips.front() + " but the Pod says " + pod.ips.front());
  if (rt.ips.empty() && pod.ips.empty())
    return verdict(key, PodVerdict::Action::Block,
                   "pod " + key + " has no IP address, neither from the runtime (CNI prevResult) nor in its Pod");
  PodVerdict v = verdict(key, PodVerdict::Action::Enroll, decision.reason);
  v.why = decision.why;
  v.desired.pod = pod;
  if (!rt.ips.empty()) v.desired.pod.ips = rt.ips;
  v.desired.containerId = rt.containerId;
  v.desired.netnsPath = rt.netnsPath;
  return v;
}

}  // namespace

PodVerdict judgePod(const source::Snapshot& snapshot, const RuntimePod& rt, const std::string& nodeName,
                    UnknownNamespace unknownNamespace) {
  PodVerdict v = judgeJoined(snapshot, rt, nodeName, unknownNamespace);
  v.uid = rt.podUid;
  if (v.uid.empty())
    if (auto it = snapshot.pods.find(v.key); it != snapshot.pods.end()) v.uid = it->second.uid;
  return v;
}

std::vector<PodVerdict> desiredPods(const source::Snapshot& snapshot,
                                    const std::map<std::string, RuntimePod>& runtimeByContainer,
                                    const std::string& nodeName, UnknownNamespace unknownNamespace) {
  std::vector<PodVerdict> out;
  for (const auto& [containerId, rt] : runtimeByContainer)
    out.push_back(judgePod(snapshot, rt, nodeName, unknownNamespace));
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
