#include "agent/running_pods.h"

#include <algorithm>
#include <set>

#include "source/enrollment.h"

namespace warren::agent {

std::vector<source::Pod> podsToDiscover(const source::Snapshot& view,
                                        const std::map<std::string, RuntimePod>& runtimeByContainer,
                                        const std::string& nodeName) {
  std::set<std::string> known;
  for (const auto& [id, rt] : runtimeByContainer) known.insert(rt.key());
  std::vector<source::Pod> out;
  for (const auto& [key, pod] : view.pods) {
    // A finished pod (Succeeded or Failed) keeps its IP but has no sandbox left.
    if (known.count(key) || pod.ips.empty() || pod.finished) continue;
    auto ns = view.namespaces.find(pod.ns);
    if (ns == view.namespaces.end()) continue;
    // Another node's pod, host network, a gateway, opted out, or a plain
    // namespace: nothing to look for.
    if (!source::decideEnrollment(&ns->second, pod, nodeName).enrolled) continue;
    out.push_back(pod);
  }
  return out;
}

NetnsMatch matchNetns(const source::Pod& pod, const std::vector<NetnsCandidate>& candidates) {
  std::vector<const NetnsCandidate*> carrying;
  for (const auto& c : candidates) {
    const bool carries = std::any_of(c.ips.begin(), c.ips.end(), [&](const std::string& ip) {
      return std::find(pod.ips.begin(), pod.ips.end(), ip) != pod.ips.end();
    });
    if (carries && std::none_of(carrying.begin(), carrying.end(), [&](auto* o) { return o->inode == c.inode; }))
      carrying.push_back(&c);
  }
  const std::string who = "pod " + pod.ns + "/" + pod.name + " (" + pod.ips.front() + ")";
  if (carrying.empty()) return {std::nullopt, who + ": no process's network namespace carries its IP"};
  if (carrying.size() > 1)
    return {std::nullopt, who + ": " + std::to_string(carrying.size()) +
                              " network namespaces carry its IP; enrolling none rather than the wrong one"};
  return {*carrying.front(), ""};
}

RuntimePod discoveredRuntimePod(const source::Pod& pod, const NetnsCandidate& netns) {
  return {kDiscoveredPrefix + pod.uid, netns.path, pod.name, pod.ns, pod.uid, pod.ips};
}

}  // namespace warren::agent
