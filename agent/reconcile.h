#pragma once
// The agent's decisions, as pure functions over state (tested without BPF or
// sockets): which pods should be captured, and what must change to get there.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "source/cluster_types.h"
#include "source/enrollment.h"

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

// How far the cluster view can be trusted about what it lacks. The YAML directory
// is the whole truth: a namespace it does not name is simply not enabled. The
// API's view lags the API (a watch delivers a new namespace or pod some
// milliseconds late), so there an unknown namespace may well be a capturing one.
enum class UnknownNamespace { NotCaptured, MayCapture };

struct PodVerdict {
  enum class Action {
    Enroll,  // capture it (desired is valid)
    Leave,   // not captured, rightly: not in the mesh, another node's, opted out...
    // It belongs to the mesh (or may) but cannot be captured as it is: not in
    // the view, its addresses disagree. Never enrolled; a CNI ADD for it fails,
    // so it does not start with its traffic in plaintext, and the runtime retries.
    Block,
  };
  std::string key;  // ns/name
  std::string uid;  // the runtime's, else the view's ("" when neither says)
  Action action = Action::Leave;
  std::string reason;
  // With Leave from the pod's own decision: which exemption (opted out, host
  // network, a gateway's...), for the audit's capture records.
  source::EnrollmentDecision::Why why = source::EnrollmentDecision::Why::NamespaceNotCapturing;
  DesiredPod desired;  // valid with Enroll
  bool enroll() const { return action == Action::Enroll; }
};

// Joins one runtime pod with the cluster view. The runtime's IPs are the pod's
// addresses (they are what its packets carry; on a real cluster the Pod object
// has none yet at CNI ADD, as the kubelet writes status.podIP after ADD
// returns); the Pod object gives the identity (uid, service account, labels).
PodVerdict judgePod(const source::Snapshot& snapshot, const RuntimePod& rt, const std::string& nodeName,
                    UnknownNamespace unknownNamespace);

// One verdict per pod the runtime has started, in runtime order.
std::vector<PodVerdict> desiredPods(const source::Snapshot& snapshot,
                                    const std::map<std::string, RuntimePod>& runtimeByContainer,
                                    const std::string& nodeName,
                                    UnknownNamespace unknownNamespace = UnknownNamespace::NotCaptured);

struct ReconcilePlan {
  std::vector<uint64_t> release;  // netns cookies to stop capturing
  std::vector<uint64_t> enroll;   // desired cookies that are new or changed
};

// desired: cookie -> fingerprint of what should be captured; current: cookie ->
// fingerprint of what is (empty fingerprint: found in the pinned maps, origin unknown).
ReconcilePlan planReconcile(const std::map<uint64_t, std::string>& desired,
                            const std::map<uint64_t, std::string>& current);

}  // namespace warren::agent
