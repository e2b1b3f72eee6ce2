#include "source/enrollment.h"

namespace warren::source {

namespace {
std::string labelValue(const std::map<std::string, std::string>& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}
}  // namespace

EnrollmentDecision decideEnrollment(const Namespace* ns, const Pod& pod, const std::string& nodeName) {
  using Why = EnrollmentDecision::Why;
  const std::string who = "pod " + pod.ns + "/" + pod.name;
  if (!nodeName.empty() && !pod.nodeName.empty() && pod.nodeName != nodeName)
    return {false, who + " runs on node " + pod.nodeName + ", not " + nodeName, Why::OtherNode};
  if (!ns) return {false, who + ": namespace " + pod.ns + " is unknown", Why::UnknownNamespace};
  // As istio-cni: a host-network pod's namespace is the node's; capturing it
  // would capture the node.
  if (pod.hostNetwork) return {false, who + " uses the host network (spec.hostNetwork)", Why::HostNetwork};

  if (!labelValue(pod.labels, kGatewayNameLabel).empty())
    return {false,
            who + " is a gateway's (" + std::string(kGatewayNameLabel) + "=" +
                labelValue(pod.labels, kGatewayNameLabel) + "): it carries HBONE itself",
            Why::Gateway};

  // Pod opt-out wins over the namespace, as Istio's dataplane-mode=none does.
  if (labelValue(pod.labels, kModeLabel) == kModeDisabled)
    return {false, who + " opts out with " + std::string(kModeLabel) + "=" + kModeDisabled, Why::OptedOut};
  if (labelValue(pod.labels, kIstioModeLabel) == kIstioNone)
    return {false, who + " opts out with " + std::string(kIstioModeLabel) + "=" + kIstioNone, Why::OptedOut};

  const std::string mode = labelValue(ns->labels, kModeLabel);
  if (mode == kModeEnabled)
    return {true, "namespace " + ns->name + " has " + kModeLabel + "=" + kModeEnabled, Why::Enrolled};
  if (mode == kModeDisabled)
    return {false, "namespace " + ns->name + " has " + kModeLabel + "=" + kModeDisabled, Why::NamespaceNotCapturing};
  if (labelValue(ns->labels, kIstioModeLabel) == kIstioAmbient)
    return {true, "namespace " + ns->name + " has " + kIstioModeLabel + "=" + kIstioAmbient, Why::Enrolled};
  return {false, "namespace " + ns->name + " is not enabled (label it " + kModeLabel + "=" + kModeEnabled + ")",
          Why::NamespaceNotCapturing};
}

bool namespaceCaptures(const Namespace& ns) {
  const std::string mode = labelValue(ns.labels, kModeLabel);
  if (mode == kModeEnabled) return true;
  if (mode == kModeDisabled) return false;
  return labelValue(ns.labels, kIstioModeLabel) == kIstioAmbient;
}

std::set<std::string> capturingNamespaces(const Snapshot& snapshot) {
  std::set<std::string> out;
  for (const auto& [name, ns] : snapshot.namespaces)
    if (namespaceCaptures(ns)) out.insert(name);
  return out;
}

}  // namespace warren::source
