#pragma once
// The node's network namespaces, found the way istio-cni finds those of pods
// that were running before it: every /proc/<pid>/ns/net, one entry per
// namespace (by nsfs inode), with the addresses its interfaces carry (read with
// getifaddrs inside it; setns affects only the calling thread, which returns).

#include <string>
#include <vector>

#include "agent/running_pods.h"
#include "common/result.h"

namespace warren::agent {

struct NetnsScanOptions {
  std::string procRoot = "/proc";
  // Where runtimes pin their sandboxes' namespaces (containerd and CRI-O:
  // /var/run/netns/cni-<id>). A pinned path outlives any one process, so it is
  // preferred; else the namespace's oldest process (the sandbox's pause) names it.
  std::vector<std::string> pinDirs = {"/var/run/netns", "/run/netns"};
};

// The agent's own namespace (the node's, as a DaemonSet with hostNetwork) is
// left out; so are loopback and IPv6 link-local addresses. Namespaces that
// cannot be entered are skipped (a process that exited meanwhile).
Result<std::vector<NetnsCandidate>> scanNetworkNamespaces(const NetnsScanOptions& options = {});

}  // namespace warren::agent
