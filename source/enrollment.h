#pragma once
// Is a pod's traffic captured? A pure decision over the cluster view.

#include <set>
#include <string>

#include "source/cluster_types.h"

namespace warren::source {

inline constexpr const char* kModeLabel = "warren.io/mode";
inline constexpr const char* kModeEnabled = "enabled";
inline constexpr const char* kModeDisabled = "disabled";
inline constexpr const char* kIstioModeLabel = "istio.io/dataplane-mode";
inline constexpr const char* kIstioAmbient = "ambient";
inline constexpr const char* kIstioNone = "none";
// Set on a Gateway's own pods (a waypoint's among them): they speak HBONE
// themselves and are never captured, as istio-cni leaves them alone.
inline constexpr const char* kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

// Set on every captured pod, as istio-cni sets it: istiod sends HBONE to a pod
// only when it carries it.
inline constexpr const char* kRedirectionAnnotation = "ambient.istio.io/redirection";
inline constexpr const char* kRedirectionEnabled = "enabled";

struct EnrollmentDecision {
  // Why, as a value: the audit's capture records name the exemptions by it
  // (agent/capture_coverage.h), the reason says it to people.
  enum class Why { Enrolled, OtherNode, UnknownNamespace, HostNetwork, Gateway, OptedOut, NamespaceNotCapturing };
  bool enrolled = false;
  std::string reason;  // for logs and the CLI: why yes, or why not
  Why why = Why::NamespaceNotCapturing;
};

// ns is nullptr when the pod's namespace is unknown. nodeName empty = any node.
EnrollmentDecision decideEnrollment(const Namespace* ns, const Pod& pod, const std::string& nodeName);

// Whether a namespace's labels enable capture for its pods (which may still opt out).
bool namespaceCaptures(const Namespace& ns);
// The namespaces whose pods may be captured: what warren-cni needs to know to fail
// closed for them, and only them, while the agent is away.
std::set<std::string> capturingNamespaces(const Snapshot& snapshot);

}  // namespace warren::source
