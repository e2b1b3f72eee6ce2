#pragma once
// What warren-cni decides when warren-agent cannot be reached. The agent keeps a
// file of the namespaces whose pods may be captured (capture-scope.json beside
// its CNI socket, rewritten whenever the cluster view changes); with it the
// plugin fails closed only for those, so a node whose agent is down or
// restarting still starts the pods of every other namespace (kube-system's
// among them, which may be what brings the agent back).
//
// Without the file (the agent never ran here), every pod is refused but those of
// the namespaces the network configuration always passes (kube-system by
// default). A namespace enabled while the agent is away is not in the file until
// it returns: its pods start uncaptured meanwhile, and the agent enrolls them
// when it is back (they are then captured from their next connection).

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace warren::cni {

inline constexpr std::string_view kCaptureScopeFile = "capture-scope.json";

// {"capturing_namespaces": [...]}; parse returns nullopt for anything else.
std::string formatCaptureScope(const std::set<std::string>& capturingNamespaces);
std::optional<std::set<std::string>> parseCaptureScope(std::string_view text);

struct WithoutAgent {
  bool passThrough = false;  // false: fail the ADD with "try again later"
  std::string reason;
};
// `scope`: the file's namespaces, nullopt when it is missing or unreadable.
WithoutAgent decideWithoutAgent(const std::string& podNamespace, const std::optional<std::set<std::string>>& scope,
                                const std::set<std::string>& alwaysPass);

}  // namespace warren::cni
