#include "source/kube/removal.h"

#include <nlohmann/json.hpp>

#include "source/kube/api_client.h"
#include "source/kube/resources.h"

namespace warren::source::kube {

std::string daemonSetTarget(const std::string& ns, const std::string& name) {
  return "/apis/apps/v1/namespaces/" + queryEscape(ns) + "/daemonsets/" + queryEscape(name);
}

RemovalVerdict judgeRemoval(const std::string& what, int status, const std::string& body, const std::string& error) {
  const std::string code = " (" + std::to_string(status) + ")";
  if (status == 0) return {Removal::Unknown, what + ": no answer: " + error};
  if (status == 404) return {Removal::Removed, what + ": not found" + code};
  if (status == 401 || status == 403)
    return {Removal::Removed, what + ": our account or role is gone" + code + ": " + error};
  if (status != 200) return {Removal::Unknown, what + ": answered" + code + ": " + error};
  auto object = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return {Removal::Unknown, what + ": the answer is not a JSON object"};
  const auto& meta = object.value("metadata", nlohmann::json::object());
  if (meta.is_object() && meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null())
    return {Removal::Removed, what + ": being deleted since " + meta["deletionTimestamp"].dump()};
  return {Removal::Present, what + ": still there (a restart or an update)"};
}

RemovalVerdict checkDaemonSetRemoved(const KubeConfig& config, const std::string& nsSlashName,
                                     std::chrono::milliseconds timeout) {
  const std::string what = "DaemonSet " + nsSlashName;
  auto slash = nsSlashName.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == nsSlashName.size())
    return {Removal::Unknown, what + ": not NAMESPACE/NAME"};
  ApiClient client(config, /*cancelFd=*/-1, timeout);
  auto answer = client.get(daemonSetTarget(nsSlashName.substr(0, slash), nsSlashName.substr(slash + 1)), timeout);
  if (!answer) return judgeRemoval(what, 0, "", answer.error().message);
  return judgeRemoval(what, answer->status, answer->body, answer->status == 200 ? "" : answer->message());
}

}  // namespace warren::source::kube
