#include "agent/cni/capture_scope.h"

#include <nlohmann/json.hpp>

namespace warren::cni {

std::string formatCaptureScope(const std::set<std::string>& capturingNamespaces) {
  return nlohmann::json{{"capturing_namespaces", capturingNamespaces}}.dump() + "\n";
}

std::optional<std::set<std::string>> parseCaptureScope(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto it = j.find("capturing_namespaces");
  if (it == j.end() || !it->is_array()) return std::nullopt;
  std::set<std::string> out;
  for (const auto& ns : *it) {
    if (!ns.is_string()) return std::nullopt;
    out.insert(ns.get<std::string>());
  }
  return out;
}

WithoutAgent decideWithoutAgent(const std::string& podNamespace, const std::optional<std::set<std::string>>& scope,
                                const std::set<std::string>& alwaysPass) {
  if (alwaysPass.count(podNamespace))
    return {true, "namespace " + podNamespace + " is always passed (the network configuration's alwaysPass)"};
  if (!scope) return {false, "no capture scope from warren-agent: every namespace may be captured"};
  if (scope->count(podNamespace)) return {false, "namespace " + podNamespace + " is captured"};
  return {true, "namespace " + podNamespace + " is not captured (as warren-agent last saw it)"};
}

}  // namespace warren::cni
