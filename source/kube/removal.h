#pragma once
// Is Warren being uninstalled, or only restarted? Both end the node pod with
// SIGTERM. A restart (rolling update, eviction) must leave capture in place, so
// the pods keep failing closed and no connection slips out in plaintext; an
// uninstall must detach every program and un-chain warren-cni, or the node's
// enrolled pods stay cut off and new pods of captured namespaces never start.
// The DaemonSet itself tells them apart: gone (404), or carrying a
// deletionTimestamp, is an uninstall. So is 401/403: `kubectl delete -k` removes
// the ServiceAccount and ClusterRole with it, and a token of a deleted account,
// or an account with no role left, is refused. Anything else (no answer, 5xx)
// is not known, and capture stays: the safe side for a restart.

#include <chrono>
#include <string>

#include "source/kube/kube_config.h"

namespace warren::source::kube {

inline constexpr const char* kRemovalCheckGroup = "apps";
inline constexpr const char* kRemovalCheckResource = "daemonsets";

enum class Removal { Removed, Present, Unknown };

struct RemovalVerdict {
  Removal removal = Removal::Unknown;
  std::string reason;  // for the log: "DaemonSet warren-system/warren-node: not found (404)"
};

// The GET target of a DaemonSet ("/apis/apps/v1/namespaces/NS/daemonsets/NAME").
std::string daemonSetTarget(const std::string& ns, const std::string& name);

// From the answer to that GET (status 0: no answer; `error` says why). Pure.
RemovalVerdict judgeRemoval(const std::string& what, int status, const std::string& body, const std::string& error);

// Asks the API (one GET within `timeout`). `nsSlashName` is "warren-system/warren-node".
RemovalVerdict checkDaemonSetRemoved(const KubeConfig& config, const std::string& nsSlashName,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace warren::source::kube
