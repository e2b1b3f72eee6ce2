#pragma once
// Every request warren-agent (and warren-tunnel in standalone mode, and warren-waypoint) makes to the
// Kubernetes API, as RBAC rules: the one list the manifests' roles are checked
// against (tests/deploy renders every kustomize overlay and requires each rule
// here to be granted to the pod's account, and nothing that is not here: the
// agent and the tunnel share that account). A new request in source/kube/ adds
// its entry here, or the deploy test fails.

#include <string>
#include <vector>

namespace warren::source::kube {

struct ApiPermission {
  std::string apiGroup;  // "" for core, "apps", "security.istio.io"
  std::string resource;  // plural: "pods"
  std::vector<std::string> verbs;
  std::string usedFor;  // why, for the test's failure message
};

std::vector<ApiPermission> agentPermissions();
// warren-tunnel --kube: list and watch of every standalone resource.
std::vector<ApiPermission> tunnelPermissions();
// warren-waypoint --kube: the same (its own account, its own role: daemonset/waypoint).
std::vector<ApiPermission> waypointPermissions();

// "v1" -> "", "apps/v1" -> "apps".
std::string apiGroupOf(const std::string& apiVersion);

}  // namespace warren::source::kube
