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
  out.push_back({kRemovalCheckGroup, kRemovalCheckResource, {"get"},
                 "--uninstall-when-removed / --check-removed read the agent's own DaemonSet"});
  return out;
}

}  // namespace warren::source::kube
