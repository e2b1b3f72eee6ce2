#pragma once
// The agent's decisions, as pure functions over state (tested without BPF or
// sockets): which pods should be captured, and what must change to get there.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "source/cluster_types.h"

namespace warren::agent {

// What the container runtime told us about a pod through warren-cni.
struct RuntimePod {
  std::string containerId, netnsPath, podName, podNamespace, podUid;
  std::vector<std::string> ips;
  std::string key() const { return podNamespace + "/" + podName; }
};

// A pod that should be captured, joined from the cluster view and the runtime.
struct DesiredPod {
  source::Pod pod;
  std::string containerId;
  std::string netnsPath;
  // Changes when anything the data path sees changes (identity, IPs, netns).
  std::string fingerprint() const;
};

struct PodVerdict {
  std::string key;  // ns/name
  bool enroll = false;
  std::string reason;
  DesiredPod desired;  // valid with enroll
};

// One verdict per pod the runtime has started, in runtime order.
std::vector<PodVerdict> desiredPods(const source::Snapshot& snapshot,
                                    const std::map<std::string, RuntimePod>& runtimeByContainer,
                                    const std::string& nodeName);

struct ReconcilePlan {
  std::vector<uint64_t> release;  // netns cookies to stop capturing
  std::vector<uint64_t> enroll;   // desired cookies that are new or changed
};

// desired: cookie -> fingerprint of what should be captured; current: cookie ->
// fingerprint of what is (empty fingerprint: found in the pinned maps, origin unknown).
ReconcilePlan planReconcile(const std::map<uint64_t, std::string>& desired,
                            const std::map<uint64_t, std::string>& current);

}  // namespace warren::agent
