#include "source/kube/permissions.h"

#include "source/kube/removal.h"
#include "source/kube/resources.h"

namespace warren::source::kube {

std::string apiGroupOf(const std::string& apiVersion) {
  auto slash = apiVersion.find('/');
  return slash == std::string::npos ? "" : apiVersion.substr(0, slash);
}

std::vector<ApiPermission> agentPermissions() {
  std::vector<ApiPermission> out;
  // KubeSource's reflectors: list, then watch from the list's resourceVersion.
  for (const auto& r : agentResources())
    out.push_back({apiGroupOf(r.apiVersion), r.name, {"list", "watch"}, "KubeSource lists and watches " + r.name});
  // pod_api: at CNI ADD, a pod (and its namespace) the watch has not delivered
  // yet; and the redirection annotation on the pods the agent captures.
  out.push_back({"", "pods", {"get"}, "a CNI ADD reads a pod the watch has not delivered (fetchPod)"});
  out.push_back({"", "namespaces", {"get"}, "a CNI ADD reads a namespace the watch has not delivered (fetchPod)"});
  out.push_back(
      {"", "pods", {"patch"}, "the ambient.istio.io/redirection annotation on captured pods (setRedirection)"});
  out.push_back({"",
                 "pods",
                 {"list", "patch"},
                 "--uninstall (and --uninstall-when-removed) remove the annotation from this node's pods "
                 "(removeRedirections)"});
  out.push_back({kRemovalCheckGroup,
                 kRemovalCheckResource,
                 {"get"},
                 "--uninstall-when-removed / --check-removed read the agent's own DaemonSet"});
  return out;
}

namespace {
// The state feed's KubeSource (state/feed): list and watch of every standalone resource.
std::vector<ApiPermission> stateFeedPermissions(const std::string& binary) {
  std::vector<ApiPermission> out;
  for (const auto& r : standaloneResources())
    out.push_back(
        {apiGroupOf(r.apiVersion), r.name, {"list", "watch"}, binary + " --kube lists and watches " + r.name});
  return out;
}
}  // namespace

std::vector<ApiPermission> tunnelPermissions() { return stateFeedPermissions("warren-tunnel"); }

std::vector<ApiPermission> waypointPermissions() { return stateFeedPermissions("warren-waypoint"); }

}  // namespace warren::source::kube
