#include "source/node_view.h"

#include "source/yaml_source.h"

namespace warren::source {

bool keptOnNode(const Pod& pod, const std::string& nodeName) {
  return nodeName.empty() || pod.nodeName.empty() || pod.nodeName == nodeName;
}

void keepNodeView(Snapshot& s, const std::string& nodeName) {
  std::erase_if(s.pods, [&](const auto& kv) { return !keptOnNode(kv.second, nodeName); });
  s.services.clear();
  s.endpointSlices.clear();
  s.authorizationPolicies.clear();
  s.peerAuthentications.clear();
  s.requestAuthentications.clear();
  s.gateways.clear();
}

Result<Snapshot> loadNodeView(const std::string& dir, const std::string& nodeName) {
  return loadDirectory(dir, [&nodeName](Snapshot& s) { keepNodeView(s, nodeName); });
}

DirectoryReader nodeViewReader(const std::string& dir, const std::string& nodeName) {
  return DirectoryReader(dir, nullptr, [nodeName](const Snapshot& one) {
    if (!one.namespaces.empty()) return true;
    return !one.pods.empty() && keptOnNode(one.pods.begin()->second, nodeName);
  });
}

}  // namespace warren::source
