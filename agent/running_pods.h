#pragma once
// Pods that were running before the agent was (Warren installed on a live
// cluster): no CNI ADD ever told the agent their netns. As istio-cni does, the
// agent finds it among the network namespaces of the node's processes: the one
// whose interfaces carry the pod's IP. These are the pure halves: which pods to
// look for, and which namespace is the pod's; netns_scan.h reads the system.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/reconcile.h"
#include "source/cluster_types.h"

namespace warren::agent {

// A network namespace some process is in, with its interfaces' addresses.
struct NetnsCandidate {
  uint64_t inode = 0;  // identifies the namespace (nsfs inode)
  std::string path;    // a path that opens it: a bind mount, or /proc/<pid>/ns/net
  std::vector<std::string> ips;
};

// The pods of this node the view says are captured, that have IPs, and that
// the runtime store does not know (by ns/name).
std::vector<source::Pod> podsToDiscover(const source::Snapshot& view,
                                        const std::map<std::string, RuntimePod>& runtimeByContainer,
                                        const std::string& nodeName);

struct NetnsMatch {
  std::optional<NetnsCandidate> found;
  std::string why;  // when not found: no namespace carries the IPs, or more than one does
};
// The one namespace whose addresses include one of the pod's IPs. Two that do
// (a stale copy, a misconfigured node) is no answer: enrolling the wrong one
// would capture another pod's traffic under this pod's identity.
NetnsMatch matchNetns(const source::Pod& pod, const std::vector<NetnsCandidate>& candidates);

// The runtime record a found pod is enrolled with, as if its CNI ADD had come.
inline constexpr const char* kDiscoveredPrefix = "discovered:";
RuntimePod discoveredRuntimePod(const source::Pod& pod, const NetnsCandidate& netns);

}  // namespace warren::agent
